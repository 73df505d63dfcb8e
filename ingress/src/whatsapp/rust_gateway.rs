//! [`WhatsAppRustGateway`]: the whatsapp-rust implementation of [`WhatsAppGateway`] (the trait is in
//! [`crate::gateway`]), used in production. One whatsapp-rust client per tenant ([`super::client`]), with its
//! session in PostgreSQL ([`PgSessionStore`], sealed with the tenant's data key).

use async_trait::async_trait;
use store::Db;
use store::crypto::MasterKey;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::client::{Network, SessionBackend, WaConfig, start_session};
use super::session_store::PgSessionStore;
use crate::gateway::{Connection, GatewayError, GatewayEvent, StartOptions, WhatsAppGateway};

/// Starts tenants' WhatsApp Web sessions with the `whatsapp-rust` crate.
///
/// Every `start` opens the tenant's session store and builds a fresh client: a client that stopped (QR codes
/// exhausted, logged out, replaced, shut down) is never reused. Holding the tenant lease, so that one node
/// runs a session at a time, is the caller's job.
pub struct WhatsAppRustGateway {
    db: Db,
    master: MasterKey,
    config: WaConfig,
    network: Network,
}

impl WhatsAppRustGateway {
    /// `db` must log in as the app role (row-level security); `master` unwraps the tenants' data keys.
    pub fn new(db: Db, master: MasterKey, config: WaConfig) -> Self {
        Self {
            db,
            master,
            config,
            network: Network::whatsapp(),
        }
    }

    /// Replaces the real WebSocket transport and HTTP client, for offline tests.
    pub fn with_network(mut self, network: Network) -> Self {
        self.network = network;
        self
    }
}

impl std::fmt::Debug for WhatsAppRustGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppRustGateway")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl WhatsAppGateway for WhatsAppRustGateway {
    async fn start(
        &self,
        tenant_id: Uuid,
        options: StartOptions,
    ) -> Result<(Box<dyn Connection>, mpsc::Receiver<GatewayEvent>), GatewayError> {
        let store = PgSessionStore::open(&self.db, &self.master, tenant_id)
            .await
            .map_err(|e| {
                tracing::error!(%tenant_id, error.cause_chain = ?e, error.message = %e, "opening the WhatsApp session store failed");
                GatewayError::Transient(format!("session store: {e}"))
            })?;
        let (connection, events) = start_session(
            &self.config,
            &self.network,
            tenant_id,
            options,
            SessionBackend::Postgres(std::sync::Arc::new(store)),
        )
        .await?;
        Ok((Box::new(connection), events))
    }

    fn name(&self) -> &'static str {
        "whatsapp-rust"
    }
}
