//! Browser sessions of the dashboard. The cookie holds a random token; the table holds its SHA-256, the
//! user, and the CSRF token forms must echo. Ending a session deletes its row, so a copied cookie stops
//! working at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::users::Role;
use crate::{PlatformTx, Result, TenantTx};

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

#[derive(sqlx::FromRow)]
struct SessionRow {
    session_id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    role: String,
    email: String,
    language: String,
    csrf_token: String,
    expires_at: DateTime<Utc>,
}

/// Opens a session for a user of the transaction's tenant.
pub async fn create(
    tx: &mut TenantTx<'_>,
    user_id: Uuid,
    token_hash: &[u8; 32],
    csrf_token: &str,
    ttl: Duration,
) -> Result<Uuid> {
    Ok(sqlx::query_scalar(
        "insert into web_session (tenant_id, user_id, token_hash, csrf_token, expires_at)
         values ($1, $2, $3, $4, now() + make_interval(secs => $5))
         returning session_id",
    )
    .bind(tx.tenant_id())
    .bind(user_id)
    .bind(token_hash.as_slice())
    .bind(csrf_token)
    .bind(ttl.as_secs_f64())
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
    let row = sqlx::query_as::<_, SessionRow>(
        "update web_session s
            set last_seen_at = now(),
                expires_at = greatest(s.expires_at, now() + make_interval(secs => $2))
           from app_user u
          where s.token_hash = $1 and s.expires_at > now()
            and u.tenant_id = s.tenant_id and u.user_id = s.user_id
            and s.last_seen_at < now() - make_interval(secs => $3)
          returning s.session_id, s.tenant_id, s.user_id, u.role, u.email, u.language, s.csrf_token,
                    s.expires_at",
    )
    .bind(token_hash.as_slice())
    .bind(ttl.as_secs_f64())
    .bind(TOUCH_EVERY_SECS)
    .fetch_optional(&mut **tx)
    .await?;
    let row = match row {
        Some(row) => Some(row),
        None => {
            sqlx::query_as::<_, SessionRow>(
                "select s.session_id, s.tenant_id, s.user_id, u.role, u.email, u.language, s.csrf_token,
                        s.expires_at
                   from web_session s
                   join app_user u on u.tenant_id = s.tenant_id and u.user_id = s.user_id
                  where s.token_hash = $1 and s.expires_at > now()",
            )
            .bind(token_hash.as_slice())
            .fetch_optional(&mut **tx)
            .await?
        }
    };
    row.map(|row| {
        let role =
            Role::parse(&row.role).ok_or_else(|| anyhow::anyhow!("unknown role {:?}", row.role))?;
        Ok(WebSession {
            session_id: row.session_id,
            tenant_id: row.tenant_id,
            user_id: row.user_id,
            role,
            email: row.email,
            language: row.language,
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
        })
    })
    .transpose()
}

/// Ends one session (logout).
pub async fn delete(tx: &mut TenantTx<'_>, session_id: Uuid) -> Result<()> {
    sqlx::query("delete from web_session where tenant_id = $1 and session_id = $2")
        .bind(tx.tenant_id())
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ends every session of a user (password change, removal, suspension).
pub async fn delete_for_user(tx: &mut TenantTx<'_>, user_id: Uuid) -> Result<u64> {
    Ok(
        sqlx::query("delete from web_session where tenant_id = $1 and user_id = $2")
            .bind(tx.tenant_id())
            .bind(user_id)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

/// Forgets expired sessions. Platform path: a periodic job across tenants.
pub async fn purge_expired(tx: &mut PlatformTx) -> Result<u64> {
    Ok(
        sqlx::query("delete from web_session where expires_at < now()")
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}
