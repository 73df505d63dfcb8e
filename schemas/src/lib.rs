//! The contracts Tdjaasa publishes: NATS subject names, and the message and event types with their JSON
//! Schemas (`schemas/json/*.schema.json`, generated from these types and checked by a test so they never drift).

#[macro_use]
mod words;

pub mod accounts;
pub mod billing;
pub mod commerce;
pub mod events;
pub mod messages;
pub mod subjects;
pub mod whatsapp;

pub use events::{Event, EventData};
pub use messages::{
    Attachment, Channel, InboundMessage, Location, MAX_CUSTOMER_TEXT_CHARS, MediaKind,
    MediaRefusal, OutboundImage, OutboundReply,
};
pub use subjects::Subjects;

/// Every published JSON Schema: file name and schema.
pub fn json_schemas() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "inbound-message.schema.json",
            schema_value(schemars::schema_for!(InboundMessage)),
        ),
        (
            "outbound-reply.schema.json",
            schema_value(schemars::schema_for!(OutboundReply)),
        ),
        (
            "event.schema.json",
            schema_value(schemars::schema_for!(Event)),
        ),
    ]
}

fn schema_value(schema: schemars::Schema) -> serde_json::Value {
    schema.to_value()
}
