//! Black-box tests of the whole HTTP API against the real PostgreSQL (a fresh database per test) and NATS
//! (a fresh subject namespace per test). One binary, as in zero-to-production.

mod admin;
mod auth;
mod bad_input;
mod billing;
mod billing_expiry;
mod billing_permission;
mod billing_pipeline;
mod billing_webhooks;
mod bot_support;
mod browser;
mod conversations;
mod cors;
mod health;
mod helpers;
mod housekeeping;
mod import;
mod ingress_leases;
mod ingress_runtime;
mod ingress_support;
mod isolation;
mod jwt;
mod openapi;
mod orders;
mod passwords;
mod phones;
mod pipeline;
mod pipeline_failures;
mod pipeline_reliability;
mod products;
mod rls;
mod team;
mod web_pages;
mod web_support;
mod whatsapp_api;
mod whatsapp_e2e;
