//! Test setup shared by the workspace's integration tests, so that each crate's tests arrange the world the
//! same way: the app-role pool and tenants (`db`), a NATS namespace per test (`nats`), one poller (`poll`),
//! a throwaway nats-server for tests that break NATS (`nats_server`), a proxy that plays a PostgreSQL outage
//! (`pg_proxy`), customer messages published as the
//! ingress does (`publish`) and, with the `ingress` feature, ingress nodes
//! running in the test process (`node`).
//!
//! Dev-only: never a dependency of production code.

pub mod db;
pub mod nats;
pub mod nats_cluster;
pub mod nats_server;
#[cfg(feature = "ingress")]
pub mod node;
pub mod pg_proxy;
pub mod poll;
pub mod publish;

pub use poll::eventually;
