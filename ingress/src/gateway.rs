//! The gateway contract: the [`WhatsAppGateway`] trait, its [`Connection`] and the [`GatewayEvent`]s they
//! emit — what the ingress needs from a WhatsApp connection library, and nothing more. It has two
//! implementations: [`crate::whatsapp::WhatsAppRustGateway`] (production, on the whatsapp-rust crate) and
//! [`crate::sandbox::SandboxGateway`] (demos and tests, which speaks the same events). Keeping the crate behind
//! this trait confines its API churn to one module.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemas::whatsapp::SandboxMedia;
use schemas::{Location, MediaKind};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// How a tenant links its number the first time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartOptions {
    /// Link with an 8-character pairing code typed on the phone, instead of scanning a QR code.
    pub pairing_phone: Option<String>,
}

/// What kind of chat a message belongs to; the sales bot only answers `Direct` chats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    Direct,
    Group,
    /// Status updates (`status@broadcast`).
    Status,
    Newsletter,
    Broadcast,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMessage {
    /// WhatsApp's message id.
    pub id: String,
    pub chat_jid: String,
    pub kind: ChatKind,
    /// The customer's display name.
    pub push_name: String,
    /// The text, or a media's caption; `None` for media without caption, reactions, etc.
    pub text: Option<String>,
    /// A voice note, photo or other media, announced but not downloaded.
    pub media: Option<IncomingMedia>,
    /// A shared location (or the current point of a live location).
    pub location: Option<Location>,
    /// Sent from the shop's own phone (the owner answering by hand).
    pub from_me: bool,
    pub timestamp: DateTime<Utc>,
}

/// Media as WhatsApp announces it: what it is and how large it claims to be. The bytes are fetched only
/// if the ingress decides to keep them ([`MediaDownload::fetch`]), so a file too large or of a kind the bot
/// does not read costs no traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMedia {
    pub kind: MediaKind,
    /// As the sender's phone declares it (not trusted: the bytes are checked once downloaded).
    pub mime: String,
    /// As the sender declares it, in bytes (0 when unknown).
    pub declared_size: u64,
    /// A recorded voice note (push-to-talk) rather than an audio file.
    pub voice: bool,
    pub seconds: Option<u32>,
    /// A document's file name.
    pub file_name: Option<String>,
    pub download: MediaDownload,
}

/// Where a media's bytes come from: WhatsApp's media servers, or the sandbox's message itself.
#[async_trait]
pub trait MediaSource: Send + Sync {
    /// The decrypted bytes. `Permanent` when retrying cannot help (expired or deleted on the server).
    async fn fetch(&self) -> Result<Vec<u8>, GatewayError>;
}

/// A handle that downloads one message's media when asked. Clones share the source. It compares equal to
/// any other and prints nothing (like [`Delivery`]): it holds media keys and addresses, never for logs.
#[derive(Clone)]
pub struct MediaDownload(Arc<dyn MediaSource>);

impl MediaDownload {
    pub fn new(source: impl MediaSource + 'static) -> Self {
        Self(Arc::new(source))
    }

    /// Media whose bytes are already in hand (the sandbox, tests).
    pub fn ready(bytes: Vec<u8>) -> Self {
        Self::new(Ready(bytes))
    }

    pub async fn fetch(&self) -> Result<Vec<u8>, GatewayError> {
        self.0.fetch().await
    }
}

struct Ready(Vec<u8>);

#[async_trait]
impl MediaSource for Ready {
    async fn fetch(&self) -> Result<Vec<u8>, GatewayError> {
        Ok(self.0.clone())
    }
}

impl std::fmt::Debug for MediaDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaDownload(..)")
    }
}

/// Download handles say nothing about the message: events compare by their content.
impl PartialEq for MediaDownload {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// Lifecycle and traffic of one tenant's connection, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum GatewayEvent {
    /// A QR code to show (the string to encode; a credential while valid: never log it).
    Qr {
        code: String,
        valid_for: Duration,
    },
    /// A pairing code to type on the phone.
    PairingCode {
        code: String,
        valid_for: Duration,
    },
    /// Every QR code expired unscanned; the connection stopped. A new `start` shows new codes.
    QrExhausted,
    Connecting,
    Connected {
        phone_number: String,
    },
    /// Transient: the library reconnects by itself.
    Disconnected {
        reason: String,
    },
    /// A connection attempt could not reach WhatsApp at all (no network, DNS, TCP, TLS, or no answer in
    /// time). The caller stops this connection, tells the shop, and starts a new one after its own backoff.
    Unreachable {
        reason: String,
    },
    /// Terminal: unlinked from the phone (or the account is locked). The stored session is useless.
    LoggedOut {
        reason: String,
    },
    /// Terminal: another device or node took the session over. Never fight it.
    Replaced,
    /// Terminal until `until`: WhatsApp temporarily banned the number.
    TemporaryBan {
        until: Option<DateTime<Utc>>,
        reason: String,
    },
    /// A message, with the handle that acknowledges it to WhatsApp once it is stored. Boxed: with its media
    /// and location it is many times the size of every other event.
    Message(Box<IncomingMessage>, Delivery),
}

/// The acknowledgement of one customer message to WhatsApp. The gateway sends WhatsApp its receipt only once
/// the session [`accept`](Delivery::accept)s the message (after JetStream stored it, or when it is
/// deliberately ignored); a message never accepted stays unacknowledged, and WhatsApp delivers it again on
/// the next connection — to whichever node then holds the shop. Clones share one acknowledgement.
#[derive(Debug, Clone, Default)]
pub struct Delivery(Arc<Mutex<Option<oneshot::Sender<()>>>>);

impl Delivery {
    /// A delivery, and what resolves (`Ok`) when it is accepted or fails when it is dropped unaccepted.
    pub fn new() -> (Self, oneshot::Receiver<()>) {
        let (accepted, receiver) = oneshot::channel();
        (Self(Arc::new(Mutex::new(Some(accepted)))), receiver)
    }

    /// A message nobody waits on (a sandbox simulation).
    pub fn untracked() -> Self {
        Self::default()
    }

    pub fn accept(&self) {
        let accepted = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(accepted) = accepted {
            let _ = accepted.send(());
        }
    }
}

/// Deliveries say nothing about the message: events compare by their content.
impl PartialEq for Delivery {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The connection is not (or no longer) usable; the caller may restart it.
    #[error("not connected: {0}")]
    NotConnected(String),
    /// The send failed but may succeed if retried.
    #[error("transient gateway error: {0}")]
    Transient(String),
    /// Retrying cannot help (invalid recipient, logged out…).
    #[error("gateway error: {0}")]
    Permanent(String),
    /// This gateway cannot do that at all (a simulation on a real WhatsApp connection).
    #[error("not supported by this gateway")]
    Unsupported,
}

/// What the sandbox gateway can play on a running connection, for demos and tests without a phone.
#[derive(Debug, Clone, PartialEq)]
pub enum Simulation {
    /// The shop's phone scans the QR code shown (or types the pairing code) and links `phone_number`
    /// (the sandbox's default number when `None`).
    Scan { phone_number: Option<String> },
    /// A customer writes to the shop's linked number: a text, media (with `text` as its caption) or a
    /// location; `text` may be empty with either.
    CustomerMessage {
        from_jid: String,
        name: String,
        text: String,
        /// Boxed like `WaCommand::SandboxMessage`'s: media make this variant many times the other's size.
        media: Option<Box<SandboxMedia>>,
        location: Option<Location>,
    },
}

/// A running connection. Dropping it without `shutdown` must still stop it.
#[async_trait]
pub trait Connection: Send + Sync {
    /// Sends a text; returns WhatsApp's id of the sent message.
    async fn send_text(&self, to_jid: &str, text: &str) -> Result<String, GatewayError>;
    /// Sends a photo with `caption` (may be empty); returns WhatsApp's id of the sent message.
    async fn send_image(
        &self,
        to_jid: &str,
        bytes: Vec<u8>,
        mime: &str,
        caption: &str,
    ) -> Result<String, GatewayError>;
    /// Shows (or clears) "typing…" in the chat.
    async fn typing(&self, to_jid: &str, on: bool) -> Result<(), GatewayError>;
    /// Unlinks the device from the phone and deletes the stored session.
    async fn logout(&self) -> Result<(), GatewayError>;
    /// Stops the connection, flushing state; no event follows.
    async fn shutdown(&self);
    /// Plays a simulated scan or customer message; only the sandbox can (`Unsupported` elsewhere). Its
    /// effects arrive as ordinary events (`Connected`, `Message`).
    async fn simulate(&self, simulation: Simulation) -> Result<(), GatewayError> {
        let _ = simulation;
        Err(GatewayError::Unsupported)
    }
}

#[async_trait]
pub trait WhatsAppGateway: Send + Sync {
    /// Starts (or resumes from the stored session) the tenant's connection. Events arrive on the receiver,
    /// which closes when the connection ends.
    async fn start(
        &self,
        tenant_id: Uuid,
        options: StartOptions,
    ) -> Result<(Box<dyn Connection>, mpsc::Receiver<GatewayEvent>), GatewayError>;

    /// Short name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Whether its connections accept [`Connection::simulate`] (the sandbox only).
    fn simulates(&self) -> bool {
        false
    }
}
