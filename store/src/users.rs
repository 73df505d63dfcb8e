//! Users: shop owners, their staff and platform administrators.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{PlatformTx, Result, TenantTx};

pub use schemas::accounts::Role;

/// A user as shown to clients: never carries the password hash.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// What login needs; the hash stays in a secret type so it cannot be logged by accident.
#[derive(Debug)]
pub struct Credentials {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub role: Role,
    pub password_hash: SecretString,
    /// Tokens issued now carry it; a bump revokes the older ones.
    pub token_version: i32,
}

/// Creates a user of the transaction's tenant. `email` must already be normalised (lower case).
pub async fn create(
    tx: &mut TenantTx<'_>,
    email: &str,
    password_hash: &str,
    role: Role,
) -> Result<User> {
    Ok(sqlx::query_as!(
        User,
        r#"insert into app_user (tenant_id, email, password_hash, role) values ($1, $2, $3, $4)
           returning user_id, tenant_id, email, role as "role: Role", created_at"#,
        tx.tenant_id(),
        email,
        password_hash,
        role as _,
    )
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn get(tx: &mut TenantTx<'_>, user_id: Uuid) -> Result<User> {
    sqlx::query_as!(
        User,
        r#"select user_id, tenant_id, email, role as "role: Role", created_at
           from app_user where tenant_id = $1 and user_id = $2"#,
        tx.tenant_id(),
        user_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Login looks a user up by e-mail before any tenant is known: a platform-path query.
pub async fn credentials_by_email(tx: &mut PlatformTx, email: &str) -> Result<Option<Credentials>> {
    let row = sqlx::query!(
        r#"select user_id, tenant_id, role as "role: Role", password_hash, token_version
           from app_user where email = $1"#,
        email,
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|row| Credentials {
        user_id: row.user_id,
        tenant_id: row.tenant_id,
        role: row.role,
        password_hash: SecretString::from(row.password_hash),
        token_version: row.token_version,
    }))
}

/// Creates a platform administrator in the platform tenant, or resets the password of an existing one.
pub async fn upsert_platform_admin(
    tx: &mut PlatformTx,
    email: &str,
    password_hash: &str,
) -> Result<Uuid> {
    crate::tenants::ensure_platform_tenant(tx).await?;
    let user_id = sqlx::query_scalar!(
        "insert into app_user (tenant_id, email, password_hash, role) values ($1, $2, $3, 'platform_admin')
         on conflict (email) do update set password_hash = excluded.password_hash
           where app_user.role = 'platform_admin'
         returning user_id",
        crate::tenants::PLATFORM_TENANT_ID,
        email,
        password_hash,
    )
    .fetch_optional(&mut **tx)
    .await?;
    user_id.ok_or_else(|| crate::Error::Constraint("app_user_email_key".into()))
}

/// Sets the user's dashboard language (`fr` or `en`).
pub async fn set_language(tx: &mut TenantTx<'_>, user_id: Uuid, language: &str) -> Result<()> {
    let updated = sqlx::query!(
        "update app_user set language = $3 where tenant_id = $1 and user_id = $2",
        tx.tenant_id(),
        user_id,
        language,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(crate::Error::NotFound);
    }
    Ok(())
}

/// The user's dashboard language.
pub async fn get_language(tx: &mut TenantTx<'_>, user_id: Uuid) -> Result<String> {
    sqlx::query_scalar!(
        "select language from app_user where tenant_id = $1 and user_id = $2",
        tx.tenant_id(),
        user_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Who a user is now, as the database says: what a signed-in request is authorised by, whatever its token
/// claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub tenant_id: Uuid,
    pub role: Role,
    /// Tokens carry the version they were issued with; a bump revokes the older ones.
    pub token_version: i32,
}

/// The user's current standing (`None`: the user no longer exists). Platform path: checked on every API
/// request before the tenant's transaction opens.
pub async fn standing(tx: &mut PlatformTx, user_id: Uuid) -> Result<Option<Standing>> {
    let row = sqlx::query!(
        r#"select tenant_id, role as "role: Role", token_version from app_user where user_id = $1"#,
        user_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|row| Standing {
        tenant_id: row.tenant_id,
        role: row.role,
        token_version: row.token_version,
    }))
}

/// Ends everything a user is signed in with: the API tokens (version bump) and the browser sessions.
pub async fn revoke(tx: &mut TenantTx<'_>, user_id: Uuid) -> Result<()> {
    sqlx::query!(
        "update app_user set token_version = token_version + 1 where tenant_id = $1 and user_id = $2",
        tx.tenant_id(),
        user_id,
    )
    .execute(&mut **tx)
    .await?;
    crate::web_sessions::delete_for_user(tx, user_id).await?;
    Ok(())
}

/// Ends the sign-ins of every user of the transaction's tenant (the shop was suspended).
pub async fn revoke_all(tx: &mut TenantTx<'_>) -> Result<u64> {
    let users = sqlx::query!(
        "update app_user set token_version = token_version + 1 where tenant_id = $1",
        tx.tenant_id(),
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query!(
        "delete from web_session where tenant_id = $1",
        tx.tenant_id()
    )
    .execute(&mut **tx)
    .await?;
    Ok(users)
}

/// The shop's members (owners and staff), oldest first.
pub async fn list(tx: &mut TenantTx<'_>) -> Result<Vec<User>> {
    Ok(sqlx::query_as!(
        User,
        r#"select user_id, tenant_id, email, role as "role: Role", created_at
           from app_user where tenant_id = $1 order by created_at, email"#,
        tx.tenant_id(),
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// How many members the shop has, and how many of them are owners.
pub async fn count_members(tx: &mut TenantTx<'_>) -> Result<(i64, i64)> {
    let counts = sqlx::query!(
        r#"select count(*) as "members!", count(*) filter (where role = 'owner') as "owners!"
           from app_user where tenant_id = $1"#,
        tx.tenant_id(),
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((counts.members, counts.owners))
}

/// Serialises changes to the shop's team (invite, accept, role change, removal) until the transaction ends,
/// so seat counts and the "last owner" rule hold under concurrent requests.
pub async fn lock_team(tx: &mut TenantTx<'_>) -> Result<()> {
    sqlx::query_scalar!(
        "select pg_advisory_xact_lock(hashtextextended('team:' || $1::uuid::text, 0))",
        tx.tenant_id(),
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(())
}

/// Changes a member's role.
pub async fn set_role(tx: &mut TenantTx<'_>, user_id: Uuid, role: Role) -> Result<User> {
    sqlx::query_as!(
        User,
        r#"update app_user set role = $3 where tenant_id = $1 and user_id = $2
           returning user_id, tenant_id, email, role as "role: Role", created_at"#,
        tx.tenant_id(),
        user_id,
        role as _,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Deletes a member (their browser sessions go with them).
pub async fn delete(tx: &mut TenantTx<'_>, user_id: Uuid) -> Result<()> {
    let deleted = sqlx::query!(
        "delete from app_user where tenant_id = $1 and user_id = $2",
        tx.tenant_id(),
        user_id,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(crate::Error::NotFound);
    }
    Ok(())
}

/// Whether any account, in any shop or the platform, uses this e-mail (normalised). Platform path: e-mails
/// are unique across tenants.
pub async fn email_taken(tx: &mut PlatformTx, email: &str) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from app_user where email = $1) as "taken!""#,
        email
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The member's password hash, to check their current password before a change.
pub async fn password_hash(tx: &mut TenantTx<'_>, user_id: Uuid) -> Result<SecretString> {
    let hash = sqlx::query_scalar!(
        "select password_hash from app_user where tenant_id = $1 and user_id = $2",
        tx.tenant_id(),
        user_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;
    Ok(SecretString::from(hash))
}

/// Replaces the member's password hash (the caller revokes their sign-ins in the same transaction).
pub async fn set_password(tx: &mut TenantTx<'_>, user_id: Uuid, password_hash: &str) -> Result<()> {
    let updated = sqlx::query!(
        "update app_user set password_hash = $3 where tenant_id = $1 and user_id = $2",
        tx.tenant_id(),
        user_id,
        password_hash,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(crate::Error::NotFound);
    }
    Ok(())
}

/// The member's current token version (tokens issued now carry it).
pub async fn current_token_version(tx: &mut TenantTx<'_>, user_id: Uuid) -> Result<i32> {
    sqlx::query_scalar!(
        "select token_version from app_user where tenant_id = $1 and user_id = $2",
        tx.tenant_id(),
        user_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}
