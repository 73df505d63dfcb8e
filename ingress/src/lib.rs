//! The ingress: holds each shop's WhatsApp connection (one linked device per tenant, owned by one node at a
//! time through a lease), publishes customer messages to `tdj.in.<tenant>.<chat>` and sends the replies of
//! `tdj.out.<tenant>`.

pub mod config;
mod error;
pub mod gateway;
mod inbound;
pub mod lease;
pub mod names;
pub mod node;
pub mod outbound;
pub mod sandbox;
mod session;
pub mod status;
pub mod whatsapp;

pub use config::{GatewayKind, IngressConfig};
pub use error::{Error, Result};
pub use gateway::{Connection, GatewayError, GatewayEvent, WhatsAppGateway};
pub use node::{IngressNode, run_node};
pub use outbound::OutboundOutcome;
pub use sandbox::SandboxGateway;
