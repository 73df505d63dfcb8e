//! Lifecycle of the whatsapp-rust gateway without any WhatsApp server: the crate's injectable transport
//! stands in for the network, and a transport factory we control records every connection attempt.
//!
//! What can be checked offline is the client's lifecycle, not the protocol: reconnect backoff, stop and
//! abort, the watchdog's rebuild, logout's wipe, a real `start` on a machine with no network, and what an
//! ingress node tells the shop while WhatsApp cannot be reached.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures::StreamExt;
use ingress::gateway::{Connection, GatewayError, GatewayEvent, StartOptions, WhatsAppGateway};
use ingress::whatsapp::PgSessionStore;
use ingress::whatsapp::{Network, SessionBackend, WaConfig, WhatsAppRustGateway, start_session};
use ingress::{IngressConfig, IngressNode, status};
use schemas::Subjects;
use schemas::whatsapp::{WaCommand, WaCommandReply, WaEvent, WaStatus};
use sqlx::PgPool;
use store::crypto::MasterKey;
use store::media::MediaConfig;
use tokio::sync::mpsc;
use uuid::Uuid;
use whatsapp_rust::anyhow;
use whatsapp_rust::async_channel;
use whatsapp_rust::async_trait;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::client::Client;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse};
use whatsapp_rust::transport::{Transport, TransportEvent, TransportFactory};
use whatsapp_rust::wacore::store::InMemoryBackend;
use whatsapp_rust::wacore::store::traits::DeviceStore;

/// What the fake network does with a connection attempt.
#[derive(Clone, Copy)]
enum Behaviour {
    /// The socket opens, then closes before the server's hello: the handshake fails at once.
    ClosesAfterConnect,
    /// The connect never completes (a black-holed network): the client is stuck connecting.
    Hangs,
    /// The connect fails at once, as with no internet access (DNS or TCP refused).
    Refuses,
}

/// A transport factory that records when each attempt is made.
#[derive(Clone)]
struct FakeNetwork {
    behaviour: Behaviour,
    attempts: Arc<Mutex<Vec<Instant>>>,
}

impl FakeNetwork {
    fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            attempts: Arc::default(),
        }
    }

    fn attempts(&self) -> Vec<Instant> {
        self.attempts.lock().expect("attempts lock").clone()
    }

    fn network(&self) -> Network {
        Network::new(Arc::new(self.clone()), Arc::new(NoHttp))
    }

    /// Waits until nothing but the test holds this network any more: from then on, no connection attempt
    /// can be made through it.
    async fn wait_released(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while Arc::strong_count(&self.attempts) > 1 {
            assert!(
                Instant::now() < deadline,
                "the network is still held after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn wait_for_attempts(&self, n: usize, within: Duration) -> Vec<Instant> {
        let deadline = Instant::now() + within;
        loop {
            let attempts = self.attempts();
            if attempts.len() >= n {
                return attempts;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} connection attempts within {within:?}",
                attempts.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

struct SilentTransport;

#[async_trait]
impl Transport for SilentTransport {
    async fn send(&self, _data: Bytes) -> anyhow::Result<()> {
        Ok(())
    }

    async fn disconnect(&self) {}
}

#[async_trait]
impl TransportFactory for FakeNetwork {
    async fn create_transport(
        &self,
    ) -> anyhow::Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>)> {
        self.attempts
            .lock()
            .expect("attempts lock")
            .push(Instant::now());
        match self.behaviour {
            Behaviour::ClosesAfterConnect => {
                let (tx, rx) = async_channel::bounded(4);
                tx.send(TransportEvent::Connected).await?;
                drop(tx);
                Ok((Arc::new(SilentTransport), rx))
            }
            Behaviour::Hangs => std::future::pending().await,
            Behaviour::Refuses => {
                anyhow::bail!(
                    "failed to lookup address information: Temporary failure in name resolution"
                )
            }
        }
    }
}

/// Refuses every request: with the version pinned, nothing should ask.
struct NoHttp;

#[async_trait]
impl HttpClient for NoHttp {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        anyhow::bail!(
            "offline test: refused HTTP {} {}",
            request.method,
            request.url
        )
    }
}

fn offline_config() -> WaConfig {
    WaConfig {
        // Skips the version fetch over HTTP.
        version: Some((2, 3000, 1_023_000_000)),
        shutdown_timeout: Duration::from_secs(1),
        ..WaConfig::default()
    }
}

async fn start_in_memory(
    fake: &FakeNetwork,
) -> (
    ingress::whatsapp::WaConnection,
    mpsc::Receiver<GatewayEvent>,
) {
    start_session(
        &offline_config(),
        &fake.network(),
        Uuid::new_v4(),
        StartOptions::default(),
        SessionBackend::Other(Arc::new(InMemoryBackend::new())),
    )
    .await
    .expect("start a session")
}

/// Waits for the first event matching `pred`, failing the test after `within`.
async fn wait_for(
    events: &mut mpsc::Receiver<GatewayEvent>,
    within: Duration,
    pred: impl Fn(&GatewayEvent) -> bool,
) -> GatewayEvent {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) if pred(&event) => return event,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the event channel closed while waiting"),
            Err(_) => panic!("no matching event within {within:?}"),
        }
    }
}

/// Drains the channel and asserts it closes (the supervisor, and with it the client, is gone).
async fn assert_closes(events: &mut mpsc::Receiver<GatewayEvent>, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(_) => panic!("the event channel is still open after {within:?}"),
        }
    }
}

/// Asserts the client is freed: no task of it (run loop, keepalive, saver…) still holds it.
async fn assert_freed(client: &Weak<Client>, within: Duration) {
    testkit::eventually(within, "the client is freed", || async {
        client.strong_count() == 0
    })
    .await;
}

#[tokio::test]
async fn reconnect_attempts_back_off_like_whatsapp_web() {
    // Arrange: every attempt fails during the handshake.
    let fake = FakeNetwork::new(Behaviour::ClosesAfterConnect);

    // Act
    let (connection, mut events) = start_in_memory(&fake).await;
    let attempts = fake.wait_for_attempts(4, Duration::from_secs(10)).await;

    // Assert: Fibonacci delays of 1 s, 1 s, 2 s (±10 % jitter), never a busy loop.
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    let minimums = [800, 800, 1700];
    for (i, (gap, minimum)) in gaps.iter().zip(minimums).enumerate() {
        assert!(
            *gap >= Duration::from_millis(minimum) && *gap < Duration::from_millis(minimum * 2),
            "gap {i} before attempt {} was {gap:?}",
            i + 2
        );
    }
    wait_for(&mut events, Duration::from_secs(1), |e| {
        matches!(e, GatewayEvent::Connecting)
    })
    .await;

    let client = Arc::downgrade(&connection.client().expect("client"));
    let started = Instant::now();
    connection.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown interrupts the backoff"
    );
    assert_closes(&mut events, Duration::from_secs(1)).await;
    assert_freed(&client, Duration::from_secs(2)).await;
    let after_shutdown = fake.attempts().len();
    fake.wait_released(Duration::from_secs(2)).await;
    assert_eq!(
        fake.attempts().len(),
        after_shutdown,
        "no attempt after shutdown"
    );
}

#[tokio::test]
async fn dropping_the_connection_aborts_the_client() {
    // Arrange
    let fake = FakeNetwork::new(Behaviour::ClosesAfterConnect);
    let (connection, mut events) = start_in_memory(&fake).await;
    fake.wait_for_attempts(1, Duration::from_secs(5)).await;
    let client = Arc::downgrade(&connection.client().expect("client"));

    // Act
    drop(connection);

    // Assert: the channel closes and the client with its reconnect loop is gone.
    assert_closes(&mut events, Duration::from_secs(1)).await;
    assert_freed(&client, Duration::from_secs(2)).await;
    let after_drop = fake.attempts().len();
    fake.wait_released(Duration::from_secs(2)).await;
    assert_eq!(fake.attempts().len(), after_drop, "no attempt after drop");
}

#[tokio::test]
async fn sends_while_offline_fail_fast_and_are_classified() {
    // Arrange
    let fake = FakeNetwork::new(Behaviour::Hangs);
    let (connection, _events) = start_in_memory(&fake).await;

    // Act
    let send = connection
        .send_text("2250700000001@s.whatsapp.net", "Bonjour")
        .await;
    let typing = connection
        .typing("2250700000001@s.whatsapp.net", true)
        .await;
    let bad_recipient = connection.send_text("nobody", "Bonjour").await;

    // Assert
    assert!(
        matches!(send, Err(GatewayError::NotConnected(_))),
        "send: {send:?}"
    );
    assert!(
        matches!(typing, Err(GatewayError::NotConnected(_))),
        "typing: {typing:?}"
    );
    assert!(
        matches!(bad_recipient, Err(GatewayError::Permanent(_))),
        "bad recipient: {bad_recipient:?}"
    );
    connection.shutdown().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn watchdog_rebuild_replaces_a_client_stuck_connecting(pool: PgPool) {
    // Arrange: the first client never gets past its connect attempt.
    let tenant_id = testkit::db::create_tenant(&pool).await;
    let db = testkit::db::app_db(&pool).await;
    let master = MasterKey::generate();
    let stuck = FakeNetwork::new(Behaviour::Hangs);
    let gateway = WhatsAppRustGateway::new(db.clone(), master.clone(), offline_config())
        .with_network(stuck.network());
    let (connection, mut events) = gateway
        .start(tenant_id, StartOptions::default())
        .await
        .expect("first start");
    wait_for(&mut events, Duration::from_secs(5), |e| {
        matches!(e, GatewayEvent::Connecting)
    })
    .await;
    let no_progress = tokio::time::timeout(Duration::from_millis(1500), events.recv()).await;
    assert!(
        no_progress.is_err(),
        "stuck: nothing after Connecting, got {no_progress:?}"
    );

    // Act: the watchdog stops the stuck client and starts a new one.
    let started = Instant::now();
    connection.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a stuck connect is aborted after the shutdown timeout, took {:?}",
        started.elapsed()
    );
    assert_closes(&mut events, Duration::from_secs(1)).await;
    let store = PgSessionStore::open(&db, &master, tenant_id)
        .await
        .expect("open store");
    let first_device = store
        .load()
        .await
        .expect("load device")
        .expect("the first client saved its device");

    let healthy = FakeNetwork::new(Behaviour::ClosesAfterConnect);
    let gateway = gateway.with_network(healthy.network());
    let (connection, mut events) = gateway
        .start(tenant_id, StartOptions::default())
        .await
        .expect("second start");

    // Assert: a fresh client runs its own reconnect loop on the same stored identity.
    wait_for(&mut events, Duration::from_secs(5), |e| {
        matches!(e, GatewayEvent::Connecting)
    })
    .await;
    healthy.wait_for_attempts(2, Duration::from_secs(5)).await;
    assert_eq!(
        stuck.attempts().len(),
        1,
        "the stuck client made no more attempts"
    );
    connection.shutdown().await;
    assert_closes(&mut events, Duration::from_secs(1)).await;
    let second_device = store
        .load()
        .await
        .expect("load device")
        .expect("device kept");
    assert_eq!(
        first_device.registration_id, second_device.registration_id,
        "the rebuilt client resumed the stored session instead of creating a new identity"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn logout_wipes_the_stored_session_and_ends_the_connection(pool: PgPool) {
    // Arrange
    let tenant_id = testkit::db::create_tenant(&pool).await;
    let db = testkit::db::app_db(&pool).await;
    let master = MasterKey::generate();
    let fake = FakeNetwork::new(Behaviour::ClosesAfterConnect);
    let gateway = WhatsAppRustGateway::new(db.clone(), master.clone(), offline_config())
        .with_network(fake.network());
    let (connection, mut events) = gateway
        .start(tenant_id, StartOptions::default())
        .await
        .expect("start");
    fake.wait_for_attempts(1, Duration::from_secs(5)).await;
    let store = PgSessionStore::open(&db, &master, tenant_id)
        .await
        .expect("open store");
    assert!(store.exists().await.expect("exists"), "device stored");

    // Act
    connection.logout().await.expect("logout");

    // Assert
    let event = wait_for(&mut events, Duration::from_secs(3), |e| {
        matches!(e, GatewayEvent::LoggedOut { .. })
    })
    .await;
    assert_eq!(
        event,
        GatewayEvent::LoggedOut {
            reason: "logged_out".into()
        }
    );
    assert_closes(&mut events, Duration::from_secs(1)).await;
    assert!(
        !store.exists().await.expect("exists"),
        "the session is wiped"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_real_start_without_network_retries_with_backoff_and_stops_promptly(pool: PgPool) {
    // Arrange: the production transport and HTTP client, on a machine with no route to WhatsApp.
    let tenant_id = testkit::db::create_tenant(&pool).await;
    let db = testkit::db::app_db(&pool).await;
    let config = WaConfig {
        shutdown_timeout: Duration::from_secs(2),
        ..WaConfig::default()
    };
    let gateway = WhatsAppRustGateway::new(db, MasterKey::generate(), config);
    assert_eq!(gateway.name(), "whatsapp-rust");

    // Act
    let (connection, mut events) = gateway
        .start(tenant_id, StartOptions::default())
        .await
        .expect("start");

    // Assert: attempt, failure, and a second attempt only after the backoff.
    wait_for(&mut events, Duration::from_secs(5), |e| {
        matches!(e, GatewayEvent::Connecting)
    })
    .await;
    let first = Instant::now();
    let failure = wait_for(&mut events, Duration::from_secs(5), |e| {
        matches!(e, GatewayEvent::Unreachable { .. })
    })
    .await;
    let GatewayEvent::Unreachable { reason } = failure else {
        unreachable!()
    };
    assert!(reason.starts_with("connect failed"), "{reason}");
    wait_for(&mut events, Duration::from_secs(5), |e| {
        matches!(e, GatewayEvent::Connecting)
    })
    .await;
    assert!(
        first.elapsed() >= Duration::from_millis(800),
        "the retry waited for the backoff, not {:?}",
        first.elapsed()
    );

    let started = Instant::now();
    connection.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert_closes(&mut events, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_attempt_that_cannot_reach_whatsapp_is_reported_as_unreachable_not_as_a_lost_connection()
{
    // Arrange: no internet access.
    let fake = FakeNetwork::new(Behaviour::Refuses);

    // Act
    let (connection, mut events) = start_in_memory(&fake).await;

    // Assert: the attempt, then one `Unreachable` (what the ingress turns into a plain "no internet?"),
    // and never a `Disconnected`, which would read as "connection lost" to the shop.
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|e| matches!(e, GatewayEvent::Unreachable { .. }))
    {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(event)) => seen.push(event),
            other => panic!("no Unreachable event; got {seen:?}, then {other:?}"),
        }
    }
    assert_eq!(seen[0], GatewayEvent::Connecting, "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, GatewayEvent::Disconnected { .. })),
        "{seen:?}"
    );
    connection.shutdown().await;
}

/// An ingress node with the whatsapp-rust gateway on `network`, over the test database and a NATS
/// namespace of its own (its streams are deleted on drop).
struct OfflineNode {
    nats: async_nats::Client,
    subjects: Subjects,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl OfflineNode {
    async fn start(pool: &PgPool, network: Network, config: IngressConfig) -> Self {
        let db = testkit::db::app_db(pool).await;
        let nats = async_nats::connect(
            std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        )
        .await
        .expect("local NATS is running");
        let subjects =
            Subjects::with_prefix(&format!("t{}", Uuid::new_v4().simple())).expect("prefix");
        tdj_nats::provision(&nats, &subjects, &testkit::nats::TEST_STREAMS)
            .await
            .expect("provision NATS");
        let master = MasterKey::generate();
        let gateway = WhatsAppRustGateway::new(db.clone(), master.clone(), offline_config())
            .with_network(network);
        let node = IngressNode::new(
            db,
            nats.clone(),
            subjects.clone(),
            Arc::new(gateway),
            config,
            master,
            MediaConfig::default(),
        )
        .await
        .expect("ingress node");
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            node.run(stopped).await.expect("ingress node runs");
        });
        Self {
            nats,
            subjects,
            stop,
            task,
        }
    }

    async fn command(&self, tenant_id: Uuid, command: &WaCommand) -> WaCommandReply {
        let reply = tokio::time::timeout(
            Duration::from_secs(15),
            self.nats.request(
                self.subjects.wa_command(tenant_id),
                serde_json::to_vec(command).expect("json").into(),
            ),
        )
        .await
        .expect("answered in time")
        .expect("command request");
        serde_json::from_slice(&reply.payload).expect("command reply")
    }

    async fn stop(mut self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut self.task).await;
        let js = async_nats::jetstream::new(self.nats.clone());
        for stream in [
            self.subjects.inbound_stream(),
            self.subjects.outbound_stream(),
            self.subjects.events_stream(),
            format!("KV_{}", self.subjects.lease_bucket()),
        ] {
            let _ = js.delete_stream(&stream).await;
        }
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn without_internet_the_shop_reads_one_plain_status_while_retries_back_off(pool: PgPool) {
    // Arrange: a node whose every connection attempt fails as with no internet access.
    let tenant_id = testkit::db::create_tenant(&pool).await;
    let fake = FakeNetwork::new(Behaviour::Refuses);
    let config = IngressConfig {
        reconnect_backoff_min: Duration::from_millis(200),
        reconnect_backoff_max: Duration::from_millis(800),
        ..IngressConfig::for_tests()
    };
    let node = OfflineNode::start(&pool, fake.network(), config).await;
    let mut events = node
        .nats
        .subscribe(node.subjects.wa_events(tenant_id))
        .await
        .expect("subscribe");
    node.nats.flush().await.expect("flush");

    // Act
    let reply = node
        .command(
            tenant_id,
            &WaCommand::Connect {
                pairing_phone: None,
            },
        )
        .await;
    assert!(reply.accepted, "{}", reply.message);
    let mut details = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, events.next()).await {
        if let WaEvent::Status { status, detail, .. } =
            serde_json::from_slice(&message.payload).expect("event")
        {
            details.push((status, detail));
        }
    }

    // Assert: once WhatsApp proved unreachable, the status stays "connecting" with the plain French
    // explanation (only the announced delay grows), instead of alternating with every attempt.
    let offline = details
        .iter()
        .position(|(_, detail)| detail.starts_with("Impossible de joindre WhatsApp"))
        .unwrap_or_else(|| panic!("no offline explanation among {details:?}"));
    assert_eq!(
        details[offline].1,
        status::unreachable(Duration::from_millis(200)),
        "the first retry is announced with its delay"
    );
    for (state, detail) in &details[offline..] {
        assert_eq!(*state, WaStatus::Connecting, "{details:?}");
        assert!(
            detail.starts_with(
                "Impossible de joindre WhatsApp (pas d'accès à internet ?). Nouvel essai dans "
            ),
            "the status does not flicker back: {details:?}"
        );
    }
    assert_eq!(
        details.len(),
        offline + 1,
        "one status while offline (every delay here rounds to 1 s): {details:?}"
    );
    let stored: (String, String) =
        sqlx::query_as("select status, status_detail from whatsapp_session where tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&pool)
            .await
            .expect("session row");
    assert_eq!(stored.0, "connecting");
    assert!(
        stored.1.starts_with("Impossible de joindre WhatsApp"),
        "{}",
        stored.1
    );

    // Assert: the retries go on, further and further apart, up to the configured maximum.
    let attempts = fake.attempts();
    assert!(attempts.len() >= 4, "{} attempts", attempts.len());
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, minimum) in [200u64, 400, 800].into_iter().enumerate() {
        assert!(
            gaps[i] >= Duration::from_millis(minimum),
            "gap {i} was {:?} (gaps {gaps:?})",
            gaps[i]
        );
    }
    node.stop().await;
}

/// Manual smoke test against the real WhatsApp servers (needs network, a phone and a human):
///
/// `WA_SMOKE_PAIR_PHONE=2250700000001 WA_SMOKE_TO=2250700000002 cargo test -p tdjaasa-ingress --test
/// whatsapp_lifecycle -- --ignored --nocapture real_whatsapp_smoke`
///
/// With `WA_SMOKE_PAIR_PHONE` it prints an 8-character code to type in WhatsApp > Linked devices > Link with
/// phone number; without it, it prints the QR payload (render it with `qrencode -t ansiutf8 '<payload>'`).
/// Once connected it sends one text to `WA_SMOKE_TO` (if set), waits up to two minutes for an incoming
/// message, then logs out, which unlinks the device and wipes the throwaway session.
#[sqlx::test(migrator = "store::MIGRATOR")]
#[ignore = "needs network, a real WhatsApp account and a human to link it"]
async fn real_whatsapp_smoke(pool: PgPool) {
    let tenant_id = testkit::db::create_tenant(&pool).await;
    let gateway = WhatsAppRustGateway::new(
        testkit::db::app_db(&pool).await,
        MasterKey::generate(),
        WaConfig::default(),
    );
    let options = StartOptions {
        pairing_phone: std::env::var("WA_SMOKE_PAIR_PHONE").ok(),
    };
    let (connection, mut events) = gateway.start(tenant_id, options).await.expect("start");

    let phone = loop {
        let event = tokio::time::timeout(Duration::from_secs(300), events.recv())
            .await
            .expect("linked within 5 minutes")
            .expect("connection ended before linking");
        match event {
            // Printed on purpose: a human has to scan or type it. Never do this outside a manual test.
            GatewayEvent::Qr { code, .. } => println!("QR payload: {code}"),
            GatewayEvent::PairingCode { code, .. } => println!("Pairing code: {code}"),
            GatewayEvent::Connected { phone_number } => break phone_number,
            other => println!("event: {other:?}"),
        }
    };
    println!("connected as {phone}");

    if let Ok(to) = std::env::var("WA_SMOKE_TO") {
        let id = connection
            .send_text(&to, "Tdjaasa smoke test")
            .await
            .expect("send");
        println!("sent message {id}");
    }
    println!("send a message to {phone} within two minutes");
    let received = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(event) = events.recv().await {
            if let GatewayEvent::Message(message, delivery) = event {
                delivery.accept();
                return Some(message);
            }
        }
        None
    })
    .await;
    println!("received: {received:?}");

    connection.logout().await.expect("logout");
}
