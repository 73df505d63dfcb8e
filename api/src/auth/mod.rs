//! Authentication: argon2id password hashes, short-lived JWTs, and the extractor every tenant endpoint uses.

mod password;
pub(crate) mod revocation;
pub(crate) mod routes;
pub mod strength;
mod token;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
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
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Error::Unauthenticated)?;
        let claims = state
            .tokens
            .verify(token.trim())
            .map_err(|_| Error::Unauthenticated)?;
        let role = Role::parse(&claims.role).ok_or(Error::Unauthenticated)?;
        let current = match state.token_versions.cached(claims.sub) {
            Some(version) => version,
            None => {
                let mut tx = state.db.platform().await?;
                let version = store::users::token_version(&mut tx, claims.sub).await?;
                tx.commit().await?;
                state.token_versions.remember(claims.sub, version);
                version
            }
        };
        // A deleted user, or a token issued before a password change, removal or suspension.
        if current != Some(claims.ver) {
            return Err(Error::Unauthenticated);
        }
        Ok(AuthUser {
            user_id: claims.sub,
            tenant_id: claims.tid,
            role,
        })
    }
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
