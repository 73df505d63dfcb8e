//! The ingress: holds each shop's WhatsApp connection (one linked device per tenant, owned by one node at a
//! time through a lease), publishes customer messages to `tdj.in.<tenant>.<chat>` and sends the replies of
//! `tdj.out.<tenant>`.

pub mod gateway;
pub mod whatsapp;

pub use gateway::{Connection, GatewayError, GatewayEvent, WhatsAppGateway};
