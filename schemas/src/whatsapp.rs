//! Control of WhatsApp connections between the api and the ingress nodes.
//!
//! - `tdj.wa.ctl.<tenant>` (core NATS, request/reply, queue group `ingress`): a [`WaCommand`] from the api;
//!   the answering node (the lease owner, or the node that takes the lease) replies with a [`WaCommandReply`].
//!   `LiveState` and the sandbox commands only ever reach the lease owner: they never start a connection.
//! - `tdj.wa.evt.<tenant>` (core NATS, not persisted: QR codes are credentials): [`WaEvent`]s for the
//!   dashboard's live view (Server-Sent Events). The current status is also stored in `whatsapp_session`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum WaCommand {
    /// Link (or reconnect) the tenant's number; with `pairing_phone`, by pairing code instead of QR code.
    Connect { pairing_phone: Option<String> },
    /// Unlink the device and forget the session.
    Logout,
    /// What a new viewer must see at once: the QR code shown right now (with its remaining validity) or the
    /// pairing code, as [`WaCommandReply::live`] events. Answered from the owner's memory only: a QR code is
    /// a credential and is never stored.
    LiveState,
    /// Sandbox gateway only: the shop's phone scans the QR code shown (or types the pairing code).
    SandboxScan {
        /// The number the simulated phone links; the sandbox's default number when absent.
        phone_number: Option<String>,
    },
    /// Sandbox gateway only: a customer writes to the shop's linked number; the message then takes the real
    /// inbound path (`tdj.in.<tenant>.<chat>`, workers, reply).
    SandboxMessage {
        /// The customer's JID, e.g. `2250701020304@s.whatsapp.net`.
        from: String,
        /// The customer's WhatsApp display name.
        name: String,
        /// The text, or the media's caption (may be empty with media or a location).
        text: String,
        /// A voice note, photo or other media the customer sends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media: Option<Box<SandboxMedia>>,
        /// A location the customer shares.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<crate::Location>,
    },
}

/// Media in a sandbox customer message: what WhatsApp would announce (kind, type, size) and the bytes a
/// download would return. Commands travel on core NATS (1 MiB per message by default), so sandbox media stay
/// small; `declared_size` announces a larger file without sending it, as WhatsApp announces a size before
/// any download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SandboxMedia {
    pub kind: crate::MediaKind,
    /// As the sender's phone declares it, e.g. `audio/ogg; codecs=opus`.
    pub mime: String,
    /// Base64 of the bytes.
    #[serde(default)]
    pub data_base64: String,
    /// A recorded voice note (push-to-talk).
    #[serde(default)]
    pub voice: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The size WhatsApp announces; the bytes' length when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaCommandReply {
    pub accepted: bool,
    /// French, for the shop (why, when not accepted).
    pub message: String,
    /// `LiveState`'s answer: the `qr` or `pairing_code` event to show now (empty when there is none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<WaEvent>,
}

impl WaCommandReply {
    pub fn accepted(message: impl Into<String>) -> Self {
        Self {
            accepted: true,
            message: message.into(),
            live: Vec::new(),
        }
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            accepted: false,
            message: message.into(),
            live: Vec::new(),
        }
    }
}

/// Connection states shown to the shop, as stored in `whatsapp_session.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WaStatus {
    Disconnected,
    WaitingForScan,
    Connecting,
    Connected,
    LoggedOut,
    Banned,
}

impl WaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WaStatus::Disconnected => "disconnected",
            WaStatus::WaitingForScan => "waiting_for_scan",
            WaStatus::Connecting => "connecting",
            WaStatus::Connected => "connected",
            WaStatus::LoggedOut => "logged_out",
            WaStatus::Banned => "banned",
        }
    }
}

impl std::fmt::Display for WaStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WaEvent {
    Status {
        status: WaStatus,
        phone_number: Option<String>,
        detail: String,
    },
    Qr {
        code: String,
        expires_in_secs: u64,
    },
    PairingCode {
        code: String,
        expires_in_secs: u64,
    },
}

impl crate::Subjects {
    /// Commands for one tenant's connection.
    pub fn wa_command(&self, tenant: impl std::fmt::Display) -> String {
        self.namespaced(format_args!("wa.ctl.{tenant}"))
    }

    /// Every command (ingress nodes subscribe in a queue group).
    pub fn wa_commands_all(&self) -> String {
        self.namespaced("wa.ctl.*")
    }

    /// Live connection events of one tenant.
    pub fn wa_events(&self, tenant: impl std::fmt::Display) -> String {
        self.namespaced(format_args!("wa.evt.{tenant}"))
    }
}
