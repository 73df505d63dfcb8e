//! Provisioning against the local NATS server, in a namespace of its own.

use async_nats::jetstream;
use schemas::Subjects;
use tdj_nats::{NatsConfig, StreamLayout, provision};
use testkit::nats::TEST_STREAMS;
use testkit::nats_server::NatsServer;

fn config(prefix: &str) -> NatsConfig {
    NatsConfig {
        url: testkit::nats::nats_url(),
        prefix: prefix.into(),
        streams: TEST_STREAMS,
    }
}

fn unique_prefix() -> String {
    format!("t{}", uuid::Uuid::new_v4().simple())
}

/// A fresh namespace on the local server: its prefix, subjects and a connection; its streams are deleted
/// when dropped.
struct Scratch {
    prefix: String,
    subjects: Subjects,
    client: async_nats::Client,
}

async fn namespace() -> Scratch {
    let prefix = unique_prefix();
    let config = config(&prefix);
    let subjects = config.subjects().expect("valid prefix");
    let client = tdj_nats::connect(&config)
        .await
        .expect("local NATS is running");
    Scratch {
        prefix,
        subjects,
        client,
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        testkit::nats::delete_streams_blocking(&self.subjects);
    }
}

#[tokio::test]
async fn provisioning_is_idempotent_and_creates_every_definition() {
    let scratch = namespace().await;
    let (prefix, subjects, client) = (&scratch.prefix, &scratch.subjects, &scratch.client);

    provision(client, subjects, &TEST_STREAMS)
        .await
        .expect("first provisioning");
    provision(client, subjects, &TEST_STREAMS)
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
        assert!(s.info().await.expect("info").config.subjects[0].starts_with(prefix));
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
    let scratch = namespace().await;
    let (subjects, client) = (&scratch.subjects, &scratch.client);
    let js = jetstream::new(client.clone());
    // An older release's definitions: a delivery limit and a week of inbound history without a size cap.
    let mut old_stream = tdj_nats::inbound_stream(subjects, &TEST_STREAMS);
    old_stream.max_age = std::time::Duration::from_secs(7 * 24 * 3600);
    old_stream.max_bytes = -1;
    old_stream.discard = jetstream::stream::DiscardPolicy::Old;
    let stream = js.create_stream(old_stream).await.expect("old stream");
    let mut old_consumer = tdj_nats::workers_consumer(subjects);
    old_consumer.max_deliver = 8;
    old_consumer.ack_wait = std::time::Duration::from_secs(30);
    stream
        .create_consumer(old_consumer)
        .await
        .expect("old consumer");

    provision(client, subjects, &TEST_STREAMS)
        .await
        .expect("provisioning");

    let mut stream = js
        .get_stream(subjects.inbound_stream())
        .await
        .expect("inbound");
    let stream_config = stream.info().await.expect("info").config.clone();
    assert_eq!(stream_config.max_bytes, TEST_STREAMS.inbound_max_bytes);
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

#[tokio::test]
async fn a_server_without_room_for_the_stream_limits_says_which_settings_to_change() {
    // A server with 1 GiB of JetStream storage: the production limits (7 GiB reserved) do not fit.
    let server = NatsServer::start_with_max_file_store(1 << 30).await;
    let client = async_nats::connect(server.url()).await.expect("connect");
    let subjects = Subjects::new();

    let refused = provision(&client, &subjects, &StreamLayout::DEFAULT)
        .await
        .expect_err("7 GiB cannot be reserved in 1 GiB");

    assert!(
        matches!(refused, tdj_nats::Error::NoStorage { .. }),
        "{refused:?}"
    );
    let message = refused.to_string();
    for setting in [
        "NATS_INBOUND_MAX_BYTES",
        "NATS_OUTBOUND_MAX_BYTES",
        "NATS_EVENTS_MAX_BYTES",
        "max_file_store",
    ] {
        assert!(message.contains(setting), "{message}");
    }

    // Limits that fit are accepted, and a stream created with too large a limit is shrunk on the next start.
    let fitting = StreamLayout {
        inbound_max_bytes: 512 << 20,
        outbound_max_bytes: 128 << 20,
        events_max_bytes: 256 << 20,
        ..StreamLayout::DEFAULT
    };
    provision(&client, &subjects, &fitting)
        .await
        .expect("limits within the server's storage");
    let mut inbound = jetstream::new(client.clone())
        .get_stream(subjects.inbound_stream())
        .await
        .expect("inbound");
    assert_eq!(
        inbound.info().await.expect("info").config.max_bytes,
        512 << 20
    );
}

#[test]
fn the_stream_limits_are_set_from_the_environment() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        nats: NatsConfig,
    }
    let cli =
        Cli::try_parse_from(["tdjaasa", "--nats-inbound-max-bytes", "1073741824"]).expect("parse");
    assert_eq!(cli.nats.streams.inbound_max_bytes, 1 << 30);
    assert_eq!(
        cli.nats.streams.outbound_max_bytes,
        StreamLayout::DEFAULT.outbound_max_bytes
    );
    assert_eq!(cli.nats.streams.replicas, 1);
}
