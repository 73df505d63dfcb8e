//! The ingress crate's error type.

/// What can stop an ingress node or one of its operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range (e.g. a lease TTL the bucket's max age cannot hold).
    #[error("invalid ingress setting: {0}")]
    Config(String),
    /// NATS (core or JetStream) refused or timed out.
    #[error("NATS: {0}")]
    Nats(String),
    /// The lease of a tenant is not (or no longer) ours.
    #[error("the lease of tenant {0} is not held by this node")]
    LeaseLost(uuid::Uuid),
    #[error(transparent)]
    Gateway(#[from] crate::gateway::GatewayError),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps any NATS error (their types differ per operation) keeping its message.
    pub(crate) fn nats(e: impl std::fmt::Display) -> Self {
        Error::Nats(e.to_string())
    }
}
