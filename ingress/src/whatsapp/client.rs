//! One tenant's running whatsapp-rust client: builds a fresh `Bot` per start (a client is single-use once it
//! stopped), translates its events onto our channel, and stops it gracefully or aborts it.
//!
//! Shape: the crate dispatches events inline to [`Forwarder`], which maps them (cheap, synchronous) onto an
//! unbounded internal queue; one supervisor task per session owns the crate's `BotHandle`, forwards the
//! queue to the bounded channel the caller reads, and handles terminal states. Dropping the
//! [`WaConnection`] aborts the supervisor, which drops the `BotHandle`, which aborts the client.
//!
//! Customer messages come through the crate's durability hook ([`StoreBeforeReceipt`]), which waits on the
//! client's receive path for the session to accept them. So nothing that itself waits for that path (a
//! graceful stop, the unlink request of a logout) may wait behind an acceptance: the hook's gate closes
//! first (`shutdown`, `logout`, the supervisor stopping the client), which refuses what is pending (left to
//! WhatsApp's redelivery) instead of stalling the stop until its timeout aborts the client.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use whatsapp_rust::bot::{Bot, BotBuilderError, BotHandle};
use whatsapp_rust::client::Client;
use whatsapp_rust::download::MediaType;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::prelude::MessageField;
use whatsapp_rust::transport::{Transport, TransportEvent, TransportFactory};
use whatsapp_rust::types::events::{Event, EventHandler, EventInterest, EventKind};
use whatsapp_rust::upload::UploadResponse;
use whatsapp_rust::wacore::net::{StreamingHttpResponse, UploadBody};
use whatsapp_rust::wacore::store::DevicePropsOverride;
use whatsapp_rust::wacore::store::traits::Backend;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{
    ClientError, ErrorChainExt, InboundDurabilityHook, IqError, SendError, UploadOptions,
};

use super::events::{Mapped, incoming_message, map_event};
use super::jid::parse_recipient;
use super::session_store::{PgSessionStore, SessionStoreError};
use crate::gateway::{Connection, Delivery, GatewayError, GatewayEvent, StartOptions};

/// Client settings shared by every tenant.
#[derive(Debug, Clone)]
pub struct WaConfig {
    /// Shown in the phone's "Linked devices" list (sent as the device's OS name on pairing).
    pub device_name: String,
    /// How long a graceful stop (flush, close) may take before the client is aborted. A client stuck in a
    /// connect attempt does not notice `disconnect` until that attempt times out (20 s in the crate).
    pub shutdown_timeout: Duration,
    /// Pin the WhatsApp Web version instead of fetching the current one over HTTP before each connect.
    pub version: Option<(u32, u32, u32)>,
    /// Events buffered for a slow reader before the supervisor waits. Nothing is dropped: the crate's
    /// events queue up in memory meanwhile.
    pub event_capacity: usize,
}

impl Default for WaConfig {
    fn default() -> Self {
        Self {
            device_name: "Tdjaasa".into(),
            shutdown_timeout: Duration::from_secs(10),
            version: None,
            event_capacity: 256,
        }
    }
}

/// How clients reach WhatsApp: the crate's WebSocket transport and HTTP client in production, fakes in tests.
#[derive(Clone)]
pub struct Network {
    transport: Arc<dyn TransportFactory>,
    http: Arc<dyn HttpClient>,
}

impl Network {
    /// The real thing: `wss://web.whatsapp.com/ws/chat` and `ureq` for version fetches and media.
    pub fn whatsapp() -> Self {
        Self {
            transport: Arc::new(whatsapp_rust::transport::TokioWebSocketTransportFactory::new()),
            http: Arc::new(whatsapp_rust::http::UreqHttpClient::new()),
        }
    }

    /// Any transport and HTTP client, e.g. the offline fakes of the lifecycle tests.
    pub fn new(transport: Arc<dyn TransportFactory>, http: Arc<dyn HttpClient>) -> Self {
        Self { transport, http }
    }
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").finish_non_exhaustive()
    }
}

/// Where a session's state lives. Production always uses [`PgSessionStore`]; `Other` is for tests and
/// benchmarks on the crate's `InMemoryBackend`, and is not wiped on logout.
#[derive(Clone)]
pub enum SessionBackend {
    Postgres(Arc<PgSessionStore>),
    Other(Arc<dyn Backend>),
}

impl SessionBackend {
    /// The backend handed to the client. For Postgres it is an allocation of its own, so that once every
    /// clone is gone we know the client can no longer write (see [`released`]).
    fn for_client(&self) -> Arc<dyn Backend> {
        match self {
            Self::Postgres(store) => Arc::new(PgSessionStore::clone(store)),
            Self::Other(backend) => backend.clone(),
        }
    }

    async fn wipe(&self) -> Result<(), SessionStoreError> {
        match self {
            Self::Postgres(store) => store.wipe().await,
            Self::Other(_) => Ok(()),
        }
    }
}

/// Builds and spawns a fresh client for `tenant_id` on `session`. The returned receiver closes when the
/// client has stopped for good (terminal event, `shutdown`, `logout`, or the connection dropped).
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn start_session(
    config: &WaConfig,
    network: &Network,
    tenant_id: Uuid,
    options: StartOptions,
    session: SessionBackend,
) -> Result<(WaConnection, mpsc::Receiver<GatewayEvent>), GatewayError> {
    let (signal_tx, signal_rx) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let hook = StoreBeforeReceipt {
        signals: signal_tx.clone(),
        closed: stop.child_token(),
    };
    let client_backend = session.for_client();
    let client_store = Arc::downgrade(&client_backend);

    let mut builder = Bot::builder()
        .with_backend_arc(client_backend)
        .with_transport_factory(ObservedTransport {
            inner: network.transport.clone(),
            signals: signal_tx.clone(),
        })
        .with_http_client(SharedHttp(network.http.clone()))
        // The receipt of a customer message goes to WhatsApp only once the session stored it in JetStream.
        .with_inbound_durability_hook(hook.clone())
        .with_device_props(DevicePropsOverride::new().with_os(config.device_name.clone()))
        // A sales assistant answers new messages; downloading the chat history costs traffic and memory.
        .skip_history_sync();
    if let Some(version) = config.version {
        builder = builder.with_version(version);
    }
    if let Some(phone) = &options.pairing_phone {
        let phone_number: String = phone.chars().filter(char::is_ascii_digit).collect();
        builder = builder.with_pair_code(PairCodeOptions {
            phone_number,
            ..Default::default()
        });
    }
    let bot = builder.build().await.map_err(build_error)?;

    let client = bot.client();
    // Subscribed before `spawn`, so no event can be missed; the bus lives (and dies) with the client.
    client
        .subscribe(
            Forwarder::interest(),
            Arc::new(Forwarder {
                client: Arc::downgrade(&client),
                signals: signal_tx,
            }),
        )
        .detach();

    let (events_tx, events_rx) = mpsc::channel(config.event_capacity.max(1));
    let handle = bot.spawn();
    let supervisor = tokio::spawn(supervise(Supervisor {
        tenant_id,
        handle,
        signals: signal_rx,
        events: events_tx,
        stop: stop.clone(),
        hook_closed: hook.closed.clone(),
        session: session.clone(),
        client_store,
        shutdown_timeout: config.shutdown_timeout,
    }));
    tracing::info!(
        pair_code = options.pairing_phone.is_some(),
        "whatsapp client started"
    );

    Ok((
        WaConnection {
            tenant_id,
            client: Arc::downgrade(&client),
            session,
            stop,
            hook,
            supervisor: Mutex::new(Some(supervisor)),
            shutdown_timeout: config.shutdown_timeout,
        },
        events_rx,
    ))
}

fn build_error(error: BotBuilderError) -> GatewayError {
    match error {
        // The device row could not be read or created: the database, most likely, which may come back.
        BotBuilderError::Store(e) => GatewayError::Transient(format!("session store: {e}")),
        other => GatewayError::Permanent(format!("cannot build the WhatsApp client: {other}")),
    }
}

/// A running client. Dropping it aborts the client (no flush); prefer [`Connection::shutdown`].
pub struct WaConnection {
    tenant_id: Uuid,
    /// Weak, so that a stopped client is freed even while the connection object lives on: the logout wipe
    /// waits for exactly that.
    client: Weak<Client>,
    session: SessionBackend,
    stop: CancellationToken,
    hook: StoreBeforeReceipt,
    supervisor: Mutex<Option<JoinHandle<Exit>>>,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for WaConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaConnection")
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

impl WaConnection {
    /// The crate's client while it exists, for diagnostics (`stats()`, `memory_report()`).
    pub fn client(&self) -> Option<Arc<Client>> {
        self.client.upgrade()
    }

    /// Test hook: hands `batch` to the session exactly as the crate's durability hook does; `Ok` means the
    /// crate would now acknowledge the batch to WhatsApp.
    #[cfg(feature = "test-support")]
    pub async fn deliver_inbound(
        &self,
        batch: &[whatsapp_rust::types::events::InboundMessage],
    ) -> anyhow::Result<()> {
        hand_over(&self.hook.signals, &self.hook.closed, &self.client, batch).await
    }

    /// The client, if it is connected to WhatsApp right now.
    fn connected_client(&self) -> Result<Arc<Client>, GatewayError> {
        // Fail fast while reconnecting, instead of queueing a send on a socket that is not there.
        self.client
            .upgrade()
            .filter(|client| client.is_connected())
            .ok_or_else(|| GatewayError::NotConnected("not connected to WhatsApp".into()))
    }

    /// Waits for the supervisor to end, aborting it (and with it the client) if it overruns the stop bound.
    async fn join_supervisor(&self) -> Exit {
        let task = self
            .supervisor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let Some(mut task) = task else {
            return Exit::default();
        };
        // The supervisor bounds its own stop by `shutdown_timeout`; the margin covers the session wipe.
        let bound = self.shutdown_timeout + Duration::from_secs(5);
        match tokio::time::timeout(bound, &mut task).await {
            Ok(Ok(exit)) => exit,
            Ok(Err(join_error)) => {
                tracing::error!(tenant_id = %self.tenant_id, error.message = %join_error, "whatsapp supervisor failed");
                Exit::default()
            }
            Err(_) => {
                tracing::warn!(tenant_id = %self.tenant_id, "whatsapp supervisor overran its stop bound; aborting");
                task.abort();
                Exit::default()
            }
        }
    }
}

impl Drop for WaConnection {
    fn drop(&mut self) {
        if let Some(task) = self
            .supervisor
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        {
            // Dropping the supervisor's future drops the BotHandle, whose own drop aborts the client.
            task.abort();
        }
    }
}

#[async_trait]
impl Connection for WaConnection {
    async fn send_text(&self, to_jid: &str, text: &str) -> Result<String, GatewayError> {
        let to = parse_recipient(to_jid).map_err(GatewayError::Permanent)?;
        let client = self.connected_client()?;
        let sent = client.send_text(to, text).await.map_err(send_error)?;
        Ok(sent.message_id)
    }

    async fn send_image(
        &self,
        to_jid: &str,
        bytes: Vec<u8>,
        mime: &str,
        caption: &str,
    ) -> Result<String, GatewayError> {
        let to = parse_recipient(to_jid).map_err(GatewayError::Permanent)?;
        let client = self.connected_client()?;
        let uploaded = client
            .upload(bytes, MediaType::Image, UploadOptions::new())
            .await
            .map_err(upload_error)?;
        let message = image_message(uploaded, mime, caption);
        let sent = client.send_message(to, message).await.map_err(send_error)?;
        Ok(sent.message_id)
    }

    async fn typing(&self, to_jid: &str, on: bool) -> Result<(), GatewayError> {
        let to = parse_recipient(to_jid).map_err(GatewayError::Permanent)?;
        let client = self.connected_client()?;
        let chatstate = client.chatstate();
        let sent = if on {
            chatstate.send_composing(&to).await
        } else {
            chatstate.send_paused(&to).await
        };
        sent.map_err(|e| match e {
            whatsapp_rust::features::ChatStateError::Client(e) => client_error(e),
            other => GatewayError::Transient(other.to_string()),
        })
    }

    async fn logout(&self) -> Result<(), GatewayError> {
        // Sends the unlink IQ when connected, dispatches `LoggedOut` (the supervisor stops the client,
        // wipes the session, then emits it) and disconnects.
        // The unlink's answer comes through the receive path, which a pending acceptance would hold up.
        self.hook.closed.cancel();
        if let Some(client) = self.client.upgrade() {
            client.logout().await;
        }
        self.stop_after_logout().await
    }

    async fn shutdown(&self) {
        self.stop.cancel();
        self.join_supervisor().await;
    }
}

impl WaConnection {
    async fn stop_after_logout(&self) -> Result<(), GatewayError> {
        let exit = self.join_supervisor().await;
        if exit.wiped {
            return Ok(());
        }
        // The supervisor was gone already, overran, or its wipe failed: the client has been stopped or
        // aborted either way.
        self.stop.cancel();
        self.session.wipe().await.map_err(|e| {
            tracing::error!(tenant_id = %self.tenant_id, error.message = %e, "wiping the WhatsApp session failed");
            GatewayError::Transient(format!("logged out, but the stored session was not deleted: {e}"))
        })
    }
}

/// The message announcing an uploaded photo: WhatsApp's CDN address, its keys and hashes, and the caption.
fn image_message(uploaded: UploadResponse, mime: &str, caption: &str) -> wa::Message {
    wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            url: Some(uploaded.url),
            direct_path: Some(uploaded.direct_path),
            media_key: Some(uploaded.media_key.to_vec()),
            file_enc_sha256: Some(uploaded.file_enc_sha256.to_vec()),
            file_sha256: Some(uploaded.file_sha256.to_vec()),
            file_length: Some(uploaded.file_length),
            mimetype: Some(mime.to_owned()),
            caption: (!caption.is_empty()).then(|| caption.to_owned()),
            media_key_timestamp: Some(uploaded.media_key_timestamp),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An upload that failed: the media connection or the CDN, which may recover; never the recipient. Only the
/// status is kept, as the crate's errors may quote upload addresses and their auth tokens.
fn upload_error(error: anyhow::Error) -> GatewayError {
    let chain: &(dyn std::error::Error + Send + Sync + 'static) = error.as_ref();
    match chain.http_status() {
        Some(status) => GatewayError::Transient(format!("photo upload failed (HTTP {status})")),
        None => GatewayError::Transient("photo upload failed before any answer".into()),
    }
}

/// How a send failure should be handled by the caller.
pub fn send_error(error: SendError) -> GatewayError {
    match error {
        SendError::NotLoggedIn => GatewayError::NotConnected(error.to_string()),
        SendError::Client(e) => client_error(e),
        SendError::Iq(e) => iq_error(e),
        SendError::InvalidRequest(reason) => GatewayError::Permanent(reason),
        // Signal encryption, a failed pre-wire flush of ratchet state, group resolution: usually the store
        // or the connection, which may recover.
        other => GatewayError::Transient(other.to_string()),
    }
}

fn client_error(error: ClientError) -> GatewayError {
    match error {
        ClientError::NotConnected | ClientError::NotLoggedIn => {
            GatewayError::NotConnected(error.to_string())
        }
        ClientError::Iq(e) => iq_error(e),
        other => GatewayError::Transient(other.to_string()),
    }
}

fn iq_error(error: IqError) -> GatewayError {
    match error {
        IqError::NotConnected | IqError::Disconnected(_) | IqError::InternalChannelClosed => {
            GatewayError::NotConnected(error.to_string())
        }
        // The server refused the request itself (bad recipient, forbidden): retrying sends the same thing.
        IqError::ServerError { code, .. }
            if (400..500).contains(&code) && code != 408 && code != 429 =>
        {
            GatewayError::Permanent(error.to_string())
        }
        other => GatewayError::Transient(other.to_string()),
    }
}

/// What the supervisor left behind.
#[derive(Debug, Default, Clone, Copy)]
struct Exit {
    /// The stored session was deleted after a logout.
    wiped: bool,
}

struct Supervisor {
    tenant_id: Uuid,
    handle: BotHandle,
    signals: mpsc::UnboundedReceiver<Mapped>,
    events: mpsc::Sender<GatewayEvent>,
    stop: CancellationToken,
    /// The durability hook's gate, closed before the client is stopped (see the module doc).
    hook_closed: CancellationToken,
    session: SessionBackend,
    /// The client's own handle on the store; dead once the client and all its tasks are gone.
    client_store: Weak<dyn Backend>,
    shutdown_timeout: Duration,
}

/// Forwards the client's events until it stops, then settles its terminal state. Owning the `BotHandle`
/// here means aborting this task aborts the client.
async fn supervise(s: Supervisor) -> Exit {
    let Supervisor {
        tenant_id,
        mut handle,
        mut signals,
        events,
        stop,
        hook_closed,
        session,
        client_store,
        shutdown_timeout,
    } = s;
    // A graceful stop waits for the receive path, where the hook may wait for a message this task, busy
    // stopping, would never forward.
    let stop_now = |handle| {
        hook_closed.cancel();
        stop_client(handle, shutdown_timeout, tenant_id)
    };
    let terminal = loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => {
                // `shutdown`: no event follows it.
                stop_now(handle).await;
                return Exit::default();
            }
            signal = signals.recv() => match signal {
                Some(Mapped::Event(event)) => {
                    if !pass_to_reader(&events, event, &stop).await {
                        stop_now(handle).await;
                        return Exit::default();
                    }
                }
                Some(Mapped::Terminal { event, wipe_session }) => break Some((event, wipe_session)),
                // Only the client holds the senders, and it outlives the handle; stop anyway.
                None => break None,
            },
            () = &mut handle => break None,
        }
    };

    // Let the client finish (it stops by itself after a terminal event; `shutdown` just makes sure and
    // flushes), so nothing writes the store after the wipe below.
    stop_now(handle).await;
    let terminal = match terminal {
        Some(terminal) => Some(terminal),
        // The run loop ended on its own: deliver what it reported on the way out.
        None => {
            let mut terminal = None;
            while let Ok(signal) = signals.try_recv() {
                match signal {
                    // Refused when the gate closed: WhatsApp delivers it again.
                    Mapped::Event(GatewayEvent::Message(..)) => {}
                    Mapped::Event(event) => {
                        if !pass_to_reader(&events, event, &stop).await {
                            return Exit::default();
                        }
                    }
                    Mapped::Terminal {
                        event,
                        wipe_session,
                    } => {
                        terminal = Some((event, wipe_session));
                        break;
                    }
                }
            }
            terminal
        }
    };
    let Some((event, wipe_session)) = terminal else {
        tracing::warn!(%tenant_id, "whatsapp client stopped without a terminal event");
        return Exit::default();
    };

    let mut exit = Exit::default();
    if wipe_session {
        // The run loop has ended, but its tasks may still be saving (the device saver's final flush, the
        // crate's own `logout` flushing in the caller's task): a write after the wipe would bring the dead
        // session back.
        if !released(&client_store, shutdown_timeout).await {
            tracing::warn!(%tenant_id, "whatsapp client still holds its store; wiping anyway");
        }
        match session.wipe().await {
            Ok(()) => exit.wiped = true,
            // The next start finds a dead device, the server logs it out again, and the wipe is retried.
            Err(e) => {
                tracing::error!(%tenant_id, error.cause_chain = ?e, error.message = %e, "wiping the logged-out WhatsApp session failed")
            }
        }
    }
    tracing::info!(%tenant_id, event = terminal_name(&event), "whatsapp client stopped");
    pass_to_reader(&events, event, &stop).await;
    exit
}

/// Sends one event to the reader; `false` when `shutdown` was asked meanwhile (a full channel must not block
/// it). A reader that went away is not an error: the connection keeps running until it is shut down.
async fn pass_to_reader(
    events: &mpsc::Sender<GatewayEvent>,
    event: GatewayEvent,
    stop: &CancellationToken,
) -> bool {
    tokio::select! {
        biased;
        () = stop.cancelled() => false,
        sent = events.send(event) => {
            if sent.is_err() {
                tracing::debug!("whatsapp event dropped: nobody reads the channel");
            }
            true
        }
    }
}

/// Waits until nothing but us holds the session store, i.e. the client and its tasks are gone.
async fn released(client_store: &Weak<dyn Backend>, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while client_store.strong_count() > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// Graceful stop (disconnect, flush device state, wait for the run loop) within `timeout`; past it, the
/// dropped `BotHandle` aborts the client.
async fn stop_client(handle: BotHandle, timeout: Duration, tenant_id: Uuid) {
    if tokio::time::timeout(timeout, handle.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(%tenant_id, ?timeout, "whatsapp client did not stop in time; aborted");
    }
}

fn terminal_name(event: &GatewayEvent) -> &'static str {
    match event {
        GatewayEvent::QrExhausted => "qr_exhausted",
        GatewayEvent::LoggedOut { .. } => "logged_out",
        GatewayEvent::Replaced => "replaced",
        GatewayEvent::TemporaryBan { .. } => "temporary_ban",
        _ => "other",
    }
}

/// The crate's event handler: maps inline on the dispatch path and queues the result, so nothing here can
/// stall the client's read loop.
struct Forwarder {
    client: Weak<Client>,
    signals: mpsc::UnboundedSender<Mapped>,
}

impl Forwarder {
    fn interest() -> EventInterest {
        EventInterest::of(&[
            EventKind::PairingQrCode,
            EventKind::PairingCode,
            EventKind::PairingCodeError,
            EventKind::PairingCodeRefresh,
            EventKind::PairingQrCodesExhausted,
            EventKind::Connected,
            EventKind::Disconnected,
            EventKind::LoggedOut,
            EventKind::StreamReplaced,
            EventKind::TemporaryBan,
            EventKind::ClientOutdated,
            EventKind::ConnectFailure,
        ])
    }
}

impl EventHandler for Forwarder {
    fn handle_event(&self, event: Arc<Event>) {
        match &*event {
            // No gateway event for these: the shop simply gets no (new) code and can start again.
            Event::PairingCodeError(e) => {
                tracing::warn!(error.message = %e.error, "whatsapp pair code request failed");
            }
            Event::PairingCodeRefresh(_) => {
                tracing::info!("whatsapp pair code expired");
            }
            _ => {}
        }
        let own_pn = match &*event {
            Event::Connected(_) => self.client.upgrade().and_then(|client| {
                client
                    .persistence_manager()
                    .get_device_snapshot()
                    .pn
                    .clone()
            }),
            _ => None,
        };
        for mapped in map_event(&event, own_pn.as_ref()) {
            // The supervisor is gone only after the client stopped; late events have nowhere to go.
            let _ = self.signals.send(mapped);
        }
    }

    fn interest(&self) -> EventInterest {
        Self::interest()
    }
}

/// The crate's inbound durability hook: every decrypted message goes to the session (in order, on the same
/// queue as the other events) with a [`Delivery`], and the batch is acknowledged to WhatsApp only once the
/// session accepted each of its messages — stored in JetStream, or deliberately ignored. Until then the crate
/// keeps the decrypted copies in the session store (PostgreSQL); if the session does not accept them (the
/// lease was lost, the node stops or crashes), WhatsApp redelivers them on the next connection, to whichever
/// node then holds the shop. The session only publishes and never waits on this client while it handles a
/// message; what does wait on the client closes `closed` first (see the module doc).
#[derive(Clone)]
struct StoreBeforeReceipt {
    signals: mpsc::UnboundedSender<Mapped>,
    /// Cancelled once nobody will accept messages any more: pending ones are refused at once.
    closed: CancellationToken,
}

#[async_trait]
impl InboundDurabilityHook for StoreBeforeReceipt {
    async fn on_messages(
        &self,
        client: Arc<Client>,
        batch: &[whatsapp_rust::types::events::InboundMessage],
    ) -> anyhow::Result<()> {
        hand_over(&self.signals, &self.closed, &Arc::downgrade(&client), batch).await
    }
}

/// Hands every message of `batch` to the session and waits until it accepted them all, or until `closed`.
/// Their media download through `client`: the session downloads what it keeps before accepting, so a
/// message whose media could not be stored yet is redelivered like any other.
pub(crate) async fn hand_over(
    signals: &mpsc::UnboundedSender<Mapped>,
    closed: &CancellationToken,
    client: &Weak<Client>,
    batch: &[whatsapp_rust::types::events::InboundMessage],
) -> anyhow::Result<()> {
    let mut accepted = Vec::with_capacity(batch.len());
    for message in batch
        .iter()
        .filter_map(|message| incoming_message(message, client))
    {
        if closed.is_cancelled() {
            anyhow::bail!("the connection is stopping: WhatsApp will redeliver");
        }
        let (delivery, accepting) = Delivery::new();
        signals
            .send(Mapped::Event(GatewayEvent::Message(
                Box::new(message),
                delivery,
            )))
            .map_err(|_| anyhow::anyhow!("the session has stopped: WhatsApp will redeliver"))?;
        accepted.push(accepting);
    }
    for accepting in accepted {
        tokio::select! {
            biased;
            accepted = accepting => accepted
                .map_err(|_| anyhow::anyhow!("message not stored: WhatsApp will redeliver"))?,
            () = closed.cancelled() => {
                anyhow::bail!("the connection is stopping: WhatsApp will redeliver")
            }
        }
    }
    Ok(())
}

/// Wraps the transport factory to report each connection attempt: the crate emits no event for an attempt,
/// nor for one that fails before a socket exists (DNS, TCP, TLS), which is exactly the offline case. Such a
/// failure is reported as `Unreachable`: the ingress session then stops this client and retries on its own
/// backoff with one stable "no internet?" status, instead of `Connecting`/`Disconnected` at every attempt
/// (a flickering status) and the crate's backoff, which grows to 15 minutes.
struct ObservedTransport {
    inner: Arc<dyn TransportFactory>,
    signals: mpsc::UnboundedSender<Mapped>,
}

#[async_trait]
impl TransportFactory for ObservedTransport {
    async fn create_transport(
        &self,
    ) -> anyhow::Result<(
        Arc<dyn Transport>,
        whatsapp_rust::async_channel::Receiver<TransportEvent>,
    )> {
        let _ = self.signals.send(Mapped::Event(GatewayEvent::Connecting));
        // The crate drops this future after its 20 s connect timeout; report that too.
        let mut pending = AttemptGuard {
            signals: &self.signals,
            armed: true,
        };
        let result = self.inner.create_transport().await;
        pending.armed = false;
        if let Err(e) = &result {
            tracing::debug!(error.message = %e, "whatsapp transport connect failed");
            let _ = self.signals.send(Mapped::Event(GatewayEvent::Unreachable {
                reason: format!("connect failed: {e}"),
            }));
        }
        result
    }
}

struct AttemptGuard<'a> {
    signals: &'a mpsc::UnboundedSender<Mapped>,
    armed: bool,
}

impl Drop for AttemptGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.signals.send(Mapped::Event(GatewayEvent::Unreachable {
                reason: "connect timed out".into(),
            }));
        }
    }
}

/// `with_http_client` takes a value; this lets one shared client serve every session.
struct SharedHttp(Arc<dyn HttpClient>);

#[async_trait]
impl HttpClient for SharedHttp {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        self.0.execute(request).await
    }

    fn supports_streaming(&self) -> bool {
        self.0.supports_streaming()
    }

    fn execute_streaming(&self, request: HttpRequest) -> anyhow::Result<StreamingHttpResponse> {
        self.0.execute_streaming(request)
    }

    fn supports_upload_streaming(&self) -> bool {
        self.0.supports_upload_streaming()
    }

    fn execute_upload(
        &self,
        request: HttpRequest,
        body: UploadBody,
        content_length: u64,
    ) -> anyhow::Result<HttpResponse> {
        self.0.execute_upload(request, body, content_length)
    }

    fn resource_report(&self) -> Option<whatsapp_rust::wacore::stats::HttpResourceReport> {
        self.0.resource_report()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::events::tests::{inbound, text};
    use super::*;

    /// The session's side: accepts (or not) each message handed over, in order.
    async fn session(mut signals: mpsc::UnboundedReceiver<Mapped>, accept: bool) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(Mapped::Event(GatewayEvent::Message(message, delivery))) =
            signals.recv().await
        {
            seen.push(message.chat_jid);
            if accept {
                delivery.accept();
            }
        }
        seen
    }

    #[tokio::test]
    async fn a_batch_is_acknowledged_to_whatsapp_only_once_the_session_accepted_every_message() {
        let batch = [
            inbound("2250700000001@s.whatsapp.net", false, text("Bonjour")),
            inbound("120363021033254949@g.us", false, text("Promo")),
            inbound("867051314767696@bot", false, text("not for the session")),
        ];
        let (signals, received) = mpsc::unbounded_channel();
        let accepting = tokio::spawn(session(received, true));

        let committed = hand_over(&signals, &CancellationToken::new(), &Weak::new(), &batch).await;
        drop(signals);

        assert!(committed.is_ok(), "{committed:?}");
        assert_eq!(
            accepting.await.expect("session"),
            ["2250700000001@s.whatsapp.net", "120363021033254949@g.us"],
            "in order; the bot chat needs no acceptance"
        );
    }

    #[tokio::test]
    async fn a_message_the_session_does_not_accept_is_left_for_whatsapp_to_redeliver() {
        let batch = [inbound(
            "2250700000001@s.whatsapp.net",
            false,
            text("Bonjour"),
        )];
        let (signals, received) = mpsc::unbounded_channel();
        tokio::spawn(session(received, false));

        let committed = tokio::time::timeout(
            Duration::from_secs(5),
            hand_over(&signals, &CancellationToken::new(), &Weak::new(), &batch),
        )
        .await
        .expect("answered");

        assert!(committed.is_err(), "the receipt must not be sent");
    }

    #[tokio::test]
    async fn closing_the_gate_refuses_a_message_the_session_still_holds() {
        let batch = [inbound(
            "2250700000001@s.whatsapp.net",
            false,
            text("Bonjour"),
        )];
        let (signals, mut received) = mpsc::unbounded_channel();
        let closed = CancellationToken::new();
        let no_client = Weak::new();
        let stopping = async {
            // The session holds the message (publishing, say) when the connection is stopped.
            let held = received.recv().await;
            closed.cancel();
            held
        };

        let (committed, _held) = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(hand_over(&signals, &closed, &no_client, &batch), stopping)
        })
        .await
        .expect("not held up by the pending message");

        assert!(committed.is_err(), "refused: left to WhatsApp's redelivery");
    }

    #[tokio::test]
    async fn a_stopped_session_accepts_nothing() {
        let batch = [inbound(
            "2250700000001@s.whatsapp.net",
            false,
            text("Bonjour"),
        )];
        let (signals, received) = mpsc::unbounded_channel();
        drop(received);

        assert!(
            hand_over(&signals, &CancellationToken::new(), &Weak::new(), &batch)
                .await
                .is_err()
        );
    }
}
