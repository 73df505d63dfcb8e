//! Team invitations: the owner invites someone by e-mail; the link carries a random token of which only the
//! SHA-256 is stored. An invitation is open until accepted (once) or cancelled (deleted); it is pending while
//! open and not expired. Pending invitations count against the plan's seats.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::users::Role;
use crate::{PlatformTx, Result, TenantTx};

/// An open invitation, as the team page lists it (never the token).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invitation {
    pub invitation_id: Uuid,
    pub email: String,
    /// `owner` or `staff`.
    pub role: Role,
    pub invited_by: Option<Uuid>,
    /// When the current link was sent (a resend renews it).
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The link has expired: the owner may resend it (a new link) or cancel it.
    pub expired: bool,
}

/// What a new invitation needs. `email` must already be normalised (lower case).
pub struct NewInvitation<'a> {
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a [u8; 32],
    pub invited_by: Uuid,
    /// `fr` or `en`.
    pub language: &'a str,
    pub valid_for: Duration,
}

/// Records an invitation of the transaction's tenant. An expired, unaccepted invitation to the same address is
/// replaced; an open one refuses with the constraint `invitation_open_email`.
pub async fn create(tx: &mut TenantTx<'_>, new: &NewInvitation<'_>) -> Result<Invitation> {
    sqlx::query!(
        "delete from invitation
          where tenant_id = $1 and email = $2 and accepted_at is null and expires_at <= now()",
        tx.tenant_id(),
        new.email,
    )
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query_as!(
        Invitation,
        r#"insert into invitation (tenant_id, email, role, token_hash, invited_by, language, expires_at)
           values ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
           returning invitation_id, email, role as "role: Role", invited_by, sent_at, expires_at,
                     expires_at <= now() as "expired!""#,
        tx.tenant_id(),
        new.email,
        new.role as _,
        new.token_hash.as_slice(),
        new.invited_by,
        new.language,
        new.valid_for.as_secs_f64(),
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The shop's open invitations (pending and expired), newest first.
pub async fn list_open(tx: &mut TenantTx<'_>) -> Result<Vec<Invitation>> {
    Ok(sqlx::query_as!(
        Invitation,
        r#"select invitation_id, email, role as "role: Role", invited_by, sent_at, expires_at,
                  expires_at <= now() as "expired!"
           from invitation where tenant_id = $1 and accepted_at is null order by sent_at desc, email"#,
        tx.tenant_id(),
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Pending invitations (open, not expired), leaving `except` out.
pub async fn count_pending(tx: &mut TenantTx<'_>, except: Option<Uuid>) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "pending!" from invitation
            where tenant_id = $1 and accepted_at is null and expires_at > now()
              and invitation_id is distinct from $2"#,
        tx.tenant_id(),
        except,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// One open invitation of the shop (another shop's id is `NotFound`, like an unknown one).
pub async fn get_open(tx: &mut TenantTx<'_>, invitation_id: Uuid) -> Result<Invitation> {
    sqlx::query_as!(
        Invitation,
        r#"select invitation_id, email, role as "role: Role", invited_by, sent_at, expires_at,
                  expires_at <= now() as "expired!"
           from invitation where tenant_id = $1 and invitation_id = $2 and accepted_at is null"#,
        tx.tenant_id(),
        invitation_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// A new link for an open invitation: the old token stops working, the expiry starts again.
pub async fn renew(
    tx: &mut TenantTx<'_>,
    invitation_id: Uuid,
    token_hash: &[u8; 32],
    valid_for: Duration,
) -> Result<Invitation> {
    sqlx::query_as!(
        Invitation,
        r#"update invitation set token_hash = $3, sent_at = now(), expires_at = now() + make_interval(secs => $4)
            where tenant_id = $1 and invitation_id = $2 and accepted_at is null
            returning invitation_id, email, role as "role: Role", invited_by, sent_at, expires_at,
                      expires_at <= now() as "expired!""#,
        tx.tenant_id(),
        invitation_id,
        token_hash.as_slice(),
        valid_for.as_secs_f64(),
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Cancels an open invitation: its link stops working.
pub async fn delete_open(tx: &mut TenantTx<'_>, invitation_id: Uuid) -> Result<()> {
    let deleted = sqlx::query!(
        "delete from invitation where tenant_id = $1 and invitation_id = $2 and accepted_at is null",
        tx.tenant_id(),
        invitation_id,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(crate::Error::NotFound);
    }
    Ok(())
}

/// A usable invitation link, as the acceptance page shows it.
#[derive(Debug, Clone)]
pub struct InvitationLink {
    pub tenant_id: Uuid,
    pub invitation_id: Uuid,
    pub email: String,
    pub role: Role,
    /// The shop's name.
    pub shop_name: String,
    /// `fr` or `en`: the inviter's language.
    pub language: String,
}

/// The pending invitation whose token hashes to `token_hash`: none when unknown, used or expired (the three
/// look the same). Platform path: the tenant is what the invitation tells.
pub async fn find_pending_by_token(
    tx: &mut PlatformTx,
    token_hash: &[u8; 32],
) -> Result<Option<InvitationLink>> {
    Ok(sqlx::query_as!(
        InvitationLink,
        r#"select i.tenant_id, i.invitation_id, i.email, i.role as "role: Role", t.name as shop_name,
                  i.language
             from invitation i join tenant t using (tenant_id)
            where i.token_hash = $1 and i.accepted_at is null and i.expires_at > now()"#,
        token_hash.as_slice(),
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Marks the invitation accepted if its token is still pending, in the caller's transaction (which creates
/// the member). `None`: used, expired, cancelled or renewed meanwhile, so exactly one acceptance wins.
pub async fn accept(
    tx: &mut TenantTx<'_>,
    invitation_id: Uuid,
    token_hash: &[u8; 32],
) -> Result<Option<(String, Role, String)>> {
    let row = sqlx::query!(
        r#"update invitation set accepted_at = now()
            where tenant_id = $1 and invitation_id = $2 and token_hash = $3
              and accepted_at is null and expires_at > now()
            returning email, role as "role: Role", language"#,
        tx.tenant_id(),
        invitation_id,
        token_hash.as_slice(),
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|row| (row.email, row.role, row.language)))
}

/// Forgets invitations accepted, or expired, more than 30 days ago: the team page only shows open ones and the
/// audit log keeps the history. Platform path: housekeeping across shops.
pub async fn purge_stale(tx: &mut PlatformTx) -> Result<u64> {
    Ok(sqlx::query!(
        "delete from invitation
         where coalesce(accepted_at, expires_at) < now() - interval '30 days'",
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
