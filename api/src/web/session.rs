//! Browser sign-in: a server-side session in PostgreSQL behind an HttpOnly, SameSite=Lax cookie (Secure in
//! production). The cookie holds 32 random bytes; the table holds their SHA-256 and the session's CSRF token.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use store::web_sessions;
use uuid::Uuid;

use super::error::WebError;
use super::i18n::Lang;
use crate::AppState;
use crate::auth::AuthUser;

/// The session cookie's name.
pub const COOKIE: &str = "tdj_session";

/// The signed-in browser user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: AuthUser,
    pub session_id: Uuid,
    pub email: String,
    pub lang: Lang,
    /// The synchronizer token every state-changing form carries.
    pub csrf: String,
    /// SHA-256 of the cookie's token, to check the session again later.
    cookie_hash: [u8; 32],
}

impl Session {
    pub fn is_owner(&self) -> bool {
        self.user.role == store::users::Role::Owner
    }

    /// Whether this sign-in still stands as it did (not signed out or revoked, same role), for long-lived
    /// streams opened with it.
    pub async fn still_live(&self, state: &AppState) -> bool {
        let Ok(mut tx) = state.db.platform().await else {
            return true;
        };
        match web_sessions::find_live(&mut tx, &self.cookie_hash, ttl(state)).await {
            Ok(found) => {
                let _ = tx.commit().await;
                found.is_some_and(|s| s.session_id == self.session_id && s.role == self.user.role)
            }
            // The database is unreachable: keep the stream; the next check decides.
            Err(_) => true,
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(COOKIE)
            .and_then(|c| decode_token(c.value()))
            .ok_or(WebError::SignIn)?;
        let cookie_hash = hash(&token);
        let mut tx = state.db.platform().await.map_err(crate::Error::from)?;
        let found = web_sessions::find_live(&mut tx, &cookie_hash, ttl(state))
            .await
            .map_err(crate::Error::from)?;
        tx.commit().await.map_err(crate::Error::from)?;
        let session = found.ok_or(WebError::SignIn)?;
        Ok(Session {
            user: AuthUser {
                user_id: session.user_id,
                tenant_id: session.tenant_id,
                role: session.role,
            },
            session_id: session.session_id,
            email: session.email,
            lang: Lang::parse(&session.language).unwrap_or_default(),
            csrf: session.csrf_token,
            cookie_hash,
        })
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <Session as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(session) => Ok(Some(session)),
            Err(WebError::SignIn) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

/// The session lifetime, slid forward while the user is active.
fn ttl(state: &AppState) -> Duration {
    Duration::from_secs(state.config.session_ttl_hours.saturating_mul(3600))
}

/// Opens a session for `user` and returns the cookie that carries it.
pub async fn open(state: &AppState, user: &AuthUser) -> crate::Result<Cookie<'static>> {
    let mut token = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut token);
    let mut csrf = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut csrf);
    let mut tx = state.db.tenant(user.ctx()).await?;
    web_sessions::create(
        &mut tx,
        user.user_id,
        &hash(&token),
        &URL_SAFE_NO_PAD.encode(csrf),
        ttl(state),
    )
    .await?;
    tx.commit().await?;
    Ok(cookie(state, URL_SAFE_NO_PAD.encode(token), ttl(state)))
}

/// Ends the session everywhere (the row is deleted) and returns the cookie that clears the browser's copy.
pub async fn close(state: &AppState, session: &Session) -> crate::Result<Cookie<'static>> {
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    web_sessions::delete(&mut tx, session.session_id).await?;
    tx.commit().await?;
    Ok(cookie(state, String::new(), Duration::ZERO))
}

fn cookie(state: &AppState, value: String, max_age: Duration) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .path("/")
        .max_age(cookie::time::Duration::try_from(max_age).unwrap_or(cookie::time::Duration::ZERO))
        .build()
}

fn decode_token(value: &str) -> Option<[u8; 32]> {
    URL_SAFE_NO_PAD.decode(value).ok()?.try_into().ok()
}

fn hash(token: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(token).into()
}
