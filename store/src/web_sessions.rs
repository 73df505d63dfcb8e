//! Browser sessions of the dashboard. The cookie holds a random token; the table holds its SHA-256, the
//! user, and the CSRF token forms must echo. Ending a session deletes its row, so a copied cookie stops
//! working at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{PlatformTx, Result, TenantTx};
use schemas::accounts::Role;

/// Sliding expiry is refreshed at most this often, so a page view does not write on every request.
const TOUCH_EVERY_SECS: f64 = 300.0;

/// A live session and who it belongs to.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub session_id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    pub email: String,
    /// `fr` or `en`.
    pub language: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Opens a session for a user of the transaction's tenant.
pub async fn create(
    tx: &mut TenantTx<'_>,
    user_id: Uuid,
    token_hash: &[u8; 32],
    csrf_token: &str,
    ttl: Duration,
) -> Result<Uuid> {
    Ok(sqlx::query_scalar!(
        "insert into web_session (tenant_id, user_id, token_hash, csrf_token, expires_at)
         values ($1, $2, $3, $4, now() + make_interval(secs => $5))
         returning session_id",
        tx.tenant_id(),
        user_id,
        token_hash.as_slice(),
        csrf_token,
        ttl.as_secs_f64(),
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The live session with this token hash, if any; slides its expiry forward by `ttl` now and then.
/// Platform path: the tenant is what the session tells us.
pub async fn find_live(
    tx: &mut PlatformTx,
    token_hash: &[u8; 32],
    ttl: Duration,
) -> Result<Option<WebSession>> {
    let touched = sqlx::query_as!(
        WebSession,
        r#"update web_session s
              set last_seen_at = now(),
                  expires_at = greatest(s.expires_at, now() + make_interval(secs => $2))
             from app_user u
            where s.token_hash = $1 and s.expires_at > now()
              and u.tenant_id = s.tenant_id and u.user_id = s.user_id
              and s.last_seen_at < now() - make_interval(secs => $3)
            returning s.session_id, s.tenant_id, s.user_id, u.role as "role: Role", u.email, u.language,
                      s.csrf_token, s.expires_at"#,
        token_hash.as_slice(),
        ttl.as_secs_f64(),
        TOUCH_EVERY_SECS,
    )
    .fetch_optional(&mut **tx)
    .await?;
    if touched.is_some() {
        return Ok(touched);
    }
    Ok(sqlx::query_as!(
        WebSession,
        r#"select s.session_id, s.tenant_id, s.user_id, u.role as "role: Role", u.email, u.language,
                  s.csrf_token, s.expires_at
             from web_session s
             join app_user u on u.tenant_id = s.tenant_id and u.user_id = s.user_id
            where s.token_hash = $1 and s.expires_at > now()"#,
        token_hash.as_slice(),
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Ends one session (logout).
pub async fn delete(tx: &mut TenantTx<'_>, session_id: Uuid) -> Result<()> {
    sqlx::query!(
        "delete from web_session where tenant_id = $1 and session_id = $2",
        tx.tenant_id(),
        session_id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Ends every session of a user (password change, removal, suspension).
pub async fn delete_for_user(tx: &mut TenantTx<'_>, user_id: Uuid) -> Result<u64> {
    Ok(sqlx::query!(
        "delete from web_session where tenant_id = $1 and user_id = $2",
        tx.tenant_id(),
        user_id,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Forgets expired sessions. Platform path: a periodic job across tenants.
pub async fn purge_expired(tx: &mut PlatformTx) -> Result<u64> {
    Ok(
        sqlx::query!("delete from web_session where expires_at < now()")
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}
