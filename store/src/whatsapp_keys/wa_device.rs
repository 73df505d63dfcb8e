//! `wa_device`: the linked device's own credentials, one sealed row per tenant.

use crate::{Result, TenantTx};

/// Stores the sealed device, replacing the tenant's previous one (its `version` counts the saves).
pub async fn save(tx: &mut TenantTx<'_>, sealed: &[u8]) -> Result<()> {
    sqlx::query!(
        "insert into wa_device (tenant_id, sealed) values ($1, $2)
         on conflict (tenant_id) do update
         set sealed = excluded.sealed, version = wa_device.version + 1, updated_at = now()",
        tx.tenant_id(),
        sealed,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores the sealed device unless the tenant already has one (which is kept).
pub async fn create(tx: &mut TenantTx<'_>, sealed: &[u8]) -> Result<()> {
    sqlx::query!(
        "insert into wa_device (tenant_id, sealed) values ($1, $2) on conflict (tenant_id) do nothing",
        tx.tenant_id(),
        sealed,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The sealed device, if the tenant has one.
pub async fn load(tx: &mut TenantTx<'_>) -> Result<Option<Vec<u8>>> {
    Ok(sqlx::query_scalar!(
        "select sealed from wa_device where tenant_id = $1",
        tx.tenant_id(),
    )
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn exists(tx: &mut TenantTx<'_>) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from wa_device where tenant_id = $1) as "exists!""#,
        tx.tenant_id(),
    )
    .fetch_one(&mut **tx)
    .await?)
}
