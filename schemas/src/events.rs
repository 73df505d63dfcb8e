//! Domain events on `tdj.events.<tenant>.<kind>`, kept 30 days in the `TDJ_EVENTS` stream so integrators can
//! replay them. Each is published with `Nats-Msg-Id: <event_id>`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::commerce::{Author, OrderStatus};
use crate::messages::{Channel, MediaKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Unique and stable: the same fact re-published carries the same id.
    pub event_id: Uuid,
    pub tenant_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub data: EventData,
}

/// The event's kind (`kind`, also the last subject tokens) and its data (`data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "data")]
pub enum EventData {
    /// A customer message was stored.
    #[serde(rename = "message.received")]
    MessageReceived {
        chat_id: Uuid,
        message_id: Uuid,
        channel: Channel,
        customer_jid: String,
        /// The message's text: only for shops that opted in (`PUT /api/v1/bot/events`); absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// What the message carried besides text: a voice note, photo or other media (`GET
        /// /api/v1/media/{media_id}` for a kept one's bytes); absent for text only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media: Option<MediaKind>,
        /// The customer shared a location (a delivery address candidate).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        location: bool,
    },
    /// The bot (or the owner) answered in a chat.
    #[serde(rename = "message.sent")]
    MessageSent {
        chat_id: Uuid,
        message_id: Uuid,
        channel: Channel,
        /// The reply's text: only for shops that opted in; absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        author: Author,
    },
    /// An order was taken.
    #[serde(rename = "order.created")]
    OrderCreated {
        order_id: Uuid,
        order_ref: String,
        chat_id: Option<Uuid>,
        total_xof: i64,
        items: Vec<OrderItem>,
    },
    /// An order moved to another status.
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged {
        order_id: Uuid,
        order_ref: String,
        from: OrderStatus,
        to: OrderStatus,
    },
    /// A message could not be processed after every retry and was set aside.
    #[serde(rename = "message.dead_lettered")]
    MessageDeadLettered {
        wa_message_id: String,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderItem {
    pub product_id: Option<Uuid>,
    pub name: String,
    pub quantity: i32,
    pub unit_price_xof: i64,
}

impl EventData {
    /// The subject suffix, e.g. `order.created`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::MessageReceived { .. } => "message.received",
            EventData::MessageSent { .. } => "message.sent",
            EventData::OrderCreated { .. } => "order.created",
            EventData::OrderStatusChanged { .. } => "order.status_changed",
            EventData::MessageDeadLettered { .. } => "message.dead_lettered",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_kind_and_data() {
        let event = Event {
            event_id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            occurred_at: DateTime::<Utc>::UNIX_EPOCH,
            data: EventData::OrderStatusChanged {
                order_id: Uuid::nil(),
                order_ref: "CMD-1".into(),
                from: OrderStatus::New,
                to: OrderStatus::Confirmed,
            },
        };
        let json = serde_json::to_value(&event).expect("serialize");
        assert_eq!(json["kind"], "order.status_changed");
        assert_eq!(json["data"]["to"], "confirmed");
        assert_eq!(
            serde_json::from_value::<Event>(json).expect("round trip"),
            event
        );
    }
}
