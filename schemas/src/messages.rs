//! Messages on `tdj.in.<tenant>.<chat>` (from the ingress or the simulator) and `tdj.out.<tenant>` (to the
//! ingress).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest customer message the bot reads, in characters: a sales question fits many times over, and a
/// pasted novel must not become a model prompt. Longer texts are cut here (and refused by the simulator).
pub const MAX_CUSTOMER_TEXT_CHARS: usize = 2000;

/// Where a conversation happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Channel {
    /// The shop's linked WhatsApp number.
    Whatsapp,
    /// The dashboard's "test your bot" chat: same pipeline, replies stay in Tdjaasa.
    Simulator,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Simulator => "simulator",
        }
    }

    /// The subject token naming a chat: channel and the customer's number, e.g. `wa_2250700000000`.
    /// Subject tokens cannot hold the dots of a JID, so only its user part (digits) is kept.
    /// The inverse of [`Channel::chat_key`]: the channel and the user part of a key such as
    /// `sim_2250700000000`, or `None` if it is not one.
    pub fn parse_chat_key(key: &str) -> Option<(Self, &str)> {
        let (prefix, user) = key.split_once('_')?;
        let channel = match prefix {
            "wa" => Channel::Whatsapp,
            "sim" => Channel::Simulator,
            _ => return None,
        };
        let valid =
            !user.is_empty() && user.len() <= 64 && user.chars().all(|c| c.is_ascii_alphanumeric());
        valid.then_some((channel, user))
    }

    pub fn chat_key(self, customer_jid: &str) -> String {
        let user: String = customer_jid
            .split('@')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let prefix = match self {
            Channel::Whatsapp => "wa",
            Channel::Simulator => "sim",
        };
        format!("{prefix}_{user}")
    }
}

/// What kind of media a customer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MediaKind {
    /// A voice note or an audio file: understood by the model, its transcript stored.
    Audio,
    /// A photo (its caption is the message's text): understood by the model.
    Image,
    /// Not understood: the bot says so and the shop is alerted.
    Video,
    Document,
    /// Answered with nothing: a sticker is a reaction, not a question.
    Sticker,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    /// Whether the bytes are kept and shown to the model (voice notes and photos).
    pub fn is_understood(self) -> bool {
        matches!(self, MediaKind::Audio | MediaKind::Image)
    }
}

/// Why a customer's media was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MediaRefusal {
    /// Larger than `MEDIA_MAX_BYTES`.
    TooLarge,
    /// The shop's plan allows no more media this month.
    QuotaReached,
    /// A kind the bot does not read (video, document, sticker).
    Unsupported,
    /// WhatsApp could not deliver the bytes (expired or deleted on its servers).
    Unavailable,
}

impl MediaRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaRefusal::TooLarge => "too_large",
            MediaRefusal::QuotaReached => "quota_reached",
            MediaRefusal::Unsupported => "unsupported",
            MediaRefusal::Unavailable => "unavailable",
        }
    }
}

/// Media attached to a customer message. The bytes are never in the message: `media_id` names them in the
/// shop's encrypted media store (`GET /api/v1/media/{media_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    pub kind: MediaKind,
    /// The stored bytes; absent when they were not kept (`refused`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<Uuid>,
    /// As the sender declared it, e.g. `audio/ogg; codecs=opus`, `image/jpeg`.
    #[serde(default)]
    pub mime: String,
    /// Size in bytes as declared by WhatsApp (0 when unknown).
    #[serde(default)]
    pub size_bytes: u64,
    /// A recorded voice note (push-to-talk) rather than an audio file.
    #[serde(default)]
    pub voice: bool,
    /// Length of an audio or video, in seconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    /// A document's file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Why the bytes were not kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<MediaRefusal>,
}

/// A location the customer shared: a delivery address candidate for the shop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    /// The place's name, when the customer picked one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Location {
    /// Whether the coordinates are on Earth.
    pub fn is_valid(&self) -> bool {
        self.latitude.is_finite()
            && self.longitude.is_finite()
            && (-90.0..=90.0).contains(&self.latitude)
            && (-180.0..=180.0).contains(&self.longitude)
    }

    /// A link that opens the place on a map.
    pub fn map_url(&self) -> String {
        format!(
            "https://www.google.com/maps/search/?api=1&query={:.6},{:.6}",
            self.latitude, self.longitude
        )
    }

    /// One line for the model and the shop: name, address and coordinates.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = [&self.name, &self.address]
            .into_iter()
            .flatten()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        parts.push(format!("{:.6}, {:.6}", self.latitude, self.longitude));
        parts.join(" — ")
    }
}

/// A customer message (or a message the shop owner typed on the linked phone), as published by the ingress
/// or the simulator. Published with `Nats-Msg-Id: <tenant_id>:<wa_message_id>`. Readers ignore fields they do
/// not know, so an ingress upgraded first can add one without its messages being refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InboundMessage {
    pub tenant_id: Uuid,
    pub channel: Channel,
    /// The customer's WhatsApp JID (`2250700000000@s.whatsapp.net`) or simulator number.
    pub customer_jid: String,
    /// The customer's display name as WhatsApp shows it (may be empty).
    #[serde(default)]
    pub customer_name: String,
    /// WhatsApp's message id (unique per shop); the simulator makes its own.
    pub wa_message_id: String,
    /// The text, or a photo's caption (may be empty when an attachment or a location says it all).
    pub text: String,
    /// A voice note, photo or other media the message carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// A location the customer shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// When the message was sent.
    pub timestamp: DateTime<Utc>,
    /// True when the shop owner wrote it by hand from the linked phone: the bot then stays silent in this chat
    /// for a while (human takeover).
    #[serde(default)]
    pub from_owner: bool,
}

impl InboundMessage {
    /// The JetStream deduplication id.
    pub fn msg_id(&self) -> String {
        format!("{}:{}", self.tenant_id, self.wa_message_id)
    }

    pub fn chat_key(&self) -> String {
        self.channel.chat_key(&self.customer_jid)
    }
}

/// A reply for the ingress to send on WhatsApp. Published with `Nats-Msg-Id: <outbound_id>`. Readers ignore the
/// fields they do not know: during a rolling upgrade a newer worker may add one, and an ingress that refused it
/// would drop the reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OutboundReply {
    pub tenant_id: Uuid,
    pub chat_id: Uuid,
    pub customer_jid: String,
    pub text: String,
    /// Deterministic per turn: a retried turn produces the same id, so the ingress sends it once.
    pub outbound_id: String,
    /// WhatsApp ids of the customer messages this answers.
    pub in_reply_to: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// When the oldest customer message this answers was received: the ingress measures the reply latency
    /// from it once the reply is sent. Absent for messages that answer no customer message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
    /// A photo to send, with `text` as its caption (a product's photo with its name and price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<OutboundImage>,
}

/// A photo of the shop's media store to send with a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OutboundImage {
    pub media_id: Uuid,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_with_a_field_this_version_does_not_know_is_still_read() {
        let reply = serde_json::json!({
            "tenant_id": "6f1d5b9e-2c1a-4d3e-9b7a-0c2d4e6f8a1b",
            "chat_id": "0b7e2a4c-6d8f-4a1b-9c3d-5e7f9a1b3c5d",
            "customer_jid": "2250700000000@s.whatsapp.net",
            "text": "Bonjour",
            "outbound_id": "out-1",
            "in_reply_to": ["wa-1"],
            "created_at": "2026-12-05T10:00:00Z",
            "received_at": "2026-12-05T09:59:58Z",
            "added_by_a_newer_worker": true
        });
        let read: OutboundReply = serde_json::from_value(reply).expect("read");
        assert_eq!(read.outbound_id, "out-1");
        assert!(read.received_at.is_some());
    }

    #[test]
    fn chat_keys_are_valid_subject_tokens() {
        assert_eq!(
            Channel::Whatsapp.chat_key("2250700000000@s.whatsapp.net"),
            "wa_2250700000000"
        );
        assert_eq!(Channel::Simulator.chat_key("+225 07 00"), "sim_2250700");
        assert!(
            !Channel::Whatsapp
                .chat_key("a.b*c>@x")
                .contains(['.', '*', '>'])
        );
    }

    #[test]
    fn chat_keys_parse_back_to_their_channel_and_user() {
        let key = Channel::Simulator.chat_key("+225 07 00");
        assert_eq!(
            Channel::parse_chat_key(&key),
            Some((Channel::Simulator, "2250700"))
        );
        assert_eq!(
            Channel::parse_chat_key("wa_2250700000000"),
            Some((Channel::Whatsapp, "2250700000000"))
        );
        for not_a_key in ["", "sim_", "tg_123", "wa_12.3", "2250700000000", "sim_a_b"] {
            assert_eq!(Channel::parse_chat_key(not_a_key), None, "{not_a_key:?}");
        }
    }
}
