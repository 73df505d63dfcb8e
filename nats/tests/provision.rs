//! Provisioning against the local NATS server, in a namespace of its own.

use async_nats::jetstream;
use schemas::Subjects;
use tdj_nats::{NatsConfig, provision};

fn config(prefix: &str) -> NatsConfig {
    NatsConfig {
        url: std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        prefix: prefix.into(),
        replicas: 1,
    }
}

fn unique_prefix() -> String {
    format!("t{}", uuid::Uuid::new_v4().simple())
}

/// A fresh namespace on the local server: its prefix, subjects and a connection.
async fn namespace() -> (String, Subjects, async_nats::Client) {
    let prefix = unique_prefix();
    let config = config(&prefix);
    let subjects = config.subjects().expect("valid prefix");
    let client = tdj_nats::connect(&config)
        .await
        .expect("local NATS is running");
    (prefix, subjects, client)
}

#[tokio::test]
async fn provisioning_is_idempotent_and_creates_every_definition() {
    let (prefix, subjects, client) = namespace().await;

    provision(&client, &subjects, 1)
        .await
        .expect("first provisioning");
    provision(&client, &subjects, 1)
        .await
        .expect("second provisioning changes nothing and succeeds");

    let js = jetstream::new(client.clone());
    for stream in [
        subjects.inbound_stream(),
        subjects.outbound_stream(),
        subjects.events_stream(),
    ] {
        let mut s = js
            .get_stream(&stream)
            .await
            .unwrap_or_else(|e| panic!("{stream} exists: {e}"));
        assert!(s.info().await.expect("info").config.subjects[0].starts_with(&prefix));
    }
    let inbound = js
        .get_stream(subjects.inbound_stream())
        .await
        .expect("inbound");
    inbound
        .get_consumer::<jetstream::consumer::pull::Config>(&subjects.workers_consumer())
        .await
        .expect("consumer");
    let kv = js
        .get_key_value(subjects.lease_bucket())
        .await
        .expect("lease bucket opens as KV");
    let revision = kv
        .create("tenant-a", "node-1".into())
        .await
        .expect("create-if-absent");
    assert!(
        kv.create("tenant-a", "node-2".into()).await.is_err(),
        "a held lease cannot be created twice"
    );
    kv.update("tenant-a", "node-1".into(), revision)
        .await
        .expect("renew by revision");

    for stream in [
        subjects.inbound_stream(),
        subjects.outbound_stream(),
        subjects.events_stream(),
        format!("KV_{}", subjects.lease_bucket()),
    ] {
        js.delete_stream(&stream).await.expect("cleanup");
    }
}

#[tokio::test]
async fn an_unreachable_server_gives_a_clear_error() {
    let mut config = config("x");
    config.url = "nats://127.0.0.1:1".into();
    let err = tdj_nats::connect(&config)
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        err.to_string()
            .contains("cannot reach NATS at nats://127.0.0.1:1"),
        "{err}"
    );
}

#[test]
fn an_invalid_prefix_is_refused() {
    assert!(config("Bad.Prefix").subjects().is_err());
    assert_eq!(
        config("").subjects().expect("empty is production"),
        Subjects::new()
    );
}

#[tokio::test]
async fn a_changed_consumer_or_stream_definition_is_rolled_out_on_the_next_start() {
    let (_, subjects, client) = namespace().await;
    let js = jetstream::new(client.clone());
    // An older release's definitions: a delivery limit and a week of inbound history without a size cap.
    let mut old_stream = tdj_nats::inbound_stream(&subjects, 1);
    old_stream.max_age = std::time::Duration::from_secs(7 * 24 * 3600);
    old_stream.max_bytes = -1;
    old_stream.discard = jetstream::stream::DiscardPolicy::Old;
    let stream = js.create_stream(old_stream).await.expect("old stream");
    let mut old_consumer = tdj_nats::workers_consumer(&subjects);
    old_consumer.max_deliver = 8;
    old_consumer.ack_wait = std::time::Duration::from_secs(30);
    stream
        .create_consumer(old_consumer)
        .await
        .expect("old consumer");

    provision(&client, &subjects, 1)
        .await
        .expect("provisioning");

    let mut stream = js
        .get_stream(subjects.inbound_stream())
        .await
        .expect("inbound");
    let stream_config = stream.info().await.expect("info").config.clone();
    assert_eq!(stream_config.max_bytes, tdj_nats::INBOUND_MAX_BYTES);
    assert_eq!(
        stream_config.discard,
        jetstream::stream::DiscardPolicy::New,
        "a full inbound stream refuses new messages instead of dropping unprocessed ones"
    );
    let mut consumer = stream
        .get_consumer::<jetstream::consumer::pull::Config>(&subjects.workers_consumer())
        .await
        .expect("consumer");
    let consumer_config = consumer.info().await.expect("info").config.clone();
    assert_eq!(
        consumer_config.max_deliver, -1,
        "no delivery limit: the worker decides"
    );
    assert_eq!(consumer_config.ack_wait, tdj_nats::WORKERS_ACK_WAIT);
}
