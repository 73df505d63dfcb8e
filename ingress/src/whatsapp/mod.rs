//! The WhatsApp Web connector. Everything that touches the `whatsapp-rust` crate lives under this module, so
//! the crate's frequent API changes stay here; the rest of the ingress will only see our own gateway trait.

pub mod events;
pub mod gateway;
pub mod jid;
pub mod session;
pub mod store;

pub use gateway::WhatsAppRustGateway;
pub use session::{Network, SessionBackend, WaConfig, WaConnection, start_session};
