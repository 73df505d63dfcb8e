//! Lease renewal against a throwaway nats-server: a stall shorter than the lease is ridden out (the lease
//! dated from the renewal whose answer was lost), a stall past the deadline fences at the deadline, a
//! conflicting write fences at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ingress::lease::LeaseStore;
use schemas::Subjects;
use testkit::nats_server::NatsServer;
use uuid::Uuid;

/// A lease store of `node` on `server`, with a 20 s TTL and a 2 s margin (valid 18 s after each renewal).
async fn leases(server: &NatsServer, node: &str) -> (async_nats::Client, Subjects, LeaseStore) {
    leases_with(
        server,
        node,
        Duration::from_secs(20),
        Duration::from_secs(2),
    )
    .await
}

async fn leases_with(
    server: &NatsServer,
    node: &str,
    ttl: Duration,
    margin: Duration,
) -> (async_nats::Client, Subjects, LeaseStore) {
    let client = async_nats::connect(server.url()).await.expect("connect");
    let subjects = Subjects::with_prefix("leases").expect("prefix");
    tdj_nats::provision(&client, &subjects, &testkit::nats::TEST_STREAMS)
        .await
        .expect("provision");
    let store = LeaseStore::open(&client, &subjects.lease_bucket(), node.into(), ttl, margin)
        .await
        .expect("lease store");
    (client, subjects, store)
}

#[tokio::test]
async fn a_nats_stall_shorter_than_the_lease_does_not_fence_it() {
    let server = NatsServer::start().await;
    let (_client, _subjects, store) = leases(&server, "node-a").await;
    let store = Arc::new(store);
    let tenant = Uuid::new_v4();
    let lease = Arc::new(
        store
            .try_acquire(tenant)
            .await
            .expect("bucket")
            .expect("free"),
    );

    // NATS stops answering for 7 s: longer than one request's timeout (5 s), shorter than the lease (18 s).
    let asked = Instant::now();
    server.freeze();
    let renewal = tokio::spawn({
        let (store, lease) = (store.clone(), lease.clone());
        async move { store.renew(&lease).await }
    });
    tokio::time::sleep(Duration::from_secs(7)).await;
    server.thaw();
    let renewed = tokio::time::timeout(Duration::from_secs(15), renewal)
        .await
        .expect("renewal ends")
        .expect("join");

    assert!(renewed, "renewed once NATS answered again");
    assert!(lease.is_valid() && !lease.is_fenced());
    // The first attempt is the one stored (on thaw); its answer was lost, a retry met our own write. The
    // lease counts from when that first attempt was sent, not from the retry: other nodes may have seen the
    // write since then. (The retry that found out was sent 5 s later.)
    assert!(
        lease.deadline() <= asked + Duration::from_secs(18) + Duration::from_millis(500),
        "valid {:?} past the first attempt",
        lease.deadline() - asked
    );
    assert!(store.renew(&lease).await, "and renews normally afterwards");
}

#[tokio::test]
async fn a_lease_someone_else_wrote_is_fenced_at_once() {
    let server = NatsServer::start().await;
    let (client, subjects, store) = leases(&server, "node-a").await;
    let tenant = Uuid::new_v4();
    let lease = store
        .try_acquire(tenant)
        .await
        .expect("bucket")
        .expect("free");
    let js = async_nats::jetstream::new(client);
    let kv = js
        .get_key_value(subjects.lease_bucket())
        .await
        .expect("bucket");
    kv.put(tenant.to_string(), Bytes::from("node-b"))
        .await
        .expect("another node's write");

    let started = std::time::Instant::now();
    assert!(!store.renew(&lease).await);
    assert!(lease.is_fenced());
    assert!(started.elapsed() < Duration::from_secs(2), "at once");
}

#[tokio::test]
async fn a_renewal_failing_past_the_deadline_fences_at_the_deadline_not_before() {
    let server = NatsServer::start().await;
    // Valid 2.2 s after each renewal.
    let (_client, _subjects, store) = leases_with(
        &server,
        "node-a",
        Duration::from_secs(3),
        Duration::from_millis(800),
    )
    .await;
    let lease = store
        .try_acquire(Uuid::new_v4())
        .await
        .expect("bucket")
        .expect("free");
    let acquired = Instant::now();

    server.freeze();
    let renewed = store.renew(&lease).await;
    let fenced_after = acquired.elapsed();
    server.thaw();

    assert!(!renewed && lease.is_fenced());
    assert!(
        fenced_after >= Duration::from_secs(2) && fenced_after < Duration::from_secs(4),
        "fenced at the deadline, not before nor long after: {fenced_after:?}"
    );
}
