//! At least once, from WhatsApp to JetStream (the outage case is `tests/api/ingress_durability.rs`; the
//! renewal cases `lease_renewal.rs`):
//!
//! - a message pending when the lease is lost is never acknowledged, and its resend reaches the next
//!   owner; ignored messages and redeliveries are acknowledged, and stored at most once;
//! - stopping or logging out a whatsapp-rust connection refuses what the session still holds, at once,
//!   instead of stalling the stop behind the durability hook;
//! - what the lease store remembers of other keys shrinks again.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use ingress::gateway::{Connection, GatewayEvent, StartOptions};
use ingress::lease::LeaseStore;
use ingress::names;
use ingress::sandbox::{SandboxAccepted, SandboxInbound};
use ingress::whatsapp::{Network, SessionBackend, WaConfig, start_session};
use ingress::{IngressConfig, IngressNode, SandboxGateway};
use schemas::Subjects;
use sqlx::PgPool;
use store::crypto::MasterKey;
use store::media::MediaConfig;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use whatsapp_rust::anyhow;
use whatsapp_rust::async_channel;
use whatsapp_rust::async_trait;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse};
use whatsapp_rust::transport::{Transport, TransportEvent, TransportFactory};
use whatsapp_rust::types::events::InboundMessage;
use whatsapp_rust::types::message::MessageInfo;
use whatsapp_rust::wacore::store::InMemoryBackend;
use whatsapp_rust::waproto::whatsapp as wa;

const CUSTOMER: &str = "2250701020304@s.whatsapp.net";

// ---------------------------------------------------------------------------------------------------------
// Sandbox: a node, a linked shop, customers writing over NATS.

struct SandboxNode {
    node: IngressNode,
    nats: async_nats::Client,
    subjects: Subjects,
    tenant_id: Uuid,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _namespace: testkit::nats::Namespace,
}

impl SandboxNode {
    /// A node running a shop linked before (the sandbox resumes it connected), ready to receive.
    async fn start(pool: &PgPool) -> Self {
        let tenant_id = testkit::db::create_tenant(pool).await;
        sqlx::query("insert into whatsapp_session (tenant_id, status, phone_number) values ($1, 'connected', '2250700000000')")
            .bind(tenant_id)
            .execute(pool)
            .await
            .expect("session");
        let namespace = testkit::nats::Namespace::new().await;
        let (nats, subjects) = (namespace.client.clone(), namespace.subjects.clone());
        let db = testkit::db::app_db(pool).await;
        let config = IngressConfig::for_tests();
        let gateway = SandboxGateway::new(
            db.clone(),
            nats.clone(),
            subjects.clone(),
            config.sandbox_qr_interval,
            config.sandbox_qr_count,
        );
        let node = IngressNode::new(
            db,
            nats.clone(),
            subjects.clone(),
            Arc::new(gateway),
            config,
            MasterKey::generate(),
            MediaConfig::default(),
        )
        .await
        .expect("ingress node");
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let runner = node.clone();
        let task = tokio::spawn(async move {
            runner.run(stopped).await.expect("ingress node runs");
        });
        let running = Self {
            node,
            nats,
            subjects,
            tenant_id,
            stop,
            task,
            _namespace: namespace,
        };
        // Linked once a message is accepted (a group message: accepted without touching JetStream).
        testkit::eventually(Duration::from_secs(10), "the shop is linked", || async {
            running
                .request(
                    &message("ready", "120363021033254949@g.us", "group"),
                    Duration::from_millis(300),
                )
                .await
                .is_some()
        })
        .await;
        running
    }

    /// Sends `inbound` once as a request; the acceptance, if one comes within `wait`.
    async fn request(&self, inbound: &SandboxInbound, wait: Duration) -> Option<SandboxAccepted> {
        let payload = serde_json::to_vec(inbound).expect("json");
        let subject = names::sandbox_inbound(&self.subjects, self.tenant_id);
        // Not `request`: its own timeout (10 s) is shorter than an outage.
        let inbox = self.nats.new_inbox();
        let mut replies = self.nats.subscribe(inbox.clone()).await.expect("subscribe");
        self.nats
            .publish_with_reply(subject, inbox, payload.into())
            .await
            .expect("publish");
        let reply = tokio::time::timeout(wait, replies.next()).await.ok()??;
        // An empty "no responders" status: nothing listens yet.
        if reply.payload.is_empty() {
            return None;
        }
        Some(serde_json::from_slice(&reply.payload).expect("an acceptance"))
    }

    fn js(&self) -> jetstream::Context {
        jetstream::new(self.nats.clone())
    }

    /// The customer messages JetStream holds, by WhatsApp id.
    async fn stored_ids(&self) -> Vec<String> {
        let Ok(stream) = self.js().get_stream(self.subjects.inbound_stream()).await else {
            return Vec::new();
        };
        let consumer = stream
            .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
            .await
            .expect("ordered consumer");
        let mut ids = Vec::new();
        let mut messages = consumer.messages().await.expect("messages");
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_millis(300), messages.next()).await
        {
            let inbound: schemas::InboundMessage =
                serde_json::from_slice(&message.payload).expect("an inbound message");
            ids.push(inbound.wa_message_id);
        }
        ids
    }

    async fn stop(mut self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut self.task).await;
    }
}

fn message(id: &str, from: &str, kind: &str) -> SandboxInbound {
    SandboxInbound {
        id: Some(id.into()),
        from: from.into(),
        name: "Awa".into(),
        text: Some("Bonjour, le pagne bleu est dispo ?".into()),
        kind: kind.into(),
        ..SandboxInbound::default()
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_message_pending_when_the_lease_is_lost_stays_unacknowledged_and_its_resend_reaches_the_next_owner(
    pool: PgPool,
) {
    // Arrange: JetStream is away, and the node's renewals stall, so its lease runs out (2.2 s).
    let node = SandboxNode::start(&pool).await;
    node.js()
        .delete_stream(node.subjects.inbound_stream())
        .await
        .expect("delete the inbound stream");
    node.node.hold_renewals(true);

    // Act: sent while the lease is lost; then the lease is retaken, JetStream is back, and the phone
    // sends again (same id) until acknowledged.
    let first = node
        .request(
            &message("3EB0FENCE", CUSTOMER, "direct"),
            Duration::from_secs(6),
        )
        .await;
    node.node.hold_renewals(false);
    tdj_nats::provision(&node.nats, &node.subjects, &testkit::nats::TEST_STREAMS)
        .await
        .expect("provision again");
    let resent = testkit::poll::within(Duration::from_secs(20), || async {
        node.request(
            &message("3EB0FENCE", CUSTOMER, "direct"),
            Duration::from_secs(2),
        )
        .await
    })
    .await;

    // Assert
    assert_eq!(first, None, "never acknowledged while it was not stored");
    assert!(
        resent.is_some_and(|a| a.accepted),
        "the resend is acknowledged"
    );
    assert_eq!(node.stored_ids().await, vec!["3EB0FENCE".to_owned()]);
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn ignored_messages_are_acknowledged_and_published_ones_are_stored_once_however_often_sent(
    pool: PgPool,
) {
    // Arrange
    let node = SandboxNode::start(&pool).await;
    let wait = Duration::from_secs(5);

    // Act
    let status = node
        .request(&message("3EB0STATUS", "status@broadcast", "status"), wait)
        .await;
    let first = node
        .request(&message("3EB0TWICE", CUSTOMER, "direct"), wait)
        .await;
    let again = node
        .request(&message("3EB0TWICE", CUSTOMER, "direct"), wait)
        .await;

    // Assert
    assert!(
        status.is_some_and(|a| a.accepted),
        "a status update is acknowledged, not redelivered forever"
    );
    assert!(first.is_some_and(|a| a.accepted));
    assert!(
        again.is_some_and(|a| a.accepted),
        "a redelivery is acknowledged too"
    );
    assert_eq!(
        node.stored_ids().await,
        vec!["3EB0TWICE".to_owned()],
        "stored once (Nats-Msg-Id); the status is not published"
    );
    node.stop().await;
}

// ---------------------------------------------------------------------------------------------------------
// whatsapp-rust: the durability hook, on a client that never reaches WhatsApp.

struct Offline;

#[async_trait]
impl TransportFactory for Offline {
    async fn create_transport(
        &self,
    ) -> anyhow::Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>)> {
        anyhow::bail!("offline test")
    }
}

struct NoHttp;

#[async_trait]
impl HttpClient for NoHttp {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        anyhow::bail!("offline test: refused HTTP {}", request.url)
    }
}

async fn offline_session() -> (
    ingress::whatsapp::WaConnection,
    mpsc::Receiver<GatewayEvent>,
) {
    let config = WaConfig {
        version: Some((2, 3000, 1_023_000_000)),
        shutdown_timeout: Duration::from_secs(1),
        ..WaConfig::default()
    };
    start_session(
        &config,
        &Network::new(Arc::new(Offline), Arc::new(NoHttp)),
        Uuid::new_v4(),
        StartOptions::default(),
        SessionBackend::Other(Arc::new(InMemoryBackend::new())),
    )
    .await
    .expect("start a session")
}

fn wa_message(id: &str, chat: &str) -> InboundMessage {
    let mut info = MessageInfo::default();
    info.source.chat = chat.parse().expect("chat jid");
    info.source.sender = info.source.chat.clone();
    info.id = id.into();
    InboundMessage::builder()
        .message(Arc::new(wa::Message {
            conversation: Some("Bonjour".into()),
            ..Default::default()
        }))
        .info(Arc::new(info))
        .build()
}

/// The next customer message the session reads, skipping the connection's own events.
async fn next_message(
    events: &mut mpsc::Receiver<GatewayEvent>,
) -> (
    ingress::gateway::IncomingMessage,
    ingress::gateway::Delivery,
) {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.recv().await.expect("the connection runs") {
                GatewayEvent::Message(message, delivery) => return (*message, delivery),
                _ => continue,
            }
        }
    })
    .await
    .expect("a message within 5 s")
}

#[tokio::test]
async fn stopping_the_connection_refuses_a_message_the_session_still_holds_at_once() {
    // Arrange: the session holds a message (publishing it, say) when its connection is stopped, as the
    // watchdog or a fence does; the stop waits for the client's receive path, where the hook waits.
    let (connection, mut events) = offline_session().await;
    let batch = [wa_message("3EB0STOP", CUSTOMER)];

    // Act
    let hook = connection.deliver_inbound(&batch);
    let session = async {
        let held = next_message(&mut events).await;
        connection.shutdown().await;
        held
    };
    let (committed, _held) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(hook, session)
    })
    .await
    .expect("the stop is not held up by the pending message");

    // Assert
    assert!(committed.is_err(), "refused: left to WhatsApp's redelivery");
}

#[tokio::test]
async fn logging_out_refuses_a_message_the_session_still_holds_at_once() {
    let (connection, mut events) = offline_session().await;
    let batch = [wa_message("3EB0LOGOUT", CUSTOMER)];

    let hook = connection.deliver_inbound(&batch);
    let session = async {
        let held = next_message(&mut events).await;
        let _ = connection.logout().await;
        held
    };
    let (committed, _held) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(hook, session)
    })
    .await
    .expect("the logout is not held up by the pending message");

    assert!(committed.is_err(), "refused: left to WhatsApp's redelivery");
}

// ---------------------------------------------------------------------------------------------------------
// Leases.

async fn lease_store(
    nats: &async_nats::Client,
    subjects: &Subjects,
    ttl: Duration,
    margin: Duration,
) -> LeaseStore {
    LeaseStore::open(nats, &subjects.lease_bucket(), "node-a".into(), ttl, margin)
        .await
        .expect("lease store")
}

#[tokio::test]
async fn what_the_lease_store_observed_of_departed_nodes_is_forgotten() {
    // Arrange: three other nodes heartbeat once, then leave.
    let namespace = testkit::nats::Namespace::new().await;
    let ttl = Duration::from_millis(300);
    let leases = lease_store(
        &namespace.client,
        &namespace.subjects,
        ttl,
        Duration::from_millis(100),
    )
    .await;
    let kv = namespace.leases().await;
    for node in ["b", "c", "d"] {
        kv.put(format!("node.{node}"), node.into())
            .await
            .expect("heartbeat");
    }
    assert_eq!(leases.live_nodes().await.expect("scan"), 4);
    assert_eq!(leases.observed_keys(), 3);
    for node in ["b", "c", "d"] {
        kv.delete(format!("node.{node}")).await.expect("leave");
    }

    // Act: scans after they left.
    tokio::time::sleep(ttl * 2 + Duration::from_millis(200)).await;
    let live = leases.live_nodes().await.expect("scan");

    // Assert
    assert_eq!(live, 1);
    assert_eq!(
        leases.observed_keys(),
        0,
        "the departed nodes are forgotten"
    );
}
