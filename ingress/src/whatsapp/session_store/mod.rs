//! Session storage for `whatsapp-rust`: [`PgSessionStore`] implements the crate's five storage traits
//! (`SignalStore`, `AppSyncStore`, `ProtocolStore`, `MsgSecretStore`, `DeviceStore`), which makes it a
//! `whatsapp_rust` `Backend`, on the `wa_kv` and `wa_device` tables (migration 0005), whose statements are in
//! `store::whatsapp_keys`.
//!
//! One instance serves one tenant's linked device. Every statement runs in a [`TenantTx`], so row-level
//! security confines it to that tenant even if a query forgot its `tenant_id` predicate; every value is
//! sealed with the tenant's data key, with associated data naming the namespace and row; and every row key
//! that could identify a person (JIDs, phone numbers, LIDs) is stored only as an HMAC under a per-tenant index
//! key. Errors are returned, never swallowed: the client flushes ratchet state before a ciphertext goes on the
//! wire and aborts the send when that flush fails.

mod app_sync;
mod device;
mod kv;
mod msg_secret;
mod protocol;
mod signal;

use store::crypto::{DataKey, MasterKey};
use store::{Db, TenantCtx, TenantTx, whatsapp_keys};
use uuid::Uuid;
use whatsapp_rust::wacore::store::error::StoreError;

use kv::IndexKey;

/// What can go wrong opening, reading or writing a tenant's session state.
#[derive(Debug, thiserror::Error)]
pub enum SessionStoreError {
    /// PostgreSQL refused or could not run the statement, or a sealed value failed to open (`store::Error::Crypto`:
    /// tampered bytes, another tenant's key, or a value moved to another row).
    #[error(transparent)]
    Store(#[from] store::Error),
    /// A value opened but does not decode as what its namespace holds.
    #[error("stored {what} does not decode")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A value opened but has the wrong shape (for example an identity key that is not 32 bytes).
    #[error("stored {0} is malformed")]
    Malformed(&'static str),
    /// A value could not be serialised before sealing.
    #[error("cannot encode {what}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// The crate only knows its own error type; keep our error as the source so logs show the real cause.
impl From<SessionStoreError> for StoreError {
    fn from(error: SessionStoreError) -> Self {
        match &error {
            SessionStoreError::Store(e) if whatsapp_keys::is_unreachable(e) => {
                StoreError::Connection(Box::new(error))
            }
            SessionStoreError::Store(store::Error::Crypto)
            | SessionStoreError::Decode { .. }
            | SessionStoreError::Malformed(_)
            | SessionStoreError::Encode { .. } => StoreError::Serialization(Box::new(error)),
            SessionStoreError::Store(_) => StoreError::Database(Box::new(error)),
        }
    }
}

pub type Result<T, E = SessionStoreError> = std::result::Result<T, E>;

/// One tenant's WhatsApp session state in PostgreSQL, as a `whatsapp_rust` storage backend.
///
/// Build it with [`PgSessionStore::open`] on a pool that logs in as the app role, and hand it to the client
/// builder (`with_backend`). It holds the tenant's unwrapped data key, so keep it only as long as the session.
#[derive(Clone)]
pub struct PgSessionStore {
    db: Db,
    ctx: TenantCtx,
    key: DataKey,
    index: IndexKey,
}

impl std::fmt::Debug for PgSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSessionStore")
            .field("tenant_id", &self.ctx.tenant_id)
            .finish_non_exhaustive()
    }
}

impl PgSessionStore {
    /// Opens `tenant_id`'s session store: unwraps (creating on first use) the tenant's data key and derives
    /// the tenant's index key for hashed row keys.
    pub async fn open(db: &Db, master: &MasterKey, tenant_id: Uuid) -> Result<Self> {
        let ctx = TenantCtx::new(tenant_id);
        let mut tx = db.tenant(ctx).await?;
        let key = master.data_key(&mut tx).await?;
        tx.commit().await?;
        Ok(Self {
            db: db.clone(),
            ctx,
            key,
            index: IndexKey::derive(master, tenant_id),
        })
    }

    pub fn tenant_id(&self) -> Uuid {
        self.ctx.tenant_id
    }

    /// Deletes every session row of the tenant (device, keys, sessions, buffers), for logout or re-linking.
    /// The data key stays: it belongs to the tenant, not to the WhatsApp session.
    pub async fn wipe(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        whatsapp_keys::wipe(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn begin(&self) -> Result<TenantTx<'static>> {
        Ok(self.db.tenant(self.ctx).await?)
    }
}
