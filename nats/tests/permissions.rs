//! The production NATS configuration (`nats/nats-server.conf`) enforced on a throwaway nats-server: nobody
//! connects without a service password, each service (api, worker, ingress) can do what it does at start-up
//! and at work, and what it has no business doing is refused by the server.
//!
//! The server runs the real file, with three changes made here: the 2.10-only `sync_interval` line is left out
//! (the machine's nats-server is 2.9), the ports and store directory are the test's own, and the passwords are
//! this test's (set in the server's environment, as docker-compose does). The permissions name the production
//! subjects and streams, so every test uses the production names (no `NATS_PREFIX`) on a server of its own.
//!
//! A denial is observed the way NATS reports it: the server answers `Permissions Violation for Publish to …`
//! (or `… Subscription to …`), the connection stays open, and nothing is delivered.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer};
use async_nats::{ConnectErrorKind, ConnectOptions, ServerAddr};
use chrono::Utc;
use futures::StreamExt;
use schemas::{Channel, InboundMessage, Subjects};
use tdj_nats::{NatsConfig, StreamLayout};
use uuid::Uuid;

const SERVICES: [&str; 3] = ["api", "worker", "ingress"];

/// How long a denied request is waited for: the server never answers it.
const DENIED_WAIT: Duration = Duration::from_millis(500);

/// A nats-server running `nats/nats-server.conf`, killed when dropped.
struct ConfiguredServer {
    port: u16,
    passwords: [(&'static str, String); 3],
    dir: tempfile::TempDir,
    child: Child,
}

fn binary() -> String {
    std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "/usr/sbin/nats-server".into())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The production file as nats-server 2.9 runs it here: without the 2.10-only `sync_interval`, and with the
/// test's store directory (nats-server refuses `-sd` beside a `store_dir` in the file).
fn production_config(store_dir: &std::path::Path) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("nats-server.conf");
    let text = std::fs::read_to_string(&path).expect("nats/nats-server.conf");
    assert!(
        text.contains("sync_interval: always"),
        "the production file keeps fsync on every write"
    );
    assert!(text.contains("store_dir: /data/jetstream"));
    text.lines()
        .filter(|line| !line.trim_start().starts_with("sync_interval"))
        .map(|line| {
            if line.trim_start().starts_with("store_dir") {
                format!("  store_dir: {:?}", store_dir.display().to_string())
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfiguredServer {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("server dir");
        let config = dir.path().join("nats-server.conf");
        std::fs::write(&config, production_config(&dir.path().join("jetstream")))
            .expect("write config");
        let log = dir.path().join("nats-server.log");
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr file");
        let (port, http_port) = (free_port(), free_port());
        // Letters then digits: the shape the config asks operators for (nats-server parses the value).
        let passwords = SERVICES.map(|user| (user, format!("tdj{}", Uuid::new_v4().simple())));
        let mut command = Command::new(binary());
        command
            .arg("-c")
            .arg(&config)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &http_port.to_string()])
            .arg("-l")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(stderr);
        for (user, password) in &passwords {
            command.env(format!("NATS_{}_PASSWORD", user.to_uppercase()), password);
        }
        let child = command
            .spawn()
            .expect("nats-server (apt: nats-server) is installed");
        let server = Self {
            port,
            passwords,
            dir,
            child,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log =
            std::fs::read_to_string(server.dir.path().join("nats-server.log")).unwrap_or_default();
        panic!("nats-server did not start with nats/nats-server.conf:\n{log}");
    }

    fn password(&self, user: &str) -> &str {
        self.passwords
            .iter()
            .find(|(name, _)| *name == user)
            .map(|(_, password)| password.as_str())
            .expect("a service user")
    }

    /// The service's NATS_URL, as docker-compose gives it: `nats://<user>:<password>@host:port`.
    fn url_for(&self, user: &str) -> String {
        format!(
            "nats://{user}:{}@127.0.0.1:{}",
            self.password(user),
            self.port
        )
    }

    fn anonymous_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for ConfiguredServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A service's connection, and the errors the server sent it.
struct Service {
    user: &'static str,
    client: async_nats::Client,
    errors: Arc<Mutex<Vec<String>>>,
}

/// Connects as `user` the way `tdj_nats::connect` must: the credentials of the URL, and the user's own inbox
/// prefix `_INBOX_<user>` (the only inbox its permissions let it subscribe to).
async fn connect_as(server: &ConfiguredServer, user: &'static str) -> Service {
    let addr: ServerAddr = server.url_for(user).parse().expect("a NATS URL");
    let name = addr.username().expect("user in the URL").to_owned();
    let password = addr.password().expect("password in the URL").to_owned();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    let client = ConnectOptions::new()
        .name(format!("tdjaasa-{user}"))
        .user_and_password(name.clone(), password)
        .custom_inbox_prefix(format!("_INBOX_{name}"))
        .event_callback(move |event| {
            let sink = sink.clone();
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    sink.lock().expect("errors").push(error.to_string());
                }
            }
        })
        .connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{user} connects with its password: {e}"));
    Service {
        user,
        client,
        errors,
    }
}

impl Service {
    fn js(&self) -> jetstream::Context {
        jetstream::new(self.client.clone())
    }

    /// A JetStream context that gives up quickly, for requests the server is expected to drop.
    fn js_quick(&self) -> jetstream::Context {
        jetstream::context::ContextBuilder::new()
            .timeout(DENIED_WAIT)
            .build(self.client.clone())
    }

    fn errors(&self) -> Vec<String> {
        self.errors.lock().expect("errors").clone()
    }

    /// A round trip through the server: once it returns, the server has processed everything this
    /// connection sent before (subscriptions included), and its errors for it are on their way back.
    /// (`Client::flush` only writes the buffer.) Every service may ask for the inbound stream's info.
    async fn roundtrip(&self) {
        self.client
            .request("$JS.API.STREAM.INFO.TDJ_IN", "".into())
            .await
            .unwrap_or_else(|e| panic!("{} reaches the server: {e}", self.user));
    }

    /// Asserts the server reported no permission violation to this service.
    async fn assert_nothing_refused(&self) {
        self.roundtrip().await;
        // The error callback runs on its own task, just after the reply was read.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let errors = self.errors();
        assert!(
            errors.is_empty(),
            "{} was refused something it needs: {errors:?}",
            self.user
        );
    }

    /// Waits until the server reported a violation of `kind` ("Publish to" or "Subscription to") on
    /// `subject`.
    async fn assert_refused(&self, kind: &str, subject: &str, why: &str) {
        let wanted = format!("permissions violation for {kind} \"{subject}\"").to_lowercase();
        self.roundtrip().await;
        for _ in 0..200 {
            if self
                .errors()
                .iter()
                .any(|e| e.to_lowercase().contains(&wanted))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "{} was not refused {kind} {subject:?} ({why}); server errors: {:?}",
            self.user,
            self.errors()
        );
    }

    /// Publishes a plain message to `subject` and asserts the server refused it.
    async fn assert_cannot_publish(&self, subject: &str, why: &str) {
        self.client
            .publish(subject.to_owned(), "{}".into())
            .await
            .expect("the client sends it");
        self.assert_refused("Publish to", subject, why).await;
    }

    /// Subscribes to `subject` and asserts the server refused it.
    async fn assert_cannot_subscribe(&self, subject: &str, why: &str) -> async_nats::Subscriber {
        let subscriber = self
            .client
            .subscribe(subject.to_owned())
            .await
            .expect("the client sends it");
        self.assert_refused("Subscription to", subject, why).await;
        subscriber
    }
}

fn production() -> Subjects {
    Subjects::new()
}

fn customer_message(tenant_id: Uuid, text: &str) -> InboundMessage {
    InboundMessage {
        tenant_id,
        channel: Channel::Whatsapp,
        customer_jid: "2250701020304@s.whatsapp.net".into(),
        customer_name: "Awa".into(),
        wa_message_id: format!("wamid-{}", Uuid::new_v4().simple()),
        text: text.into(),
        timestamp: Utc::now(),
        from_owner: false,
        attachment: None,
        location: None,
    }
}

/// A JetStream publish as the outbox does it, acknowledged by the stream.
async fn publish_stored(service: &Service, subject: String, payload: &'static str) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", Uuid::new_v4().to_string().as_str());
    service
        .js()
        .publish_with_headers(subject.clone(), headers, payload.into())
        .await
        .unwrap_or_else(|e| panic!("{} publishes {subject}: {e}", service.user))
        .await
        .unwrap_or_else(|e| panic!("JetStream stores {subject} from {}: {e}", service.user));
}

/// The ingress's per-shop consumer on the outbound stream (`ingress::outbound::consumer_config`).
fn ingress_consumer(subjects: &Subjects, tenant_id: Uuid) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(format!("ingress_{}", tenant_id.simple())),
        filter_subject: subjects.outbound(tenant_id),
        deliver_policy: consumer::DeliverPolicy::All,
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 1,
        inactive_threshold: Duration::from_secs(7 * 24 * 3600),
        ..Default::default()
    }
}

async fn next_message(subscriber: &mut async_nats::Subscriber, what: &str) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), subscriber.next())
        .await
        .unwrap_or_else(|_| panic!("{what} arrives"))
        .unwrap_or_else(|| panic!("{what}: subscription open"))
}

/// Nothing is delivered to `subscriber` within a short wait (after a round trip to the server).
async fn assert_nothing_delivered(subscriber: &mut async_nats::Subscriber, why: &str) {
    let got = tokio::time::timeout(DENIED_WAIT, subscriber.next()).await;
    assert!(
        !matches!(got, Ok(Some(_))),
        "a refused subscription received a message ({why})"
    );
}

/// A provisioned server with a connection per service.
async fn provisioned() -> (ConfiguredServer, Service, Service, Service) {
    let server = ConfiguredServer::start().await;
    let api = connect_as(&server, "api").await;
    let worker = connect_as(&server, "worker").await;
    let ingress = connect_as(&server, "ingress").await;
    tdj_nats::provision(&worker.client, &production(), &StreamLayout::DEFAULT)
        .await
        .expect("provisioning");
    (server, api, worker, ingress)
}

#[tokio::test]
async fn nobody_connects_without_a_service_password() {
    let server = ConfiguredServer::start().await;

    let anonymous = ConnectOptions::new()
        .connect(server.anonymous_url())
        .await
        .expect_err("an anonymous connection is refused");
    assert_eq!(
        anonymous.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{anonymous}"
    );

    let wrong = ConnectOptions::with_user_and_password("api".into(), "tdjwrong".into())
        .connect(server.anonymous_url())
        .await
        .expect_err("a wrong password is refused");
    assert_eq!(
        wrong.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{wrong}"
    );

    let crossed =
        ConnectOptions::with_user_and_password("worker".into(), server.password("api").to_owned())
            .connect(server.anonymous_url())
            .await
            .expect_err("one service's password does not open another's user");
    assert_eq!(crossed.kind(), ConnectErrorKind::AuthorizationViolation);

    let unknown = ConnectOptions::with_user_and_password("admin".into(), "tdjadmin".into())
        .connect(server.anonymous_url())
        .await
        .expect_err("no other user exists");
    assert_eq!(unknown.kind(), ConnectErrorKind::AuthorizationViolation);
}

/// `tdj_nats::connect` is what every service calls with its NATS_URL: it must log in with the URL's user and
/// password and use that user's inbox, so that provisioning (JetStream requests) gets its answers.
#[tokio::test]
async fn each_service_logs_in_with_the_credentials_of_its_nats_url() {
    let server = ConfiguredServer::start().await;
    for user in SERVICES {
        let config = NatsConfig {
            url: server.url_for(user),
            prefix: String::new(),
            streams: StreamLayout::DEFAULT,
        };
        let client = tdj_nats::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("{user} connects with the credentials in NATS_URL: {e}"));
        tokio::time::timeout(
            Duration::from_secs(20),
            tdj_nats::provision(&client, &production(), &StreamLayout::DEFAULT),
        )
        .await
        .unwrap_or_else(|_| panic!("{user}'s JetStream requests are answered (its own inbox)"))
        .unwrap_or_else(|e| panic!("{user} provisions: {e}"));
    }
}

#[tokio::test]
async fn a_connection_error_does_not_show_the_password() {
    let config = NatsConfig {
        url: "nats://api:tdjsecretpassword@127.0.0.1:1".into(),
        prefix: String::new(),
        streams: StreamLayout::DEFAULT,
    };
    let err = tdj_nats::connect(&config)
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        !err.to_string().contains("tdjsecretpassword"),
        "the error (logged at start-up) shows the NATS password: {err}"
    );
}

/// Every service provisions at start-up (`src/main.rs`): on a fresh server (create) and after a definition
/// changed (update).
#[tokio::test]
async fn every_service_can_provision_the_topology_at_start_up() {
    for user in SERVICES {
        let server = ConfiguredServer::start().await;
        let service = connect_as(&server, user).await;

        tdj_nats::provision(&service.client, &production(), &StreamLayout::DEFAULT)
            .await
            .unwrap_or_else(|e| panic!("{user} provisions a fresh server: {e}"));

        // An older release's definitions, rolled out again by the next start.
        let js = service.js();
        let mut old_stream = tdj_nats::inbound_stream(&production(), &StreamLayout::DEFAULT);
        old_stream.max_age = Duration::from_secs(7 * 24 * 3600);
        js.update_stream(&old_stream)
            .await
            .unwrap_or_else(|e| panic!("{user} updates a stream: {e}"));
        let mut old_consumer = tdj_nats::workers_consumer(&production());
        old_consumer.ack_wait = Duration::from_secs(30);
        js.get_stream("TDJ_IN")
            .await
            .expect("inbound stream")
            .create_consumer(old_consumer)
            .await
            .unwrap_or_else(|e| panic!("{user} updates the workers' consumer: {e}"));
        tdj_nats::provision(&service.client, &production(), &StreamLayout::DEFAULT)
            .await
            .unwrap_or_else(|e| panic!("{user} provisions again: {e}"));

        let mut inbound = js.get_stream("TDJ_IN").await.expect("inbound stream");
        assert_eq!(
            inbound.info().await.expect("info").config.max_age,
            tdj_nats::inbound_stream(&production(), &StreamLayout::DEFAULT).max_age
        );
        service.assert_nothing_refused().await;
    }
}

#[tokio::test]
async fn the_api_publishes_test_chat_messages_hand_replies_and_events_and_follows_live_pages() {
    let (_server, api, worker, ingress) = provisioned().await;
    let subjects = production();
    let shop = Uuid::new_v4();

    // Test chat (and dead-letter replays): a customer message on the inbound stream.
    let mut inbound = customer_message(shop, "C'est combien le pagne ?");
    inbound.channel = Channel::Simulator;
    tdj_nats::publish_inbound(&api.js(), &subjects, &inbound)
        .await
        .expect("the api publishes a test-chat message");
    // A reply typed by hand in a conversation, and its event (the outbox). The api may publish replies: an
    // owner's hand reply goes out through the same outbound path as the bot's.
    publish_stored(&api, subjects.outbound(shop), "{}").await;
    publish_stored(&api, subjects.event(shop, "message.sent"), "{}").await;

    // Live pages: the shop's domain events and its WhatsApp status and codes.
    let mut events = api
        .client
        .subscribe(subjects.event(shop, ">"))
        .await
        .expect("subscribe");
    let mut whatsapp = api
        .client
        .subscribe(subjects.wa_events(shop))
        .await
        .expect("subscribe");
    api.roundtrip().await;
    publish_stored(&worker, subjects.event(shop, "order.created"), "{}").await;
    ingress
        .client
        .publish(
            subjects.wa_events(shop),
            r#"{"event":"qr","code":"2@x","expires_in_secs":20}"#.into(),
        )
        .await
        .expect("publish");
    next_message(&mut events, "a domain event on /app/events").await;
    next_message(&mut whatsapp, "a QR code on the WhatsApp screen").await;

    // WhatsApp commands: request/reply with the ingress node (queue group `ingress`).
    let mut commands = ingress
        .client
        .queue_subscribe(subjects.wa_command("*"), "ingress".into())
        .await
        .expect("queue subscribe");
    ingress.roundtrip().await;
    let answering = tokio::spawn(async move {
        let command = next_message(&mut commands, "a WhatsApp command").await;
        let reply = command.reply.expect("a request");
        ingress
            .client
            .publish(reply, r#"{"accepted":true,"message":"ok"}"#.into())
            .await
            .expect("answer");
        ingress.client.flush().await.expect("flush");
        ingress
    });
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        api.client
            .request(subjects.wa_command(shop), r#""live_state""#.into()),
    )
    .await
    .expect("an answer in time")
    .expect("the ingress answers the api's command");
    assert!(String::from_utf8_lossy(&reply.payload).contains("accepted"));
    let ingress = answering.await.expect("answering task");

    api.assert_nothing_refused().await;
    worker.assert_nothing_refused().await;
    ingress.assert_nothing_refused().await;
}

#[tokio::test]
async fn a_worker_takes_inbound_messages_reads_a_chats_earlier_ones_and_publishes_the_outbox() {
    let (_server, _api, worker, ingress) = provisioned().await;
    let subjects = production();
    let shop = Uuid::new_v4();
    let first = customer_message(shop, "Bonjour");
    let mut second = customer_message(shop, "Vous avez des pagnes ?");
    second.customer_jid = first.customer_jid.clone();
    for message in [&first, &second] {
        tdj_nats::publish_inbound(&ingress.js(), &subjects, message)
            .await
            .expect("the ingress publishes a customer message");
    }

    // The shared consumer, as `Pipeline::run` pulls it.
    let consumer: consumer::PullConsumer = worker
        .js()
        .get_stream(subjects.inbound_stream())
        .await
        .expect("inbound stream")
        .get_consumer(&subjects.workers_consumer())
        .await
        .expect("workers' consumer");
    let mut batch = consumer
        .batch()
        .max_messages(2)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("pull");
    let mut taken = 0;
    while let Some(message) = batch.next().await {
        let message = message.expect("a delivery");
        message
            .ack_with(AckKind::Progress)
            .await
            .expect("progress ack");
        message.ack().await.expect("ack");
        taken += 1;
    }
    assert_eq!(taken, 2, "the worker takes both messages");

    // Catching up on a chat's earlier messages by subject (`ingest.rs`).
    let earlier = worker
        .js()
        .get_stream_no_info(subjects.inbound_stream())
        .await
        .expect("inbound stream")
        .direct_get_next_for_subject(subjects.inbound(shop, first.chat_key()), Some(1))
        .await
        .expect("direct get of the chat's first message");
    assert_eq!(earlier.sequence, 1);

    // The outbox: the reply for the ingress, a domain event, a replayed dead letter.
    publish_stored(&worker, subjects.outbound(shop), "{}").await;
    publish_stored(&worker, subjects.event(shop, "message.sent"), "{}").await;
    publish_stored(&worker, subjects.inbound(shop, "wa_2250701020304"), "{}").await;

    // Every ack was taken: nothing is left for redelivery.
    let mut consumer = consumer;
    let info = consumer.info().await.expect("consumer info");
    assert_eq!(info.num_ack_pending, 0, "both acks reached JetStream");
    worker.assert_nothing_refused().await;
}

#[tokio::test]
async fn an_ingress_node_holds_leases_sends_its_shops_replies_and_forwards_commands() {
    let (server, _api, worker, ingress) = provisioned().await;
    let subjects = production();
    let shop = Uuid::new_v4();

    // Leases and heartbeats (`lease.rs`).
    let kv = ingress
        .js()
        .get_key_value(subjects.lease_bucket())
        .await
        .expect("lease bucket");
    let revision = kv
        .create(shop.to_string(), "node-a".into())
        .await
        .expect("create-if-absent");
    let entry = kv
        .entry(shop.to_string())
        .await
        .expect("read")
        .expect("the lease");
    assert_eq!(entry.revision, revision);
    kv.update(shop.to_string(), "node-a".into(), revision)
        .await
        .expect("renew by revision");
    kv.put("node.node-a", "node-a".into())
        .await
        .expect("heartbeat");
    let mut nodes = kv
        .stream
        .info_with_subjects(format!("{}node.>", kv.prefix))
        .await
        .expect("heartbeat subjects");
    let (subject, _) = nodes
        .next()
        .await
        .expect("one heartbeat")
        .expect("subjects");
    assert_eq!(subject, "$KV.TDJ_LEASES.node.node-a");
    kv.delete("node.node-a").await.expect("remove heartbeat");

    // The shop's replies, through a consumer of its own (`outbound.rs`).
    publish_stored(&worker, subjects.outbound(shop), r#"{"text":"15 000 F"}"#).await;
    let outbound = ingress
        .js()
        .get_stream(subjects.outbound_stream())
        .await
        .expect("outbound stream")
        .get_or_create_consumer(
            &format!("ingress_{}", shop.simple()),
            ingress_consumer(&subjects, shop),
        )
        .await
        .expect("the shop's outbound consumer");
    let mut replies = outbound
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("fetch");
    let reply = replies
        .next()
        .await
        .expect("the reply")
        .expect("a delivery");
    assert_eq!(&reply.payload[..], br#"{"text":"15 000 F"}"#);
    reply.ack().await.expect("ack");

    // Customer messages and connection events.
    tdj_nats::publish_inbound(&ingress.js(), &subjects, &customer_message(shop, "Bonsoir"))
        .await
        .expect("inbound");
    ingress
        .client
        .publish(subjects.wa_events(shop), "{}".into())
        .await
        .expect("event");

    // A command forwarded to the node holding the shop, answered through `allow_responses`.
    let other = connect_as(&server, "ingress").await;
    let mut forwarded = other
        .client
        .subscribe("tdj.wa.node.node-b.ctl")
        .await
        .expect("node control");
    other.roundtrip().await;
    let answering = tokio::spawn(async move {
        let command = next_message(&mut forwarded, "a forwarded command").await;
        other
            .client
            .publish(command.reply.expect("a request"), "{}".into())
            .await
            .expect("answer");
        other.client.flush().await.expect("flush");
        other
    });
    tokio::time::timeout(
        Duration::from_secs(5),
        ingress
            .client
            .request("tdj.wa.node.node-b.ctl", "{}".into()),
    )
    .await
    .expect("in time")
    .unwrap_or_else(|e| {
        panic!(
            "the holder answers: {e}; {:?} / {:?}",
            ingress.errors(),
            "-"
        )
    });
    let other = answering.await.expect("answering task");

    // Sandbox gateway: claims and sent texts.
    let mut claims = ingress
        .client
        .subscribe(format!("tdj.wa.sandbox.{shop}.claim"))
        .await
        .expect("sandbox claims");
    ingress.roundtrip().await;
    ingress
        .client
        .publish(format!("tdj.wa.sandbox.{shop}.claim"), "{}".into())
        .await
        .expect("claim");
    next_message(&mut claims, "a sandbox claim").await;

    ingress.assert_nothing_refused().await;
    other.assert_nothing_refused().await;
    worker.assert_nothing_refused().await;
}

/// Nobody may delete or purge a stream, or delete the workers' consumer.
#[tokio::test]
async fn no_service_can_delete_or_purge_streams() {
    let (_server, api, worker, ingress) = provisioned().await;
    for service in [&api, &worker, &ingress] {
        for subject in [
            "$JS.API.STREAM.DELETE.TDJ_IN",
            "$JS.API.STREAM.PURGE.TDJ_OUT",
            "$JS.API.STREAM.DELETE.KV_TDJ_LEASES",
            "$JS.API.CONSUMER.DELETE.TDJ_IN.workers",
            "$JS.API.STREAM.MSG.DELETE.TDJ_EVENTS",
            "$JS.API.STREAM.CREATE.OTHER",
        ] {
            service
                .assert_cannot_publish(subject, "only provisioning's create/update/info")
                .await;
        }
        service.assert_cannot_subscribe(">", "every subject").await;
    }
    let js = worker.js();
    for stream in ["TDJ_IN", "TDJ_OUT", "TDJ_EVENTS", "KV_TDJ_LEASES"] {
        js.get_stream(stream)
            .await
            .unwrap_or_else(|e| panic!("{stream} is still there: {e}"));
    }
}

#[tokio::test]
async fn the_api_cannot_take_the_workers_messages_touch_leases_or_forge_whatsapp_events() {
    let (_server, api, worker, ingress) = provisioned().await;
    let subjects = production();
    let shop = Uuid::new_v4();
    tdj_nats::publish_inbound(&ingress.js(), &subjects, &customer_message(shop, "Bonjour"))
        .await
        .expect("inbound");

    // Pulling from the workers' consumer: the request is refused and the message stays for the workers.
    let consumer: consumer::PullConsumer = api
        .js()
        .get_stream(subjects.inbound_stream())
        .await
        .expect("stream info (provisioning)")
        .get_consumer("workers")
        .await
        .expect("consumer info (provisioning)");
    let mut stolen = consumer
        .batch()
        .max_messages(1)
        .expires(DENIED_WAIT)
        .messages()
        .await
        .expect("the client sends the pull");
    let got = tokio::time::timeout(Duration::from_secs(2), stolen.next()).await;
    assert!(
        !matches!(got, Ok(Some(Ok(_)))),
        "the api took a message from the workers' consumer"
    );
    api.assert_refused(
        "Publish to",
        "$JS.API.CONSUMER.MSG.NEXT.TDJ_IN.workers",
        "consume the workers' consumer",
    )
    .await;
    let worker_consumer: consumer::PullConsumer = worker
        .js()
        .get_stream("TDJ_IN")
        .await
        .expect("stream")
        .get_consumer("workers")
        .await
        .expect("consumer");
    let mut batch = worker_consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("pull");
    batch
        .next()
        .await
        .expect("the message is still the workers'")
        .expect("delivery");

    // A consumer of its own on the inbound stream, or reading it directly.
    let spy = api
        .js_quick()
        .get_stream("TDJ_IN")
        .await
        .expect("stream info")
        .create_consumer(consumer::pull::Config {
            durable_name: Some("spy".into()),
            ..Default::default()
        })
        .await;
    assert!(
        spy.is_err(),
        "the api created a consumer on the inbound stream"
    );
    api.assert_refused(
        "Publish to",
        "$JS.API.CONSUMER.CREATE.TDJ_IN.spy",
        "read customer messages of every shop",
    )
    .await;
    api.assert_cannot_publish("$JS.API.DIRECT.GET.TDJ_IN", "read the inbound stream")
        .await;
    api.assert_cannot_publish(
        "$JS.ACK.TDJ_IN.workers.1.1.1.0.0",
        "ack the workers' messages",
    )
    .await;
    api.assert_cannot_publish(
        "$JS.API.CONSUMER.MSG.NEXT.TDJ_OUT.ingress_x",
        "take a shop's replies before its ingress node",
    )
    .await;

    // Leases: neither written nor read.
    api.assert_cannot_publish(&format!("$KV.TDJ_LEASES.{shop}"), "steal a shop's lease")
        .await;
    api.assert_cannot_publish(
        &format!("$JS.API.DIRECT.GET.KV_TDJ_LEASES.$KV.TDJ_LEASES.{shop}"),
        "read the leases",
    )
    .await;

    // WhatsApp connection internals: forging status/QR events, node and sandbox subjects.
    api.assert_cannot_publish(&subjects.wa_events(shop), "forge a QR code or a status")
        .await;
    api.assert_cannot_publish("tdj.wa.node.node-a.ctl", "bypass the command queue")
        .await;
    api.assert_cannot_publish(
        &format!("tdj.wa.sandbox.{shop}.inbound"),
        "inject through the sandbox",
    )
    .await;

    // Reading what is not its own: customer messages, replies, other services' inboxes.
    for (subject, why) in [
        ("tdj.in.>", "customer messages in flight"),
        ("tdj.out.>", "replies in flight"),
        ("_INBOX.>", "the default inbox"),
        ("_INBOX_worker.>", "the worker's replies"),
        ("_INBOX_ingress.>", "the ingress's replies"),
        ("tdj.wa.ctl.*", "other shops' commands"),
        ("tdj.wa.node.*.ctl", "forwarded commands"),
        ("tdj.wa.sandbox.>", "the sandbox's texts"),
        ("$KV.TDJ_LEASES.>", "lease writes"),
    ] {
        api.assert_cannot_subscribe(subject, why).await;
    }
}

#[tokio::test]
async fn the_worker_cannot_see_whatsapp_codes_or_command_connections() {
    let (_server, api, worker, ingress) = provisioned().await;
    let subjects = production();
    let shop = Uuid::new_v4();

    // QR and pairing codes: neither the live events nor the LiveState answers sent to the api's inbox.
    let mut codes = worker
        .assert_cannot_subscribe(&subjects.wa_events("*"), "QR codes of every shop")
        .await;
    let mut answers = worker
        .assert_cannot_subscribe("_INBOX_api.>", "codes answered to the api")
        .await;
    worker
        .assert_cannot_subscribe("_INBOX.>", "the default inbox")
        .await;
    ingress
        .client
        .publish(
            subjects.wa_events(shop),
            r#"{"event":"qr","code":"2@x","expires_in_secs":20}"#.into(),
        )
        .await
        .expect("publish");
    let mut commands = ingress
        .client
        .queue_subscribe(subjects.wa_command("*"), "ingress".into())
        .await
        .expect("queue subscribe");
    ingress.roundtrip().await;
    let answering = tokio::spawn(async move {
        let command = next_message(&mut commands, "the api's command").await;
        ingress
            .client
            .publish(
                command.reply.expect("a request"),
                r#"{"code":"2@x"}"#.into(),
            )
            .await
            .expect("answer");
        ingress.client.flush().await.expect("flush");
    });
    api.client
        .request(subjects.wa_command(shop), r#""live_state""#.into())
        .await
        .expect("the api gets its answer");
    answering.await.expect("answering task");
    assert_nothing_delivered(&mut codes, "a QR event").await;
    assert_nothing_delivered(&mut answers, "a LiveState answer").await;

    // Commanding a connection (log a shop out), leases, the ingress's consumers.
    worker
        .assert_cannot_publish(&subjects.wa_command(shop), "log a shop's number out")
        .await;
    worker
        .assert_cannot_publish(&format!("$KV.TDJ_LEASES.{shop}"), "steal a shop's lease")
        .await;
    worker
        .assert_cannot_publish(
            &format!("$JS.API.CONSUMER.CREATE.TDJ_OUT.spy.tdj.out.{shop}"),
            "read a shop's replies as the ingress does",
        )
        .await;
    worker
        .assert_cannot_publish(
            "$JS.API.CONSUMER.MSG.NEXT.TDJ_OUT.ingress_x",
            "take a shop's replies",
        )
        .await;
    worker
        .assert_cannot_subscribe(&subjects.events_all(), "the shops' events")
        .await;
    worker
        .assert_cannot_subscribe(
            &format!("tdj.wa.sandbox.{shop}.sent"),
            "the sandbox's texts",
        )
        .await;
}

#[tokio::test]
async fn the_ingress_cannot_take_the_workers_messages_or_write_replies_and_events() {
    let (_server, _api, worker, ingress) = provisioned().await;
    let subjects = production();
    let shop = Uuid::new_v4();
    tdj_nats::publish_inbound(&ingress.js(), &subjects, &customer_message(shop, "Bonjour"))
        .await
        .expect("inbound");

    // The workers' consumer and the inbound stream.
    ingress
        .assert_cannot_publish(
            "$JS.API.CONSUMER.MSG.NEXT.TDJ_IN.workers",
            "consume the workers' consumer",
        )
        .await;
    ingress
        .assert_cannot_publish(
            "$JS.ACK.TDJ_IN.workers.1.1.1.0.0",
            "ack the workers' messages",
        )
        .await;
    ingress
        .assert_cannot_publish("$JS.API.DIRECT.GET.TDJ_IN", "read the inbound stream")
        .await;
    ingress
        .assert_cannot_publish(
            "$JS.API.CONSUMER.CREATE.TDJ_IN.spy.tdj.in.>",
            "a consumer of its own on the inbound stream",
        )
        .await;
    ingress
        .assert_cannot_publish(
            "$JS.API.CONSUMER.CREATE.TDJ_IN.workers.tdj.in.>",
            "the workers' consumer narrowed",
        )
        .await;
    let pending = worker
        .js()
        .get_stream("TDJ_IN")
        .await
        .expect("stream")
        .get_consumer::<consumer::pull::Config>("workers")
        .await
        .expect("consumer")
        .info()
        .await
        .expect("info")
        .num_pending;
    assert_eq!(pending, 1, "the message waits for the workers");

    // Replies and events are the pipeline's.
    let forged = ingress
        .js_quick()
        .publish(subjects.outbound(shop), "{}".into())
        .await
        .expect("the client sends it")
        .await;
    assert!(forged.is_err(), "the ingress stored a reply of its own");
    ingress
        .assert_refused("Publish to", &subjects.outbound(shop), "write replies")
        .await;
    ingress
        .assert_cannot_publish(&subjects.event(shop, "order.created"), "forge events")
        .await;
    ingress
        .assert_cannot_publish(&subjects.wa_command(shop), "send commands as the api")
        .await;
    // `allow_responses` answers requests it received, not anyone's inbox.
    ingress
        .assert_cannot_publish("_INBOX_api.abc.1", "write into the api's inbox unasked")
        .await;

    // Commands only in the queue group, nothing of the pipeline's.
    ingress
        .assert_cannot_subscribe(
            &subjects.wa_command("*"),
            "commands outside the queue group",
        )
        .await;
    for (subject, why) in [
        ("tdj.in.>", "other nodes' customer messages"),
        ("tdj.out.>", "replies without a consumer"),
        ("tdj.events.>", "the shops' events"),
        ("_INBOX_api.>", "the api's replies"),
        ("_INBOX_worker.>", "the worker's replies"),
    ] {
        ingress.assert_cannot_subscribe(subject, why).await;
    }
}

#[test]
fn the_production_file_is_the_one_tested() {
    let text = production_config(std::path::Path::new("/tmp/unused"));
    for user in SERVICES {
        assert!(
            text.contains(&format!("password: $NATS_{}_PASSWORD", user.to_uppercase())),
            "{user}'s password comes from the environment"
        );
    }
    assert!(!text.contains("no_auth_user"), "no anonymous user");
}

/// docker-compose.yml gives the nats server every password, and each service its own user in NATS_URL.
#[test]
fn docker_compose_gives_each_service_its_own_nats_user() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml");
    let compose = std::fs::read_to_string(&path).expect("docker-compose.yml");
    assert!(compose.contains("./nats/nats-server.conf:/etc/nats/nats-server.conf:ro"));
    for user in SERVICES {
        let variable = format!("NATS_{}_PASSWORD", user.to_uppercase());
        assert!(
            compose.contains(&format!("{variable}: ${{{variable}:?set {variable}}}")),
            "the nats server gets {variable}, required"
        );
        assert!(
            compose.contains(&format!(
                "NATS_URL: nats://{user}:${{{variable}:?set {variable}}}@nats:4222"
            )),
            "{user} connects as its own user"
        );
    }
}
