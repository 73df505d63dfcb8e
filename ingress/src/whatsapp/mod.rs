//! The WhatsApp Web connector. Everything that touches the `whatsapp-rust` crate lives under this module, so
//! the crate's frequent API changes stay here; the rest of the ingress only sees our own gateway trait
//! ([`crate::gateway`]).
//!
//! - [`rust_gateway`]: [`WhatsAppRustGateway`], the production `WhatsAppGateway`.
//! - [`client`]: one tenant's running whatsapp-rust client (start, events, stop) behind [`WaConnection`].
//! - [`events`] and [`jid`]: the crate's events and JIDs in our terms.
//! - [`session_store`]: [`PgSessionStore`], the crate's storage traits on the sealed rows that
//!   `store::whatsapp_keys` reads and writes.

pub mod client;
pub mod events;
pub mod jid;
pub mod rust_gateway;
pub mod session_store;

pub use client::{Network, SessionBackend, WaConfig, WaConnection, start_session};
pub use rust_gateway::WhatsAppRustGateway;
pub use session_store::PgSessionStore;
