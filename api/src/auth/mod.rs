//! Authentication: argon2id password hashes, short-lived JWTs, and the extractor every tenant endpoint uses.

mod password;
pub(crate) mod revocation;
pub(crate) mod routes;
pub mod strength;
mod token;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use store::TenantCtx;
use store::users::Role;
use uuid::Uuid;

pub use password::{hash_password, hashing_slots, peak_concurrent_hashes, verify_password};
pub use token::{Claims, TokenKeys};

use crate::{AppState, Error};

/// The authenticated caller, from a valid bearer token.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub role: Role,
}

impl AuthUser {
    /// The tenant every query of this request is scoped to.
    pub fn ctx(&self) -> TenantCtx {
        TenantCtx::new(self.tenant_id)
    }

    /// Only the shop's owner (billing, team, WhatsApp link, bot identity).
    pub fn require_owner(&self) -> Result<(), Error> {
        if self.role == Role::Owner {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// Only the platform operator.
    pub fn require_platform_admin(&self) -> Result<(), Error> {
        if self.role == Role::PlatformAdmin {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or(Error::Unauthenticated)?;
        authorize(state, token).await
    }
}

/// The bearer token of a request, if any.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Who `token` signs in, checked against the database now: used per request, and again and again by a
/// long-lived stream.
pub(crate) async fn authorize(state: &AppState, token: &str) -> Result<AuthUser, Error> {
    let claims = state
        .tokens
        .verify(token.trim())
        .map_err(|_| Error::Unauthenticated)?;
    let role = Role::parse(&claims.role).ok_or(Error::Unauthenticated)?;
    let current = match state.token_versions.cached(claims.sub) {
        Some(standing) => standing,
        None => {
            let mut tx = state.db.platform().await?;
            let standing = store::users::standing(&mut tx, claims.sub).await?;
            tx.commit().await?;
            state.token_versions.remember(claims.sub, standing);
            standing
        }
    };
    // The database decides who the caller is: a deleted user, a token issued before a password change,
    // removal or suspension, or claims that no longer match the account (another shop, another role) are
    // refused.
    let current = current.ok_or(Error::Unauthenticated)?;
    if current.token_version != claims.ver
        || current.tenant_id != claims.tid
        || current.role != role
    {
        return Err(Error::Unauthenticated);
    }
    Ok(AuthUser {
        user_id: claims.sub,
        tenant_id: current.tenant_id,
        role: current.role,
    })
}

/// Ends every sign-in of `user_id` (API tokens and browser sessions), inside the caller's transaction: a
/// password change or reset, a removed member. Other processes notice within the token-version cache's
/// freshness (two seconds).
pub(crate) async fn revoke_user(
    state: &AppState,
    tx: &mut store::TenantTx<'_>,
    user_id: Uuid,
) -> Result<(), Error> {
    store::users::revoke(tx, user_id).await?;
    state.token_versions.forget(user_id);
    Ok(())
}

/// Ends every sign-in of every user of the transaction's shop (the operator suspended it).
pub(crate) async fn revoke_shop(
    state: &AppState,
    tx: &mut store::TenantTx<'_>,
) -> Result<(), Error> {
    store::users::revoke_all(tx).await?;
    state.token_versions.forget_all();
    Ok(())
}
