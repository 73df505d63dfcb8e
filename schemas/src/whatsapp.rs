//! Control of WhatsApp connections between the api and the ingress nodes.
//!
//! - `tdj.wa.ctl.<tenant>` (core NATS, request/reply, queue group `ingress`): a [`WaCommand`] from the api;
//!   the answering node (the lease owner, or the node that takes the lease) replies with a [`WaCommandReply`].
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaCommandReply {
    pub accepted: bool,
    /// French, for the shop, when not accepted.
    pub message: String,
}

/// Connection states shown to the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
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
