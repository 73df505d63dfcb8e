//! Password-reset links ("forgot password"): only the token's SHA-256 is stored; a link works once and
//! expires.

use std::time::Duration;

use uuid::Uuid;

use crate::{PlatformTx, Result, TenantTx};

/// Records a reset link for a user of the transaction's tenant.
pub async fn create(
    tx: &mut TenantTx<'_>,
    user_id: Uuid,
    token_hash: &[u8; 32],
    valid_for: Duration,
) -> Result<()> {
    sqlx::query!(
        "insert into password_reset (tenant_id, user_id, token_hash, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4))",
        tx.tenant_id(),
        user_id,
        token_hash.as_slice(),
        valid_for.as_secs_f64(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The tenant and user of an unused, unexpired link (`None` for unknown, used and expired alike).
/// Platform path: before the reset nobody is signed in.
pub async fn find_usable(
    tx: &mut PlatformTx,
    token_hash: &[u8; 32],
) -> Result<Option<(Uuid, Uuid)>> {
    let row = sqlx::query!(
        "select tenant_id, user_id from password_reset
          where token_hash = $1 and used_at is null and expires_at > now()",
        token_hash.as_slice(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|row| (row.tenant_id, row.user_id)))
}

/// Uses the link if it is still usable and returns its user; every other open link of that user is spent
/// too (the password they were asked for is now set). `None`: the link was used, expired or unknown.
pub async fn consume(tx: &mut TenantTx<'_>, token_hash: &[u8; 32]) -> Result<Option<Uuid>> {
    let user_id = sqlx::query_scalar!(
        "update password_reset set used_at = now()
          where tenant_id = $1 and token_hash = $2 and used_at is null and expires_at > now()
          returning user_id",
        tx.tenant_id(),
        token_hash.as_slice(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(user_id) = user_id {
        spend_all(tx, user_id).await?;
    }
    Ok(user_id)
}

/// Spends every open link of a user (their password changed).
pub async fn spend_all(tx: &mut TenantTx<'_>, user_id: Uuid) -> Result<u64> {
    Ok(sqlx::query!(
        "update password_reset set used_at = now()
          where tenant_id = $1 and user_id = $2 and used_at is null",
        tx.tenant_id(),
        user_id,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Forgets reset links expired for a day (used or not). Platform path: housekeeping across shops.
pub async fn purge_stale(tx: &mut PlatformTx) -> Result<u64> {
    Ok(
        sqlx::query!("delete from password_reset where expires_at < now() - interval '1 day'")
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}
