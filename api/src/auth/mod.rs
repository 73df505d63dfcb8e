//! Authentication: argon2id password hashes, short-lived JWTs, and the extractor every tenant endpoint uses.

mod password;
pub(crate) mod routes;
mod token;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use store::TenantCtx;
use store::users::Role;
use uuid::Uuid;

pub use password::{hash_password, verify_password};
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
        Ok(AuthUser {
            user_id: claims.sub,
            tenant_id: claims.tid,
            role,
        })
    }
}
