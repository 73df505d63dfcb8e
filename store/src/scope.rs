//! Tenant-scoped and platform transactions.
//!
//! Row-level security reads the tenant from the transaction-local setting `app.tenant_id`. A `TenantTx` can
//! only be opened with that setting in place, and every tenant repository function takes one, so a query
//! that forgot its tenant cannot even be written. `PlatformTx` is the one explicit cross-tenant path.

use std::ops::{Deref, DerefMut};

use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::Result;

/// The tenant a piece of work is done for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantCtx {
    pub tenant_id: Uuid,
}

impl TenantCtx {
    pub fn new(tenant_id: Uuid) -> Self {
        Self { tenant_id }
    }
}

/// A transaction in which the database only shows one tenant's rows.
pub struct TenantTx<'c> {
    ctx: TenantCtx,
    tx: Transaction<'c, Postgres>,
}

impl TenantTx<'static> {
    /// `BEGIN` and bind the transaction to `ctx` (`set_config(.., is_local => true)`).
    pub async fn begin(pool: &PgPool, ctx: TenantCtx) -> Result<Self> {
        let mut tx = pool.begin().await?;
        sqlx::query!(
            "select set_config('app.tenant_id', $1, true)",
            ctx.tenant_id.to_string()
        )
        .fetch_one(&mut *tx)
        .await?;
        Ok(Self { ctx, tx })
    }
}

impl TenantTx<'_> {
    pub fn ctx(&self) -> TenantCtx {
        self.ctx
    }

    pub fn tenant_id(&self) -> Uuid {
        self.ctx.tenant_id
    }

    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

impl Deref for TenantTx<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// A transaction running as `tdjaasa_platform`, which sees every tenant. Used only for login by e-mail,
/// the platform-admin endpoints and scheduled jobs; each use is a deliberate call to `Db::platform`.
pub struct PlatformTx {
    tx: Transaction<'static, Postgres>,
}

impl PlatformTx {
    /// `BEGIN` on `pool`, which must log in as the platform role.
    pub async fn begin(pool: &PgPool) -> Result<Self> {
        let tx = pool.begin().await?;
        Ok(Self { tx })
    }

    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

impl Deref for PlatformTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for PlatformTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
