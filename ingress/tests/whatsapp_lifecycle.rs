//! Lifecycle of the whatsapp-rust gateway without any WhatsApp server: the crate's injectable transport
//! stands in for the network, and a transport factory we control records every connection attempt.
//!
//! What can be checked offline is the client's lifecycle, not the protocol: reconnect backoff, stop and
//! abort, the watchdog's rebuild, logout's wipe, and a real `start` on a machine with no network.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ingress::gateway::{Connection, GatewayError, GatewayEvent, StartOptions, WhatsAppGateway};
use ingress::whatsapp::store::PgSessionStore;
use ingress::whatsapp::{Network, SessionBackend, WaConfig, WhatsAppRustGateway, start_session};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use store::crypto::MasterKey;
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
    let deadline = Instant::now() + within;
    while client.strong_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "the client is still alive after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The app-role pool over the same database as sqlx::test's superuser pool (the superuser bypasses RLS).
async fn app_role_db(pool: &PgPool) -> store::Db {
    let options = (*pool.connect_options())
        .clone()
        .username(store::db::APP_ROLE);
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(options)
        .await
        .expect("connect as tdjaasa_app");
    store::Db::from_pool(pool)
}

async fn create_tenant(pool: &PgPool) -> Uuid {
    let tenant_id = Uuid::new_v4();
    sqlx::query(
        "insert into tenant (tenant_id, name, slug, plan_code) values ($1, $2, $3, 'starter')",
    )
    .bind(tenant_id)
    .bind(format!("Shop {}", tenant_id.simple()))
    .bind(format!("shop-{}", tenant_id.simple()))
    .execute(pool)
    .await
    .expect("insert tenant");
    tenant_id
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
    tokio::time::sleep(Duration::from_millis(2500)).await;
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
    tokio::time::sleep(Duration::from_millis(2500)).await;
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
    let tenant_id = create_tenant(&pool).await;
    let db = app_role_db(&pool).await;
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
    let tenant_id = create_tenant(&pool).await;
    let db = app_role_db(&pool).await;
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
    let tenant_id = create_tenant(&pool).await;
    let db = app_role_db(&pool).await;
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
        matches!(e, GatewayEvent::Disconnected { .. })
    })
    .await;
    let GatewayEvent::Disconnected { reason } = failure else {
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
    let tenant_id = create_tenant(&pool).await;
    let gateway = WhatsAppRustGateway::new(
        app_role_db(&pool).await,
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
            if let GatewayEvent::Message(message) = event {
                return Some(message);
            }
        }
        None
    })
    .await;
    println!("received: {received:?}");

    connection.logout().await.expect("logout");
}
