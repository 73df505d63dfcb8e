//! The audit log: who did what to a tenant's account, for the shop and the operator.

use serde_json::Value;
use uuid::Uuid;

use crate::{Result, TenantTx};

/// Appends an entry in the same transaction as the change it describes, so neither exists without the other.
pub async fn record(
    tx: &mut TenantTx<'_>,
    actor_user_id: Option<Uuid>,
    action: &str,
    detail: Value,
) -> Result<()> {
    sqlx::query!(
        "insert into audit_log (tenant_id, actor_user_id, action, detail) values ($1, $2, $3, $4)",
        tx.tenant_id(),
        actor_user_id,
        action,
        detail,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
