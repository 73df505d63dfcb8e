//! PostgreSQL access for Tdjaasa. This crate owns every SQL statement, the migrations, the tenant-scoped
//! transaction that row-level security relies on, and the envelope encryption of stored secrets.

pub mod admin;
pub mod audit;
pub mod billing;
pub mod bot_settings;
pub mod chats;
pub mod crypto;
pub mod dashboard;
pub mod db;
pub mod dead_letters;
mod error;
pub mod inspect;
pub mod invitations;
pub mod knowledge;
pub mod media;
pub mod messages;
pub mod order_payments;
pub mod orders;
pub mod outbox;
pub mod password_resets;
pub mod plans;
pub mod products;
pub mod scope;
pub mod shop_payments;
pub mod tenants;
pub mod text;
pub mod users;
pub mod web_sessions;
pub mod whatsapp_keys;
pub mod whatsapp_sessions;

pub use db::{Db, DbConfig};
pub use error::{Error, Result};
pub use scope::{PlatformTx, TenantCtx, TenantTx};

/// The schema migrations, embedded. Run with an owner connection (`Db::migrate`), never the app role.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
