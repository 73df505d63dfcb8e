//! Fail-over between real ingress processes (`ingress-sandbox-node`, sandbox gateway): `kill -9` of the
//! lease holder moves the tenant within about a TTL; a holder frozen with SIGSTOP past its TTL loses the
//! tenant, and once resumed (SIGCONT) sends nothing. Every reply is sent exactly once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use ingress::names;
use ingress::sandbox::SandboxSent;
use schemas::{OutboundReply, Subjects};
use sqlx::PgPool;
use uuid::Uuid;

const TTL: Duration = Duration::from_secs(3);
const CUSTOMER: &str = "2250709090909@s.whatsapp.net";
/// How long an outbound fetch waits on the server (`expires` in `ingress::outbound`), with some slack.
const OUTBOUND_FETCH_EXPIRY: Duration = Duration::from_millis(5500);

/// Base64 of 32 bytes, the nodes' shared master key.
const TEST_MASTER_KEY: &str = "dGRqYWFzYS10d28tcHJvY2Vzc2VzLXRlc3Qta2V5ISE=";

/// A node process, killed when dropped.
struct NodeProcess {
    id: String,
    child: Child,
}

impl NodeProcess {
    fn spawn(id: &str, database: &str, subjects: &Subjects) -> Self {
        let verbose = std::env::var_os("TEST_LOG").is_some();
        let child = Command::new(env!("CARGO_BIN_EXE_ingress-sandbox-node"))
            .env(
                "DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:5432/{database}"),
            )
            .env(
                "DATABASE_APP_URL",
                format!("postgres://tdjaasa_app@127.0.0.1:5432/{database}"),
            )
            // One key for every process: a shop's media sealed by one node open on the next.
            .env("TDJ_MASTER_KEY", TEST_MASTER_KEY)
            .env("NATS_URL", testkit::nats::nats_url())
            .env("NATS_PREFIX", subjects.prefix())
            .env("INGRESS_NODE_ID", id)
            .env("WHATSAPP_GATEWAY", "sandbox")
            .env("INGRESS_LEASE_TTL", "3s")
            .env("INGRESS_LEASE_MARGIN", "800ms")
            .env("INGRESS_SCAN_INTERVAL", "300ms")
            .env("INGRESS_TYPING_DELAY_MIN", "0ms")
            .env("INGRESS_TYPING_DELAY_MAX", "0ms")
            .env("INGRESS_TYPING_PER_CHAR", "0ms")
            .env("INGRESS_SEND_RATE_PER_MINUTE", "600")
            .env("INGRESS_SEND_BURST", "50")
            .env("RUST_LOG", "info,sqlx=warn")
            .stdout(if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start ingress-sandbox-node");
        Self {
            id: id.to_owned(),
            child,
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Env {
    subjects: Subjects,
    nats: async_nats::Client,
    kv: jetstream::kv::Store,
    tenant_id: Uuid,
    database: String,
}

impl Env {
    async fn new(pool: &PgPool) -> Self {
        let database = pool
            .connect_options()
            .get_database()
            .expect("test database name")
            .to_owned();
        let tenant_id = Uuid::new_v4();
        sqlx::query("insert into tenant (tenant_id, name, slug, plan_code) values ($1, 'Boutique', $2, 'starter')")
            .bind(tenant_id)
            .bind(format!("shop-{}", tenant_id.simple()))
            .execute(pool)
            .await
            .expect("tenant");
        // Linked before: the sandbox resumes it connected on whichever node takes it.
        sqlx::query("insert into whatsapp_session (tenant_id, status, phone_number) values ($1, 'connected', '2250700000000')")
            .bind(tenant_id)
            .execute(pool)
            .await
            .expect("session");
        let subjects =
            Subjects::with_prefix(&format!("p{}", Uuid::new_v4().simple())).expect("prefix");
        let nats = async_nats::connect(testkit::nats::nats_url())
            .await
            .expect("NATS");
        tdj_nats::provision(&nats, &subjects, &testkit::nats::TEST_STREAMS)
            .await
            .expect("provision");
        let kv = jetstream::new(nats.clone())
            .get_key_value(subjects.lease_bucket())
            .await
            .expect("lease bucket");
        Self {
            subjects,
            nats,
            kv,
            tenant_id,
            database,
        }
    }

    fn spawn(&self, id: &str) -> NodeProcess {
        NodeProcess::spawn(id, &self.database, &self.subjects)
    }

    async fn holder(&self) -> Option<String> {
        match self
            .kv
            .entry(self.tenant_id.to_string())
            .await
            .ok()
            .flatten()
        {
            Some(entry) if entry.operation == jetstream::kv::Operation::Put => {
                Some(String::from_utf8_lossy(&entry.value).into_owned())
            }
            _ => None,
        }
    }

    /// Waits until `node` has heartbeated `beats` times as seen from here (distinct revisions of its key). A
    /// node heartbeats at the start of each scan, so two beats mean it finished a whole scan in between.
    async fn wait_for_heartbeats(&self, node: &str, beats: usize, limit: Duration) {
        let key = format!("node.{node}");
        let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
        let done = testkit::poll::within(limit, || async {
            if let Ok(Some(entry)) = self.kv.entry(key.clone()).await
                && entry.operation == jetstream::kv::Operation::Put
            {
                seen.lock().expect("lock").insert(entry.revision);
            }
            seen.lock().expect("lock").len() >= beats
        })
        .await;
        assert!(
            done.is_some(),
            "{node} heartbeated {} of {beats} times within {limit:?}",
            seen.lock().expect("lock").len()
        );
    }

    /// Waits until `node` holds the tenant; returns how long it took.
    async fn wait_for_holder(&self, node: &str, limit: Duration) -> Duration {
        let started = Instant::now();
        let held = testkit::poll::within(limit, || async {
            self.holder().await.as_deref() == Some(node)
        })
        .await;
        if held.is_none() {
            panic!(
                "{node} did not take the lease within {limit:?} (holder: {:?})",
                self.holder().await
            );
        }
        started.elapsed()
    }

    async fn publish_reply(&self, text: &str) -> OutboundReply {
        let reply = OutboundReply {
            tenant_id: self.tenant_id,
            chat_id: Uuid::new_v4(),
            customer_jid: CUSTOMER.into(),
            text: text.into(),
            outbound_id: format!("out-{}", Uuid::new_v4().simple()),
            in_reply_to: Vec::new(),
            created_at: chrono::Utc::now(),
            received_at: None,
            image: None,
        };
        let js = jetstream::new(self.nats.clone());
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", reply.outbound_id.as_str());
        js.publish_with_headers(
            self.subjects.outbound(self.tenant_id),
            headers,
            serde_json::to_vec(&reply).expect("json").into(),
        )
        .await
        .expect("publish")
        .await
        .expect("stored");
        reply
    }

    async fn cleanup(&self) {
        let js = jetstream::new(self.nats.clone());
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

async fn sent_within(sub: &mut async_nats::Subscriber, wait: Duration) -> Vec<SandboxSent> {
    let mut sent = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, sub.next()).await {
        sent.push(serde_json::from_slice(&message.payload).expect("sent json"));
    }
    sent
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn killed_and_frozen_holders_hand_over_without_double_sends(pool: PgPool) {
    // Arrange: node A holds the tenant, B waits next to it.
    let env = Env::new(&pool).await;
    let mut sent = env
        .nats
        .subscribe(names::sandbox_sent(&env.subjects, env.tenant_id))
        .await
        .expect("sent box");
    let mut a = env.spawn("node-a");
    env.wait_for_holder(&a.id, Duration::from_secs(15)).await;
    let b = env.spawn("node-b");
    // A whole scan by B, with A's lease held all along.
    env.wait_for_heartbeats(&b.id, 2, Duration::from_secs(15))
        .await;
    assert_eq!(
        env.holder().await.as_deref(),
        Some("node-a"),
        "B leaves a live holder alone"
    );
    let first = env.publish_reply("Bonjour, bienvenue !").await;
    let out = sent_within(&mut sent, Duration::from_secs(3)).await;
    assert_eq!(out.len(), 1, "A sends the first reply once: {out:?}");
    assert_eq!(out[0].text, first.text);

    // Act 1: kill -9 the holder.
    a.kill_9();
    let took = env.wait_for_holder(&b.id, TTL * 4).await;

    // Assert 1: B within about a TTL (plus scans), and it sends the next reply once.
    assert!(
        took <= TTL + Duration::from_secs(2),
        "takeover after kill -9 took {took:?}"
    );
    let second = env
        .publish_reply("Oui, la robe rouge est disponible.")
        .await;
    let out = sent_within(&mut sent, Duration::from_secs(4)).await;
    assert_eq!(out.len(), 1, "B sends the second reply once: {out:?}");
    assert_eq!(out[0].text, second.text);

    // Act 2: freeze B past its TTL while C is up.
    let c = env.spawn("node-c");
    env.wait_for_heartbeats(&c.id, 1, Duration::from_secs(15))
        .await;
    let frozen_at = tokio::time::Instant::now();
    b.signal("-STOP");
    env.wait_for_holder(&c.id, TTL * 4).await;
    // The pull request B sent before freezing expires on the server within OUTBOUND_FETCH_EXPIRY, with nothing
    // to observe from here; after that the reply can only go to C.
    tokio::time::sleep_until(frozen_at + OUTBOUND_FETCH_EXPIRY).await;
    let third = env.publish_reply("Livraison demain à Abobo.").await;
    let out = sent_within(&mut sent, Duration::from_secs(4)).await;
    assert_eq!(out.len(), 1, "C sends while B is frozen: {out:?}");
    let c_connection = out[0].connection.clone();
    assert_eq!(out[0].text, third.text);
    b.signal("-CONT");

    // Assert 2: the resumed B sends nothing and C keeps the tenant.
    let fourth = env.publish_reply("Merci pour votre commande !").await;
    let out = sent_within(&mut sent, Duration::from_secs(5)).await;
    assert_eq!(out.len(), 1, "after SIGCONT, one send only: {out:?}");
    assert_eq!(out[0].text, fourth.text);
    assert_eq!(
        out[0].connection, c_connection,
        "sent by C, not the resumed B"
    );
    assert_eq!(env.holder().await.as_deref(), Some("node-c"));

    drop(b);
    drop(c);
    env.cleanup().await;
}
