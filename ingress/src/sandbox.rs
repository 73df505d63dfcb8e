//! `SandboxGateway`: a WhatsApp stand-in for local demos without a phone (`WHATSAPP_GATEWAY=sandbox`, never a
//! default) and the fake the tests drive. It speaks the same [`GatewayEvent`]s as the real connector:
//!
//! - on start it shows rotating QR codes (`Qr`), then `QrExhausted` if none is "scanned";
//! - [`Connection::simulate`] (what the api's `POST /api/v1/whatsapp/sandbox/scan` and `…/sandbox/messages`
//!   reach, through the lease owner) scans it or injects a customer message, like the two subjects below;
//! - a core NATS message on `…wa.sandbox.<tenant>.scan` scans it: `Connecting`, then `Connected`;
//! - a tenant linked before (its `whatsapp_session` row keeps a phone number) resumes connected at once, on
//!   any node — the number is the sandbox's whole "stored session", forgotten on logout;
//! - JSON [`SandboxInbound`] messages on `…wa.sandbox.<tenant>.inbound` arrive as customer messages, with
//!   media ([`SandboxMedia`]: announced with its kind, type and size like WhatsApp does; "downloading" it
//!   decodes the base64 it carries) or a location. Like
//!   WhatsApp's server, the sandbox holds a message until the ingress acknowledges it: a message sent as a
//!   request (with a reply subject) is answered `{"accepted": true, "id": …}` only once the ingress stored it
//!   in JetStream (or deliberately ignored it); no answer means not stored, and the sender sends it again with
//!   the same `id`, as WhatsApp redelivers an unacknowledged message. A message arriving while the number is
//!   not linked is not accepted either;
//! - every text or photo sent is published as a [`SandboxSent`] on `…wa.sandbox.<tenant>.sent` (a photo as
//!   [`SandboxSentImage`]: its type, size and SHA-256, not its bytes), so a demo or a test in another process
//!   sees exactly what went out;
//! - a new connection of a tenant ends the older ones with `Replaced`, as WhatsApp does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Utc;
use futures::StreamExt;
use schemas::whatsapp::{SandboxMedia, WaStatus};
use schemas::{Location, Subjects};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::{Db, TenantCtx, whatsapp_sessions};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use crate::gateway::{
    ChatKind, Connection, Delivery, GatewayError, GatewayEvent, IncomingMedia, IncomingMessage,
    MediaDownload, MediaSource, Simulation, StartOptions, WhatsAppGateway,
};
use crate::names;

/// The number a scan links when the scan message names none.
pub const DEFAULT_PHONE: &str = "2250700000000";

/// Payload of a scan (empty payload: [`DEFAULT_PHONE`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SandboxScan {
    pub phone_number: Option<String>,
}

/// A message to inject as if a customer (or the owner, `from_me`) wrote it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxInbound {
    /// WhatsApp message id; a random one when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Customer JID, e.g. `2250701020304@s.whatsapp.net`.
    pub from: String,
    #[serde(default)]
    pub name: String,
    /// `None`: media without caption.
    #[serde(default)]
    pub text: Option<String>,
    /// `direct` (default), `group`, `status`, `newsletter` or `broadcast`.
    #[serde(default = "direct")]
    pub kind: String,
    #[serde(default)]
    pub from_me: bool,
    /// A voice note, photo or other media (with `text` as its caption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<SandboxMedia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// An empty direct message, to build others with `..Default::default()`.
impl Default for SandboxInbound {
    fn default() -> Self {
        Self {
            id: None,
            from: String::new(),
            name: String::new(),
            text: None,
            kind: direct(),
            from_me: false,
            media: None,
            location: None,
        }
    }
}

fn direct() -> String {
    "direct".into()
}

/// A text, or a photo with its caption, the sandbox "sent on WhatsApp".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxSent {
    pub id: String,
    pub to: String,
    /// The text, or the photo's caption.
    pub text: String,
    /// Which connection sent it (tells nodes apart in fail-over tests).
    pub connection: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<SandboxSentImage>,
}

/// A photo the sandbox sent: enough to tell which one, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSentImage {
    pub mime: String,
    pub size_bytes: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
}

/// The sandbox's acknowledgement of a [`SandboxInbound`] sent as a request: the ingress stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxAccepted {
    pub accepted: bool,
    /// The message's WhatsApp id (the one sent, or the one the sandbox gave it).
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    connection: String,
}

pub struct SandboxGateway {
    db: Db,
    nats: async_nats::Client,
    subjects: Subjects,
    qr_interval: Duration,
    qr_count: u32,
}

impl SandboxGateway {
    pub fn new(
        db: Db,
        nats: async_nats::Client,
        subjects: Subjects,
        qr_interval: Duration,
        qr_count: u32,
    ) -> Self {
        Self {
            db,
            nats,
            subjects,
            qr_interval,
            qr_count,
        }
    }

    async fn linked_number(&self, tenant_id: Uuid) -> Result<Option<String>, GatewayError> {
        let session = async {
            let mut tx = self.db.tenant(TenantCtx::new(tenant_id)).await?;
            let session = whatsapp_sessions::get(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, store::Error>(session)
        }
        .await
        .map_err(|e| GatewayError::Transient(e.to_string()))?;
        Ok(session
            .filter(|s| s.status != WaStatus::LoggedOut)
            .and_then(|s| s.phone_number))
    }
}

fn transient(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Transient(e.to_string())
}

#[async_trait]
impl WhatsAppGateway for SandboxGateway {
    async fn start(
        &self,
        tenant_id: Uuid,
        options: StartOptions,
    ) -> Result<(Box<dyn Connection>, mpsc::Receiver<GatewayEvent>), GatewayError> {
        let linked = self.linked_number(tenant_id).await?;
        let connection_id = format!("sandbox-{}", Uuid::new_v4().simple());
        // Subscribe before announcing, so nothing sent right after `start` is missed.
        let scans = self
            .nats
            .subscribe(names::sandbox_scan(&self.subjects, tenant_id))
            .await
            .map_err(transient)?;
        let inbound = self
            .nats
            .subscribe(names::sandbox_inbound(&self.subjects, tenant_id))
            .await
            .map_err(transient)?;
        let claims = self
            .nats
            .subscribe(names::sandbox_claim(&self.subjects, tenant_id))
            .await
            .map_err(transient)?;
        let claim = serde_json::to_vec(&Claim {
            connection: connection_id.clone(),
        })
        .map_err(transient)?;
        self.nats
            .publish(
                names::sandbox_claim(&self.subjects, tenant_id),
                claim.into(),
            )
            .await
            .map_err(transient)?;

        let (events, receiver) = mpsc::channel(64);
        let (simulations_tx, simulations) = mpsc::channel(16);
        let stop = CancellationToken::new();
        let connected = Arc::new(AtomicBool::new(false));
        let run = Run {
            nats: self.nats.clone(),
            connection_id: connection_id.clone(),
            linked,
            pairing_phone: options.pairing_phone,
            qr_interval: self.qr_interval,
            qr_count: self.qr_count,
            events,
            connected: connected.clone(),
            stop: stop.clone(),
        };
        tokio::spawn(run.run(scans, inbound, claims, simulations));
        let connection = SandboxConnection {
            simulations: simulations_tx,
            nats: self.nats.clone(),
            sent_subject: names::sandbox_sent(&self.subjects, tenant_id),
            connection_id,
            connected,
            stop: stop.clone(),
            _guard: stop.drop_guard(),
        };
        Ok((Box::new(connection), receiver))
    }

    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn simulates(&self) -> bool {
        true
    }
}

/// The simulated connection's event loop.
struct Run {
    nats: async_nats::Client,
    connection_id: String,
    linked: Option<String>,
    pairing_phone: Option<String>,
    qr_interval: Duration,
    qr_count: u32,
    events: mpsc::Sender<GatewayEvent>,
    connected: Arc<AtomicBool>,
    stop: CancellationToken,
}

impl Run {
    async fn emit(&self, event: GatewayEvent) -> bool {
        self.events.send(event).await.is_ok()
    }

    async fn connect(&self, phone_number: String) -> bool {
        if !self.emit(GatewayEvent::Connecting).await {
            return false;
        }
        self.connected.store(true, Ordering::SeqCst);
        self.emit(GatewayEvent::Connected { phone_number }).await
    }

    /// The phone scans the code: links `phone_number` (else the number a pairing code was asked for, else
    /// [`DEFAULT_PHONE`]) unless already linked. `false` when the reader is gone.
    async fn scan(&self, phone_number: Option<String>) -> bool {
        if self.connected.load(Ordering::SeqCst) {
            return true;
        }
        let phone = phone_number
            .or_else(|| self.pairing_phone.clone())
            .unwrap_or_else(|| DEFAULT_PHONE.to_owned());
        self.connect(phone).await
    }

    /// A message arrives, if the number is linked; with a `reply` subject, it is answered once the ingress
    /// accepted the message. `false` when the reader is gone.
    async fn inject(&self, message: SandboxInbound, reply: Option<async_nats::Subject>) -> bool {
        if !self.connected.load(Ordering::SeqCst) {
            return true;
        }
        let message = Box::new(incoming(message));
        let Some(reply) = reply else {
            return self
                .emit(GatewayEvent::Message(message, Delivery::untracked()))
                .await;
        };
        let (delivery, accepted) = Delivery::new();
        let acknowledgement = SandboxAccepted {
            accepted: true,
            id: message.id.clone(),
        };
        let nats = self.nats.clone();
        tokio::spawn(async move {
            if accepted.await.is_ok()
                && let Ok(payload) = serde_json::to_vec(&acknowledgement)
            {
                let _ = nats.publish(reply, payload.into()).await;
                let _ = nats.flush().await;
            }
        });
        self.emit(GatewayEvent::Message(message, delivery)).await
    }

    async fn run(
        self,
        mut scans: async_nats::Subscriber,
        mut inbound: async_nats::Subscriber,
        mut claims: async_nats::Subscriber,
        mut simulations: mpsc::Receiver<Simulation>,
    ) {
        let mut shown = 0u32;
        let mut next_qr = tokio::time::Instant::now();
        if let Some(phone) = self.linked.clone() {
            if !self.connect(phone).await {
                return;
            }
        } else if let Some(phone) = &self.pairing_phone {
            let code = format!("{:08}", phone.len() * 1_000_003 % 100_000_000);
            let event = GatewayEvent::PairingCode {
                code,
                valid_for: self.qr_interval * self.qr_count.max(1),
            };
            if !self.emit(event).await {
                return;
            }
        }
        loop {
            let waiting = !self.connected.load(Ordering::SeqCst) && self.pairing_phone.is_none();
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep_until(next_qr), if waiting => {
                    if shown == self.qr_count {
                        let _ = self.emit(GatewayEvent::QrExhausted).await;
                        return;
                    }
                    shown += 1;
                    let code = format!("sandbox-qr-{}", Uuid::new_v4().simple());
                    if !self.emit(GatewayEvent::Qr { code, valid_for: self.qr_interval }).await {
                        return;
                    }
                    next_qr += self.qr_interval;
                }
                Some(scan) = scans.next() => {
                    let scan: SandboxScan = serde_json::from_slice(&scan.payload).unwrap_or_default();
                    if !self.scan(scan.phone_number).await {
                        return;
                    }
                }
                Some(message) = inbound.next() => {
                    let Ok(inbound) = serde_json::from_slice::<SandboxInbound>(&message.payload) else {
                        tracing::warn!("sandbox: ignoring an unreadable inbound message");
                        continue;
                    };
                    if !self.inject(inbound, message.reply).await {
                        return;
                    }
                }
                Some(simulation) = simulations.recv() => {
                    let alive = match simulation {
                        Simulation::Scan { phone_number } => self.scan(phone_number).await,
                        Simulation::CustomerMessage { from_jid, name, text, media, location } => {
                            self.inject(SandboxInbound {
                                from: from_jid,
                                name,
                                text: Some(text),
                                media: media.map(|media| *media),
                                location,
                                ..SandboxInbound::default()
                            }, None)
                            .await
                        }
                    };
                    if !alive {
                        return;
                    }
                }
                Some(claim) = claims.next() => {
                    let Ok(claim) = serde_json::from_slice::<Claim>(&claim.payload) else { continue };
                    if claim.connection != self.connection_id {
                        self.connected.store(false, Ordering::SeqCst);
                        let _ = self.emit(GatewayEvent::Replaced).await;
                        return;
                    }
                }
            }
        }
    }
}

fn incoming(message: SandboxInbound) -> IncomingMessage {
    let kind = match message.kind.as_str() {
        "group" => ChatKind::Group,
        "status" => ChatKind::Status,
        "newsletter" => ChatKind::Newsletter,
        "broadcast" => ChatKind::Broadcast,
        _ => ChatKind::Direct,
    };
    IncomingMessage {
        id: message
            .id
            .unwrap_or_else(|| format!("SBX{}", Uuid::new_v4().simple()).to_uppercase()),
        chat_jid: message.from,
        kind,
        push_name: message.name,
        text: message.text,
        media: message.media.map(announced),
        location: message.location,
        from_me: message.from_me,
        timestamp: Utc::now(),
    }
}

/// Sandbox media as WhatsApp would announce it: the declared size, else the bytes' length.
fn announced(media: SandboxMedia) -> IncomingMedia {
    let bytes = BASE64.decode(media.data_base64.trim()).ok();
    let length = bytes.as_ref().map_or(0, |b| b.len() as u64);
    IncomingMedia {
        kind: media.kind,
        mime: media.mime,
        declared_size: media.declared_size.unwrap_or(length),
        voice: media.voice,
        seconds: media.seconds,
        file_name: media.file_name,
        download: match bytes {
            Some(bytes) => MediaDownload::ready(bytes),
            None => MediaDownload::new(Undecodable),
        },
    }
}

/// Media whose base64 does not decode: a download WhatsApp could not serve.
struct Undecodable;

#[async_trait]
impl MediaSource for Undecodable {
    async fn fetch(&self) -> Result<Vec<u8>, GatewayError> {
        Err(GatewayError::Permanent(
            "sandbox media: invalid base64".into(),
        ))
    }
}

struct SandboxConnection {
    /// To the connection's event loop.
    simulations: mpsc::Sender<Simulation>,
    nats: async_nats::Client,
    sent_subject: String,
    connection_id: String,
    connected: Arc<AtomicBool>,
    stop: CancellationToken,
    /// Dropping the connection without `shutdown` still stops its task.
    _guard: DropGuard,
}

impl SandboxConnection {
    /// "Sends" on WhatsApp: publishes what went out on the `sent` subject.
    async fn send(
        &self,
        to_jid: &str,
        text: &str,
        image: Option<SandboxSentImage>,
    ) -> Result<String, GatewayError> {
        if self.stop.is_cancelled() || !self.connected.load(Ordering::SeqCst) {
            return Err(GatewayError::NotConnected(
                "sandbox connection not linked".into(),
            ));
        }
        let sent = SandboxSent {
            id: format!("SBX{}", Uuid::new_v4().simple()).to_uppercase(),
            to: to_jid.to_owned(),
            text: text.to_owned(),
            connection: self.connection_id.clone(),
            image,
        };
        let payload = serde_json::to_vec(&sent).map_err(transient)?;
        self.nats
            .publish(self.sent_subject.clone(), payload.into())
            .await
            .map_err(transient)?;
        self.nats.flush().await.map_err(transient)?;
        Ok(sent.id)
    }
}

#[async_trait]
impl Connection for SandboxConnection {
    async fn send_text(&self, to_jid: &str, text: &str) -> Result<String, GatewayError> {
        self.send(to_jid, text, None).await
    }

    async fn send_image(
        &self,
        to_jid: &str,
        bytes: Vec<u8>,
        mime: &str,
        caption: &str,
    ) -> Result<String, GatewayError> {
        let image = SandboxSentImage {
            mime: mime.to_owned(),
            size_bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        self.send(to_jid, caption, Some(image)).await
    }

    async fn typing(&self, _to_jid: &str, _on: bool) -> Result<(), GatewayError> {
        Ok(())
    }

    async fn logout(&self) -> Result<(), GatewayError> {
        // The "stored session" is the number in `whatsapp_session`, which the node clears on logout.
        self.connected.store(false, Ordering::SeqCst);
        self.stop.cancel();
        Ok(())
    }

    async fn shutdown(&self) {
        self.connected.store(false, Ordering::SeqCst);
        self.stop.cancel();
    }

    async fn simulate(&self, simulation: Simulation) -> Result<(), GatewayError> {
        if let Simulation::CustomerMessage { .. } = &simulation
            && !self.connected.load(Ordering::SeqCst)
        {
            return Err(GatewayError::NotConnected(
                "sandbox connection not linked".into(),
            ));
        }
        if self.stop.is_cancelled() {
            return Err(GatewayError::NotConnected(
                "sandbox connection stopped".into(),
            ));
        }
        // Never wait: the event loop may itself be waiting for the session to read its events.
        self.simulations.try_send(simulation).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => GatewayError::Transient("sandbox busy".into()),
            mpsc::error::TrySendError::Closed(_) => {
                GatewayError::NotConnected("sandbox connection stopped".into())
            }
        })
    }
}
