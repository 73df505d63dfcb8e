//! A NATS namespace per test: a fresh subject prefix, its streams provisioned as the services do at start-up,
//! and deleted when the test is done, so tests share one server without seeing each other's messages.

use async_nats::jetstream;
use schemas::Subjects;
use tdj_nats::StreamLayout;
use uuid::Uuid;

/// The local NATS server (`NATS_URL`, or the default port on loopback).
pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A connection to the local NATS server.
pub async fn connect() -> async_nats::Client {
    async_nats::connect(nats_url())
        .await
        .expect("local NATS is running")
}

/// Small stream limits for tests: JetStream reserves each stream's limit on disk, and the production sizes
/// (7 GiB a namespace) would fill the shared server's storage with a few tests running at once.
pub const TEST_STREAMS: StreamLayout = StreamLayout {
    replicas: 1,
    inbound_max_bytes: 64 << 20,
    outbound_max_bytes: 16 << 20,
    events_max_bytes: 32 << 20,
};

/// Subjects under a prefix no other test uses.
pub fn fresh_subjects() -> Subjects {
    Subjects::with_prefix(&format!("t{}", Uuid::new_v4().simple())).expect("a valid prefix")
}

/// A provisioned namespace of its own: streams, the workers' consumer and the lease bucket.
/// Dropping it deletes them.
pub struct Namespace {
    pub client: async_nats::Client,
    pub subjects: Subjects,
}

impl Namespace {
    pub async fn new() -> Self {
        let client = connect().await;
        let subjects = fresh_subjects();
        tdj_nats::provision(&client, &subjects, &TEST_STREAMS)
            .await
            .expect("provision NATS");
        Namespace { client, subjects }
    }

    /// The namespace's lease bucket (who owns which tenant).
    pub async fn leases(&self) -> jetstream::kv::Store {
        jetstream::new(self.client.clone())
            .get_key_value(self.subjects.lease_bucket())
            .await
            .expect("lease bucket")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        delete_streams_blocking(&self.subjects);
    }
}

/// Deletes the namespace's streams and lease bucket.
pub async fn delete_streams(client: &async_nats::Client, subjects: &Subjects) {
    let js = jetstream::new(client.clone());
    for stream in [
        subjects.inbound_stream(),
        subjects.outbound_stream(),
        subjects.events_stream(),
        format!("KV_{}", subjects.lease_bucket()),
    ] {
        // Best effort: a stream never created is not an error worth failing a finished test for.
        let _ = js.delete_stream(&stream).await;
    }
}

/// [`delete_streams`] from a `Drop`: the test's runtime is blocked in the drop, so the cleanup runs on a
/// runtime and a NATS connection of its own (the test's client could not make progress).
pub fn delete_streams_blocking(subjects: &Subjects) {
    let subjects = subjects.clone();
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if let Ok(client) = async_nats::connect(nats_url()).await {
                delete_streams(&client, &subjects).await;
            }
        });
    })
    .join();
}
