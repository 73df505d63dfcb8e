//! The signed-in user's own account: change the password (`POST /api/v1/me/password`), and "forgot password"
//! (`POST /api/v1/auth/password/forgot`, then `POST /api/v1/auth/password/reset` with the e-mailed link's
//! token). Changing or resetting a password ends the user's sign-ins (API tokens and browser sessions).
//!
//! Also the one-time links both this module and the team's invitations e-mail: 32 random bytes, URL-safe
//! base64 in the link, only their SHA-256 stored.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::users::{self, Role};
use store::{TenantCtx, audit, password_resets};

use crate::auth::{AuthUser, hash_password, verify_password};
use crate::extract::{ApiJson, ClientAddr};
use crate::mail::Mail;
use crate::validate::Check;
use crate::web::i18n::Lang;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/password", post(change))
        .route("/api/v1/auth/password/forgot", post(forgot))
        .route("/api/v1/auth/password/reset", post(reset))
}

/// How long a reset link works.
pub const RESET_VALID_FOR: Duration = Duration::from_secs(3600);

pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;

/// The one answer to an unknown, used or expired reset link.
pub const RESET_LINK_INVALID: &str = "Ce lien de réinitialisation n'est plus valable (déjà utilisé, expiré ou \
    inconnu). Demandez-en un nouveau depuis « Mot de passe oublié ? ».";

/// What "forgot password" always answers, whether or not the account exists.
pub const FORGOT_ANSWER: &str = "Si un compte existe pour cette adresse, un e-mail vient de partir avec un \
    lien pour choisir un nouveau mot de passe. Le lien est valable 1 heure.";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(format = Password)]
    pub current_password: String,
    /// 8 to 128 characters.
    #[schema(format = Password)]
    pub new_password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChangePasswordResponse {
    /// A fresh access token: every token issued before the change has stopped working, this one included.
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    pub email: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ForgotPasswordResponse {
    /// The same sentence whether or not the account exists.
    pub message: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token of the e-mailed link (the last part of `/password/reset/{token}`).
    pub token: String,
    /// 8 to 128 characters.
    #[schema(format = Password)]
    pub password: String,
}

/// Changes the caller's password. Every API token and browser session of the caller stops working; the
/// answer carries a fresh token.
#[utoipa::path(post, path = "/api/v1/me/password", operation_id = "changePassword",
    tag = "auth", request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses((status = 200, body = ChangePasswordResponse),
              (status = 422, description = "Wrong current password, or the new one is too short or too long"),
              (status = 429, description = "Rate limited")))]
async fn change(
    State(state): State<AppState>,
    user: AuthUser,
    client: ClientAddr,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<Json<ChangePasswordResponse>> {
    state.auth_limiter.check(client.0)?;
    let version = change_password(&state, &user, req.current_password, req.new_password).await?;
    let token = state
        .tokens
        .issue(user.user_id, user.tenant_id, user.role, version)?;
    Ok(Json(ChangePasswordResponse {
        token,
        expires_in: state.tokens.ttl_secs(),
    }))
}

/// Checks `current`, stores `new` and ends every sign-in of the user (tokens and sessions); returns the new
/// token version, for a fresh token. Field errors: `current_password`, `new_password`.
pub(crate) async fn change_password(
    state: &AppState,
    user: &AuthUser,
    current: String,
    new: String,
) -> Result<i32> {
    // Guessing the current password with a stolen token is sign-in guessing too.
    state.account_limiter.check(&user.user_id.to_string())?;
    let mut check = Check::default();
    check_password(&mut check, "new_password", &new, &[]);
    let mut tx = state.db.tenant(user.ctx()).await?;
    // A member removed meanwhile is signed out, not an error.
    let stored = users::password_hash(&mut tx, user.user_id)
        .await
        .map_err(|e| match e {
            store::Error::NotFound => Error::Unauthenticated,
            other => other.into(),
        })?;
    tx.commit().await?;
    let current_ok = current.chars().count() <= MAX_PASSWORD
        && verify_password(SecretString::from(current), Some(stored)).await?;
    if !current_ok {
        check.fail("current_password", "Mot de passe actuel incorrect.");
    }
    check.finish()?;
    let hash = hash_password(SecretString::from(new)).await?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    users::set_password(&mut tx, user.user_id, &hash).await?;
    password_resets::spend_all(&mut tx, user.user_id).await?;
    crate::auth::revoke_user(state, &mut tx, user.user_id).await?;
    let version = users::current_token_version(&mut tx, user.user_id).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "user.password_changed",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}

/// Sends a reset link if an account uses this e-mail. Always the same answer, and the same time: the
/// lookup and the e-mail happen after the answer, so neither the text nor the delay reveals whether the
/// account exists.
#[utoipa::path(post, path = "/api/v1/auth/password/forgot", operation_id = "forgotPassword",
    tag = "auth", request_body = ForgotPasswordRequest,
    responses((status = 202, body = ForgotPasswordResponse),
              (status = 422, description = "Not an e-mail address"), (status = 429, description = "Rate limited")))]
async fn forgot(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(req): ApiJson<ForgotPasswordRequest>,
) -> Result<(StatusCode, Json<ForgotPasswordResponse>)> {
    state.auth_limiter.check(client.0)?;
    request_reset(&state, &req.email)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ForgotPasswordResponse {
            message: FORGOT_ANSWER.into(),
        }),
    ))
}

/// Validates the address, then looks the account up and e-mails a reset link in the background (see
/// [`forgot`]). Platform administrators are never sent a link: they reset with `tdjaasa admin create`.
/// Field errors: `email`.
pub(crate) fn request_reset(state: &AppState, email: &str) -> Result<()> {
    let mut check = Check::default();
    let email = crate::validate::email(&mut check, "email", email);
    check.finish()?;
    let base = state.urls.links.clone();
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = send_reset_link(&state, &email, &base).await {
            tracing::warn!(error.cause_chain = ?e, error.message = %e, "password reset e-mail not sent");
        }
    });
    Ok(())
}

async fn send_reset_link(state: &AppState, email: &str, base: &str) -> Result<()> {
    let mut tx = state.db.platform().await?;
    let credentials = users::credentials_by_email(&mut tx, email).await?;
    tx.commit().await?;
    let Some(credentials) = credentials.filter(|c| c.role != Role::PlatformAdmin) else {
        return Ok(());
    };
    let (token, token_hash) = new_link_token();
    let mut tx = state
        .db
        .tenant(TenantCtx::new(credentials.tenant_id))
        .await?;
    password_resets::create(&mut tx, credentials.user_id, &token_hash, RESET_VALID_FOR).await?;
    let lang =
        Lang::parse(&users::get_language(&mut tx, credentials.user_id).await?).unwrap_or_default();
    audit::record(
        &mut tx,
        Some(credentials.user_id),
        "user.password_reset_requested",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    let mail = reset_mail(lang, email, &format!("{base}/password/reset/{token}"));
    state.mailer.send(mail).await?;
    Ok(())
}

/// Sets a new password with an e-mailed reset link. The link works once; every sign-in of the account
/// (API tokens, browser sessions) ends.
#[utoipa::path(post, path = "/api/v1/auth/password/reset", operation_id = "resetPassword",
    tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 204, description = "Password changed: sign in again"),
              (status = 404, description = "Unknown, used or expired link (one message for the three)"),
              (status = 422, description = "Password too short or too long"),
              (status = 429, description = "Rate limited")))]
async fn reset(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> Result<StatusCode> {
    state.auth_limiter.check(client.0)?;
    reset_password(&state, &req.token, req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `token` is a usable reset link (for the reset page).
pub(crate) async fn reset_link_usable(state: &AppState, token: &str) -> Result<bool> {
    let Some(token_hash) = hash_link_token(token) else {
        return Ok(false);
    };
    let mut tx = state.db.platform().await?;
    let found = password_resets::find_usable(&mut tx, &token_hash).await?;
    tx.commit().await?;
    Ok(found.is_some())
}

/// Uses the reset link `token` to set `password`, and ends every sign-in of the account. Errors: 404
/// ([`RESET_LINK_INVALID`]) for an unknown, used or expired link; 422 (field `password`).
pub(crate) async fn reset_password(state: &AppState, token: &str, password: String) -> Result<()> {
    let invalid = Error::NotFound(RESET_LINK_INVALID);
    let token_hash = hash_link_token(token).ok_or(Error::NotFound(RESET_LINK_INVALID))?;
    let mut tx = state.db.platform().await?;
    let found = password_resets::find_usable(&mut tx, &token_hash).await?;
    tx.commit().await?;
    let (tenant_id, _) = found.ok_or(invalid)?;
    let mut check = Check::default();
    check_password(&mut check, "password", &password, &[]);
    check.finish()?;
    let hash = hash_password(SecretString::from(password)).await?;
    let mut tx = state.db.tenant(TenantCtx::new(tenant_id)).await?;
    // Consumed in the same transaction as the change: of two concurrent uses, one wins.
    let user_id = password_resets::consume(&mut tx, &token_hash)
        .await?
        .ok_or(Error::NotFound(RESET_LINK_INVALID))?;
    users::set_password(&mut tx, user_id, &hash).await?;
    crate::auth::revoke_user(state, &mut tx, user_id).await?;
    audit::record(
        &mut tx,
        Some(user_id),
        "user.password_reset",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// 8 to 128 characters.
/// Length bounds and strength ([`crate::auth::strength`]); `context` is what the account gives away (its
/// e-mail, the shop's name).
pub(crate) fn check_password(check: &mut Check, field: &str, password: &str, context: &[&str]) {
    let len = password.chars().count();
    if len < MIN_PASSWORD {
        check.fail(
            field,
            format!("Le mot de passe doit contenir au moins {MIN_PASSWORD} caractères."),
        );
    } else if len > MAX_PASSWORD {
        check.fail(
            field,
            format!("Le mot de passe ne doit pas dépasser {MAX_PASSWORD} caractères."),
        );
    } else if let Some(weakness) = crate::auth::strength::weakness(password, context) {
        check.fail(field, weakness);
    }
}

/// A new one-time link token: the text for the link, and the SHA-256 to store.
pub(crate) fn new_link_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    (URL_SAFE_NO_PAD.encode(bytes), Sha256::digest(bytes).into())
}

/// The stored form of a link's token; `None` when it is not even well-formed.
pub(crate) fn hash_link_token(token: &str) -> Option<[u8; 32]> {
    let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(token.trim()).ok()?.try_into().ok()?;
    Some(Sha256::digest(bytes).into())
}

/// The reset e-mail, in the account's language.
pub(crate) fn reset_mail(lang: Lang, email: &str, link: &str) -> Mail {
    Mail {
        to: email.to_owned(),
        subject: lang.t("mail.reset.subject").into_owned(),
        text: lang.tf("mail.reset.body", &[("email", email), ("link", link)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_token_hashes_to_what_is_stored_and_nothing_else_does() {
        let (token, stored) = new_link_token();
        assert_eq!(token.len(), 43, "32 bytes in URL-safe base64");
        assert_eq!(hash_link_token(&token), Some(stored));
        assert_ne!(hash_link_token(&new_link_token().0), Some(stored));
        assert_eq!(hash_link_token("pas-un-jeton"), None);
        assert_eq!(hash_link_token(""), None);
    }

    #[test]
    fn the_reset_mail_speaks_the_users_language_and_carries_the_link() {
        let fr = reset_mail(Lang::Fr, "awa@example.ci", "http://x/password/reset/abc");
        assert!(fr.subject.contains("mot de passe"), "{}", fr.subject);
        assert!(
            fr.text.contains("http://x/password/reset/abc"),
            "{}",
            fr.text
        );
        assert!(fr.text.contains("1 heure"), "{}", fr.text);
        let en = reset_mail(Lang::En, "awa@example.ci", "http://x/password/reset/abc");
        assert!(en.subject.contains("password"), "{}", en.subject);
        assert!(en.text.contains("1 hour"), "{}", en.text);
    }
}
