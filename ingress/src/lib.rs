//! The ingress: holds each shop's WhatsApp connection (one linked device per tenant, owned by one node at a
//! time through a lease), publishes customer messages to `tdj.in.<tenant>.<chat>` and sends the replies of
//! `tdj.out.<tenant>`.
//!
//! Modules depend on each other one way: `node` → `tenant_session` → `inbound` / `outbound` → `node_state` →
//! `tenant_slot`, with `gateway`, `lease`, `config` and `status` below them all. `whatsapp` and `sandbox`
//! implement `gateway` and know nothing of the rest.

pub mod config;
mod error;
pub mod gateway;
mod inbound;
pub mod lease;
pub mod metrics;
pub mod names;
pub mod node;
mod node_state;
pub mod outbound;
pub mod sandbox;
pub mod status;
mod tenant_session;
mod tenant_slot;
pub mod whatsapp;

pub use config::{GatewayKind, IngressConfig};
pub use error::{Error, Result};
pub use gateway::{Connection, GatewayError, GatewayEvent, WhatsAppGateway};
pub use node::{IngressNode, run_node};
pub use outbound::OutboundOutcome;
pub use sandbox::SandboxGateway;
