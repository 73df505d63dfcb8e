//! The Tdjaasa HTTP API: shop accounts, catalogue, bot identity, health, metrics and the OpenAPI document.
//!
//! Every tenant endpoint authenticates a JWT ([`auth::AuthUser`]) and works inside a
//! [`store::TenantTx`], so PostgreSQL row-level security scopes each query to the caller's shop.

mod account;
pub mod admin;
mod alert_phone;
pub mod auth;
pub mod billing;
mod bot;
pub mod config;
mod conversations;
mod cors;
mod dead_letters;
mod error;
mod extract;
mod health;
pub mod housekeeping;
mod knowledge;
pub mod live;
pub mod mail;
mod media;
pub mod metrics;
pub mod openapi;
mod order_notices;
pub mod order_pay;
mod orders;
mod pagination;
mod payment_settings;
pub mod phone;
mod products;
mod rate_limit;
mod simulator;
mod startup;
mod state;
mod team;
mod validate;
pub mod web;
mod whatsapp;

rust_i18n::i18n!("locales", fallback = "fr");

pub use config::ApiConfig;
pub use error::{Error, Result};
pub use openapi::ApiDoc;
pub use startup::{Application, router};
pub use state::AppState;
