//! The JetStream topology of Tdjaasa — streams, the workers' durable consumer and the lease bucket — and the
//! code that applies it idempotently at start-up. Each service calls [`provision`] before serving, so a fresh
//! NATS server is usable at once and a changed definition is rolled out by restarting. It also holds the two
//! publishing paths that need JetStream's dedup header: customer messages ([`publish_inbound`]) and the
//! transactional outbox ([`publish_outbox`]).

pub mod inbound;
pub mod inspect;
pub mod outbox;
pub mod progress;
pub mod telemetry;
pub mod trace;

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use schemas::Subjects;

pub use inbound::{PublishInboundError, publish_inbound};
pub use outbox::{PublishedMarks, publish_entries, publish_outbox};
pub use progress::while_in_progress;

/// NATS settings.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsConfig {
    /// NATS server URL (JetStream must be enabled); a cluster as a comma-separated list of its servers.
    #[arg(
        long = "nats-url",
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub url: String,
    /// Namespace for subjects and streams, to share one NATS between environments (lower case, digits, `_`).
    #[arg(long = "nats-prefix", env = "NATS_PREFIX", default_value = "")]
    pub prefix: String,
    #[command(flatten)]
    pub streams: StreamLayout,
}

/// How the streams are laid out: replicas and size limits. JetStream reserves each stream's `max_bytes` on
/// disk when the stream is created, so the limits of all streams must fit the server's storage together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct StreamLayout {
    /// Replicas of each stream: 1 on a single server, 3 on a production cluster.
    #[arg(long = "nats-replicas", env = "NATS_REPLICAS", default_value_t = 1)]
    pub replicas: usize,
    /// Most bytes the inbound stream keeps (customers' messages; when full it refuses new ones, never drops).
    #[arg(long = "nats-inbound-max-bytes", env = "NATS_INBOUND_MAX_BYTES", default_value_t = StreamLayout::DEFAULT.inbound_max_bytes)]
    pub inbound_max_bytes: i64,
    /// Most bytes the outbound stream keeps (replies to send; when full they wait in the database outbox).
    #[arg(long = "nats-outbound-max-bytes", env = "NATS_OUTBOUND_MAX_BYTES", default_value_t = StreamLayout::DEFAULT.outbound_max_bytes)]
    pub outbound_max_bytes: i64,
    /// Most bytes the events stream keeps (when full the oldest events go first).
    #[arg(long = "nats-events-max-bytes", env = "NATS_EVENTS_MAX_BYTES", default_value_t = StreamLayout::DEFAULT.events_max_bytes)]
    pub events_max_bytes: i64,
}

impl StreamLayout {
    /// One server, 7 GiB reserved in all.
    pub const DEFAULT: StreamLayout = StreamLayout {
        replicas: 1,
        inbound_max_bytes: 4 << 30,
        outbound_max_bytes: 1 << 30,
        events_max_bytes: 2 << 30,
    };
}

impl Default for StreamLayout {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl NatsConfig {
    pub fn subjects(&self) -> Result<Subjects, Error> {
        Subjects::with_prefix(&self.prefix).ok_or_else(|| Error::InvalidPrefix(self.prefix.clone()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot reach NATS at {url}: is nats-server running (with JetStream, `-js`)? ({source})"
    )]
    Unreachable {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("NATS_PREFIX {0:?} is invalid: use lower-case letters, digits and `_` only")]
    InvalidPrefix(String),
    #[error("cannot apply JetStream {what}: {message} (is JetStream enabled on the server?)")]
    Provision { what: String, message: String },
    #[error(
        "JetStream has not enough storage for {what}: each stream reserves its size limit on disk \
         (NATS_INBOUND_MAX_BYTES, NATS_OUTBOUND_MAX_BYTES, NATS_EVENTS_MAX_BYTES); free disk space, raise the \
         server's max_file_store or lower those limits ({message})"
    )]
    NoStorage { what: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Connects with a short timeout and a clear error when the server is not there. The URL's user and password
/// (`nats://worker:secret@nats:4222`) log in, and that user's requests use the inbox prefix `_INBOX_<user>`,
/// the only one its permissions let it read (`nats/nats-server.conf`).
pub async fn connect(config: &NatsConfig) -> Result<async_nats::Client> {
    // A cluster is given as a comma-separated list of its servers' URLs; the client also learns the others
    // from the one it reaches first.
    let urls: Vec<&str> = config
        .url
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .collect();
    let shown = urls
        .iter()
        .map(|url| redacted(url))
        .collect::<Vec<_>>()
        .join(",");
    let mut options = async_nats::ConnectOptions::new()
        .name("tdjaasa")
        .connection_timeout(Duration::from_secs(5));
    // An unparsable URL is left to `connect`, which reports it. The first URL with credentials gives them.
    let addr = urls
        .iter()
        .filter_map(|url| url.parse::<async_nats::ServerAddr>().ok())
        .find(|addr| addr.username().is_some());
    if let Some(user) = addr.as_ref().and_then(|addr| addr.username()) {
        let user = percent_decode(user);
        let password = addr
            .as_ref()
            .and_then(|addr| addr.password())
            .map(percent_decode)
            .unwrap_or_default();
        options = options
            .custom_inbox_prefix(format!("_INBOX_{user}"))
            .user_and_password(user, password);
    }
    options
        .connect(urls)
        .await
        .map_err(|source| Error::Unreachable { url: shown, source })
}

/// The URL without its password, for messages and logs.
fn redacted(url: &str) -> String {
    match url.parse::<async_nats::ServerAddr>() {
        Ok(addr) if addr.password().is_some() => {
            let mut url = addr.into_inner();
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => url.to_owned(),
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Inbound messages are kept a day after they arrive (for diagnosis and the workers' catch-up) and at most
/// the layout's `inbound_max_bytes`. When full, the stream refuses new messages rather than dropping unprocessed ones:
/// the ingress then leaves them unacknowledged at WhatsApp, which redelivers them later. The dedup window
/// absorbs re-published WhatsApp messages.
pub fn inbound_stream(subjects: &Subjects, layout: &StreamLayout) -> stream::Config {
    stream::Config {
        name: subjects.inbound_stream(),
        description: Some("Inbound customer messages, one subject per chat".into()),
        subjects: vec![subjects.inbound_all()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        // Workers read a chat's earlier messages by subject to answer them in order.
        allow_direct: true,
        max_age: Duration::from_secs(24 * 3600),
        max_bytes: layout.inbound_max_bytes,
        discard: stream::DiscardPolicy::New,
        duplicate_window: Duration::from_secs(10 * 60),
        num_replicas: layout.replicas,
        ..Default::default()
    }
}

/// Replies waiting to be sent; a day is long enough for an ingress fail-over. When full, publishing a reply
/// fails and it stays in the database outbox, which is retried: nothing is dropped.
pub fn outbound_stream(subjects: &Subjects, layout: &StreamLayout) -> stream::Config {
    stream::Config {
        name: subjects.outbound_stream(),
        description: Some("Replies to send on WhatsApp, one subject per tenant".into()),
        subjects: vec![subjects.outbound_all()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(24 * 3600),
        max_bytes: layout.outbound_max_bytes,
        discard: stream::DiscardPolicy::New,
        duplicate_window: Duration::from_secs(10 * 60),
        num_replicas: layout.replicas,
        ..Default::default()
    }
}

/// Domain events (live dashboard pages, integrators), kept 3 days and at most `events_max_bytes`: they
/// carry customers' message texts, which the database keeps anyway. When full, the oldest go first.
pub fn events_stream(subjects: &Subjects, layout: &StreamLayout) -> stream::Config {
    stream::Config {
        name: subjects.events_stream(),
        description: Some("Domain events per tenant and kind, replayable".into()),
        subjects: vec![subjects.events_all()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(3 * 24 * 3600),
        max_bytes: layout.events_max_bytes,
        discard: stream::DiscardPolicy::Old,
        duplicate_window: Duration::from_secs(10 * 60),
        num_replicas: layout.replicas,
        ..Default::default()
    }
}

/// How long JetStream waits for a worker's ack before redelivering; a worker sends progress acks every
/// third of it while it works on a message, so only a dead worker's messages are redelivered.
pub const WORKERS_ACK_WAIT: Duration = Duration::from_secs(90);

/// The workers' shared durable pull consumer: explicit acks and no delivery limit — a message is redelivered
/// until a worker stored its effect or its dead letter (the worker, not JetStream, decides when to give up,
/// and never because the database or NATS was down).
pub fn workers_consumer(subjects: &Subjects) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(subjects.workers_consumer()),
        description: Some("Tdjaasa workers".into()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: WORKERS_ACK_WAIT,
        max_deliver: -1,
        max_ack_pending: 10_000,
        ..Default::default()
    }
}

/// Per-tenant WhatsApp connection leases: an entry expires unless its owner renews it.
///
/// Written as the KV bucket's backing stream because `create_key_value` first queries account info, whose
/// 2.9 reply async-nats 0.51 cannot parse; the stream below is exactly what that call would create, and
/// `get_key_value` opens it as a bucket on every server version.
pub fn lease_bucket_stream(subjects: &Subjects, layout: &StreamLayout) -> stream::Config {
    let bucket = subjects.lease_bucket();
    let max_age = Duration::from_secs(30);
    stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("Which ingress node holds each tenant's WhatsApp connection".into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        duplicate_window: max_age.min(Duration::from_secs(120)),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        storage: stream::StorageType::File,
        num_replicas: layout.replicas,
        ..Default::default()
    }
}

/// Creates or updates every stream, the workers' consumer and the lease bucket. Safe to run concurrently
/// from several processes and on every start.
pub async fn provision(
    client: &async_nats::Client,
    subjects: &Subjects,
    layout: &StreamLayout,
) -> Result<()> {
    // A cluster that just formed, or is electing a leader, times its JetStream requests out for a while: every
    // step is idempotent, so the whole provisioning is tried again rather than failing the service's start.
    let started = std::time::Instant::now();
    let mut wait = Duration::from_millis(200);
    loop {
        match provision_once(client, subjects, layout).await {
            Err(e) if e.is_transient() && started.elapsed() < PROVISION_PATIENCE => {
                tracing::warn!(error = %e, retry_in = ?wait, "JetStream not ready, provisioning again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            done => return done,
        }
    }
}

/// How long provisioning keeps trying while JetStream answers with timeouts or "temporarily unavailable".
const PROVISION_PATIENCE: Duration = Duration::from_secs(60);

async fn provision_once(
    client: &async_nats::Client,
    subjects: &Subjects,
    layout: &StreamLayout,
) -> Result<()> {
    let js = jetstream::new(client.clone());
    for config in [
        inbound_stream(subjects, layout),
        outbound_stream(subjects, layout),
        events_stream(subjects, layout),
    ] {
        apply_stream(&js, config).await?;
    }
    let inbound = js
        .get_stream(subjects.inbound_stream())
        .await
        .map_err(|e| provision_error("inbound stream", e))?;
    apply_consumer(&inbound, workers_consumer(subjects)).await?;
    apply_stream(&js, lease_bucket_stream(subjects, layout)).await?;
    js.get_key_value(subjects.lease_bucket())
        .await
        .map_err(|e| provision_error("lease bucket", e))?;
    tracing::info!(
        prefix = subjects.prefix(),
        "JetStream streams, consumer and KV bucket are in place"
    );
    Ok(())
}

async fn apply_stream(js: &jetstream::Context, config: stream::Config) -> Result<()> {
    let name = config.name.clone();
    match js.get_stream(&name).await {
        Ok(mut existing) => {
            let current = existing
                .info()
                .await
                .map_err(|e| provision_error(&name, e))?
                .config
                .clone();
            if differs(&current, &config) {
                js.update_stream(&config)
                    .await
                    .map_err(|e| provision_error(&name, e))?;
                tracing::info!(stream = %name, "updated stream definition");
            }
        }
        Err(_) => {
            // Another process may create it between our look-up and this call: get_or_create absorbs that.
            js.get_or_create_stream(config)
                .await
                .map_err(|e| provision_error(&name, e))?;
            tracing::info!(stream = %name, "created stream");
        }
    }
    Ok(())
}

/// Creates the consumer, or updates it when a field this module manages changed (a restart rolls out a new
/// definition).
async fn apply_consumer(
    stream: &jetstream::stream::Stream,
    wanted: consumer::pull::Config,
) -> Result<()> {
    let name = wanted.durable_name.clone().unwrap_or_default();
    match stream.get_consumer::<consumer::pull::Config>(&name).await {
        Ok(mut existing) => {
            let current = existing
                .info()
                .await
                .map_err(|e| provision_error(&name, e))?
                .config
                .clone();
            if consumer_differs(&current, &wanted) {
                stream
                    .create_consumer(wanted)
                    .await
                    .map_err(|e| provision_error(&name, e))?;
                tracing::info!(consumer = %name, "updated consumer definition");
            }
        }
        Err(_) => {
            stream
                .get_or_create_consumer(&name, wanted)
                .await
                .map_err(|e| provision_error(&name, e))?;
        }
    }
    Ok(())
}

fn consumer_differs(current: &consumer::Config, wanted: &consumer::pull::Config) -> bool {
    current.ack_wait != wanted.ack_wait
        || current.max_deliver != wanted.max_deliver
        || current.max_ack_pending != wanted.max_ack_pending
        || current.description != wanted.description
}

/// The fields this module manages; others (set by an operator) are left alone.
fn differs(current: &stream::Config, wanted: &stream::Config) -> bool {
    current.subjects != wanted.subjects
        || current.max_age != wanted.max_age
        || current.max_bytes != wanted.max_bytes
        || current.discard != wanted.discard
        || current.duplicate_window != wanted.duplicate_window
        || current.num_replicas != wanted.num_replicas
        || current.description != wanted.description
        || current.allow_direct != wanted.allow_direct
}

/// JetStream's error code when a stream's reserved size does not fit the server's storage.
const INSUFFICIENT_STORAGE: &str = "error code 10047";

impl Error {
    /// A JetStream that is not ready yet (timeout, no leader, temporarily unavailable), or a stream store the
    /// server failed to create (10049: nats-server removes an account's empty stream directory when its last
    /// stream goes, racing a stream created at that moment — seen in CI), not a refusal.
    fn is_transient(&self) -> bool {
        match self {
            Error::Provision { message, .. } => {
                let message = message.to_lowercase();
                [
                    "timed out",
                    "no responders",
                    "temporarily unavailable",
                    "leader",
                    "error creating store for stream",
                ]
                .iter()
                .any(|sign| message.contains(sign))
            }
            _ => false,
        }
    }
}

fn provision_error(what: &str, e: impl std::fmt::Display) -> Error {
    let (what, message) = (what.to_owned(), e.to_string());
    if message.contains(INSUFFICIENT_STORAGE) {
        Error::NoStorage { what, message }
    } else {
        Error::Provision { what, message }
    }
}

#[cfg(test)]
mod transient_tests {
    use super::{Error, provision_error};

    #[test]
    fn a_jetstream_not_ready_is_tried_again_and_a_refusal_is_not() {
        assert!(provision_error("stream X", "jetstream request timed out").is_transient());
        assert!(
            provision_error(
                "stream X",
                "JetStream system temporarily unavailable (code 503)"
            )
            .is_transient()
        );
        assert!(
            provision_error(
                "stream X",
                "jetstream error: error creating store for stream (code 500, error code 10049)"
            )
            .is_transient()
        );
        assert!(
            !provision_error(
                "stream X",
                "stream name already in use with a different configuration"
            )
            .is_transient()
        );
        assert!(
            !Error::NoStorage {
                what: "stream X".into(),
                message: "insufficient storage resources".into()
            }
            .is_transient()
        );
    }
}
