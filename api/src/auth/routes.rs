//! `POST /api/v1/auth/signup`, `POST /api/v1/auth/login`, `GET /api/v1/me`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use store::plans::{self, Plan};
use store::tenants::{self, Tenant};
use store::users::{self, Role, User};
use store::{TenantCtx, audit, bot_settings};
use uuid::Uuid;

use super::{AuthUser, hash_password, verify_password};
use crate::extract::{ApiJson, ClientAddr};
use crate::validate::{self, Check};
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/signup", post(signup))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/me", get(me))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// The shop's name as customers know it (2 to 120 characters).
    pub business_name: String,
    pub email: String,
    /// 8 to 128 characters, and not easy to guess (common passwords, sequences, dates and the shop's own
    /// name are refused).
    #[schema(format = Password)]
    pub password: String,
    /// `starter`, `pro` or `business`.
    pub plan: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignupResponse {
    pub token: String,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub tenant_id: Uuid,
    pub role: Role,
    pub expires_in: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MeResponse {
    pub user: User,
    pub tenant: Tenant,
    pub plan: Plan,
}

/// Creates a shop and its owner account, and signs the owner in.
#[utoipa::path(post, path = "/api/v1/auth/signup", operation_id = "signup",
    tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = SignupResponse), (status = 409, description = "E-mail already used"),
              (status = 422, description = "Invalid fields"), (status = 429, description = "Rate limited")))]
async fn signup(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<SignupResponse>)> {
    state.auth_limiter.check(client.0)?;
    let owner = create_shop(&state, req).await?;
    let token = state
        .tokens
        .issue(owner.user_id, owner.tenant_id, Role::Owner, 0)?;
    Ok((
        StatusCode::CREATED,
        Json(SignupResponse {
            token,
            tenant_id: owner.tenant_id,
            user_id: owner.user_id,
            expires_in: state.tokens.ttl_secs(),
        }),
    ))
}

/// Creates a shop, its pending subscription, its default bot and its owner account, in one transaction.
/// Shared by the REST signup and the dashboard's sign-up page (the caller applies the rate limit).
pub(crate) async fn create_shop(state: &AppState, req: SignupRequest) -> Result<AuthUser> {
    // Probing whether an address has an account costs the same here as at the login.
    state.account_limiter.check(&req.email)?;
    let mut check = Check::default();
    let business_name = check.text("business_name", &req.business_name, 2, 120);
    let email = validate::email(&mut check, "email", &req.email);
    crate::account::check_password(
        &mut check,
        "password",
        &req.password,
        &[&req.email, &req.business_name],
    );
    let plan_code = req.plan.trim().to_lowercase();
    if plans::get_active(state.db.pool(), &plan_code)
        .await?
        .is_none()
    {
        check.fail(
            "plan",
            "Forfait inconnu : choisissez starter, pro ou business.",
        );
    }
    check.finish()?;

    let password_hash = hash_password(SecretString::from(req.password)).await?;
    let tenant_id = Uuid::new_v4();
    let mut tx = state.db.billing(TenantCtx::new(tenant_id)).await?;
    tenants::create(&mut tx, &business_name, &plan_code).await?;
    let user = users::create(&mut tx, &email, &password_hash, Role::Owner)
        .await
        .map_err(|e| {
            if e.constraint() == Some("app_user_email_key") {
                Error::Conflict {
                    code: "email_taken",
                    message: "Cette adresse e-mail est déjà utilisée.".into(),
                }
            } else {
                e.into()
            }
        })?;
    let trial_ends_at = (state.config.trial_days > 0)
        .then(|| chrono::Utc::now() + chrono::Duration::days(i64::from(state.config.trial_days)));
    store::billing::open_subscription(&mut tx, &plan_code, trial_ends_at).await?;
    bot_settings::get(&mut tx).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "tenant.signup",
        serde_json::json!({ "plan": plan_code }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%tenant_id, "new tenant signed up");
    Ok(AuthUser {
        user_id: user.user_id,
        tenant_id,
        role: Role::Owner,
    })
}

/// Exchanges an e-mail and password for an access token.
#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, description = "Wrong e-mail or password"),
              (status = 429, description = "Rate limited")))]
async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>> {
    state.auth_limiter.check(client.0)?;
    let (user, token_version) = authenticate(&state, &req.email, req.password).await?;
    let token = state
        .tokens
        .issue(user.user_id, user.tenant_id, user.role, token_version)?;
    Ok(Json(LoginResponse {
        token,
        tenant_id: user.tenant_id,
        role: user.role,
        expires_in: state.tokens.ttl_secs(),
    }))
}

/// Checks an e-mail and password and returns the user with their current token version; the same work (one hash verification) whether or not the e-mail exists.
/// Shared by the REST login and the dashboard's login page (the caller applies the rate limit).
pub(crate) async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<(AuthUser, i32)> {
    if password.chars().count() > crate::account::MAX_PASSWORD {
        return Err(Error::InvalidCredentials);
    }
    let email = email.trim().to_lowercase();
    state.account_limiter.check(&email)?;
    // Before login no tenant is known: the one lookup by e-mail goes through the platform path.
    let mut tx = state.db.platform().await?;
    let credentials = users::credentials_by_email(&mut tx, &email).await?;
    tx.commit().await?;
    let hash = credentials.as_ref().map(|c| c.password_hash.clone());
    if !verify_password(SecretString::from(password), hash).await? {
        return Err(Error::InvalidCredentials);
    }
    let credentials = credentials.ok_or(Error::InvalidCredentials)?;
    let user = AuthUser {
        user_id: credentials.user_id,
        tenant_id: credentials.tenant_id,
        role: credentials.role,
    };
    Ok((user, credentials.token_version))
}

/// The signed-in user, their shop and its plan.
#[utoipa::path(get, path = "/api/v1/me", operation_id = "getMe", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, description = "Not signed in")))]
async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<MeResponse>> {
    let mut tx = state.db.tenant(user.ctx()).await?;
    // A deleted user keeps a valid token until it expires; answer as if signed out.
    let me = users::get(&mut tx, user.user_id)
        .await
        .map_err(|_| Error::Unauthenticated)?;
    let tenant = tenants::get(&mut tx).await?;
    let plan = plans::of_tenant(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(MeResponse {
        user: me,
        tenant,
        plan,
    }))
}
