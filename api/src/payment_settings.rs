//! `/api/v1/payment-settings` (owner only): how the shop's customers pay their orders — the shop's own Wave
//! and Orange Money merchant accounts, and payment on delivery. Credentials are checked with a live call to
//! the provider before they are stored (sealed, `store::shop_payments`); no answer, log, event or audit entry
//! ever carries them, only a hint (`••••1234`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use store::audit;
use store::shop_payments::{
    self, AccountSummary, Credentials, MerchantProvider, OrangeMoneyCredentials, PaymentSettings,
    WaveCredentials,
};

use crate::auth::AuthUser;
use crate::billing::providers::ProviderError;
use crate::extract::ApiJson;
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payment-settings", get(read))
        .route(
            "/api/v1/payment-settings/wave",
            put(replace_wave).delete(remove_wave),
        )
        .route(
            "/api/v1/payment-settings/orange-money",
            put(replace_orange_money).delete(remove_orange_money),
        )
        .route(
            "/api/v1/payment-settings/cash-on-delivery",
            put(replace_cash_on_delivery),
        )
        .route(
            "/api/v1/payment-settings/release-on-link-expiry",
            put(replace_release_on_link_expiry),
        )
}

fn yes() -> bool {
    true
}

/// The shop's Wave Business account. Secrets are never answered back.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaveInput {
    /// The API key from the Wave Business portal, developer section (`wave_ci_prod_…`).
    #[schema(value_type = String, format = Password)]
    pub api_key: SecretString,
    /// The webhook secret Wave shows when the shop registers our webhook (`wave_ci_WHS_…`).
    #[schema(value_type = String, format = Password)]
    pub webhook_secret: SecretString,
    /// Offer Wave to customers (default `true`).
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// The shop's Orange Money WebPay account (Orange Developer portal).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrangeMoneyInput {
    /// OAuth2 client id of the shop's Orange Developer application.
    #[schema(value_type = String, format = Password)]
    pub client_id: SecretString,
    /// OAuth2 client secret of that application.
    #[schema(value_type = String, format = Password)]
    pub client_secret: SecretString,
    /// The merchant key of the WebPay offer.
    #[schema(value_type = String, format = Password)]
    pub merchant_key: SecretString,
    /// Offer Orange Money to customers (default `true`).
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Payment on delivery on or off.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashOnDeliveryInput {
    pub enabled: bool,
}

/// Cancelling unconfirmed orders whose payment link expired unpaid, on or off.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseOnLinkExpiryInput {
    pub enabled: bool,
}

/// What is configured: each account's hint, whether it is offered and when it was verified; payment on delivery.
#[utoipa::path(get, path = "/api/v1/payment-settings", operation_id = "getPaymentSettings", tag = "payments",
    security(("bearer" = [])),
    responses((status = 200, body = PaymentSettings), (status = 403, description = "Not an owner")))]
async fn read(State(state): State<AppState>, user: AuthUser) -> Result<Json<PaymentSettings>> {
    Ok(Json(get_payment_settings(&state, &user).await?))
}

pub(crate) async fn get_payment_settings(
    state: &AppState,
    user: &AuthUser,
) -> Result<PaymentSettings> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let settings = shop_payments::settings(&mut tx).await?;
    tx.commit().await?;
    Ok(settings)
}

/// Checks the Wave key with Wave, then stores it (replacing the previous one).
#[utoipa::path(put, path = "/api/v1/payment-settings/wave", operation_id = "replaceWaveAccount",
    tag = "payments", request_body = WaveInput, security(("bearer" = [])),
    responses((status = 200, body = AccountSummary), (status = 403, description = "Not an owner"),
              (status = 422, description = "Invalid fields, or Wave refused the key (`payment_credentials_refused`)"),
              (status = 502, description = "Wave did not answer")))]
async fn replace_wave(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<WaveInput>,
) -> Result<Json<AccountSummary>> {
    Ok(Json(save_wave(&state, &user, &input).await?))
}

/// Checks the Orange Money credentials with Orange (a token request), then stores them.
#[utoipa::path(put, path = "/api/v1/payment-settings/orange-money", operation_id = "replaceOrangeMoneyAccount",
    tag = "payments", request_body = OrangeMoneyInput, security(("bearer" = [])),
    responses((status = 200, body = AccountSummary), (status = 403, description = "Not an owner"),
              (status = 422, description = "Invalid fields, or Orange refused the credentials (`payment_credentials_refused`)"),
              (status = 502, description = "Orange Money did not answer")))]
async fn replace_orange_money(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<OrangeMoneyInput>,
) -> Result<Json<AccountSummary>> {
    Ok(Json(save_orange_money(&state, &user, &input).await?))
}

/// Forgets the shop's Wave account.
#[utoipa::path(delete, path = "/api/v1/payment-settings/wave", operation_id = "removeWaveAccount",
    tag = "payments", security(("bearer" = [])),
    responses((status = 204, description = "Removed"), (status = 403, description = "Not an owner"),
              (status = 404, description = "No Wave account configured")))]
async fn remove_wave(State(state): State<AppState>, user: AuthUser) -> Result<StatusCode> {
    remove_account(&state, &user, MerchantProvider::Wave).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forgets the shop's Orange Money account.
#[utoipa::path(delete, path = "/api/v1/payment-settings/orange-money", operation_id = "removeOrangeMoneyAccount",
    tag = "payments", security(("bearer" = [])),
    responses((status = 204, description = "Removed"), (status = 403, description = "Not an owner"),
              (status = 404, description = "No Orange Money account configured")))]
async fn remove_orange_money(State(state): State<AppState>, user: AuthUser) -> Result<StatusCode> {
    remove_account(&state, &user, MerchantProvider::OrangeMoney).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Offers payment on delivery, or stops offering it.
#[utoipa::path(put, path = "/api/v1/payment-settings/cash-on-delivery", operation_id = "replaceCashOnDelivery",
    tag = "payments", request_body = CashOnDeliveryInput, security(("bearer" = [])),
    responses((status = 200, body = PaymentSettings), (status = 403, description = "Not an owner")))]
async fn replace_cash_on_delivery(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<CashOnDeliveryInput>,
) -> Result<Json<PaymentSettings>> {
    set_switch(&state, &user, Switch::CashOnDelivery, input.enabled).await?;
    Ok(Json(get_payment_settings(&state, &user).await?))
}

/// Cancels an unconfirmed order whose payment link expired unpaid (its stock is sold again), or lets it wait
/// for its confirmation hold.
#[utoipa::path(put, path = "/api/v1/payment-settings/release-on-link-expiry",
    operation_id = "replaceReleaseOnLinkExpiry",
    tag = "payments", request_body = ReleaseOnLinkExpiryInput, security(("bearer" = [])),
    responses((status = 200, body = PaymentSettings), (status = 403, description = "Not an owner")))]
async fn replace_release_on_link_expiry(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<ReleaseOnLinkExpiryInput>,
) -> Result<Json<PaymentSettings>> {
    set_switch(&state, &user, Switch::ReleaseOnLinkExpiry, input.enabled).await?;
    Ok(Json(get_payment_settings(&state, &user).await?))
}

/// A key as pasted from a provider's portal: trimmed, one piece of printable ASCII; `None` after reporting
/// what is wrong. Messages never quote the key.
fn key_field(
    check: &mut Check,
    field: &str,
    value: &SecretString,
    min: usize,
    max: usize,
) -> Option<String> {
    let value = value.expose_secret().trim();
    let len = value.chars().count();
    let problem = if len == 0 {
        "Ce champ est obligatoire.".to_owned()
    } else if value.chars().any(char::is_whitespace) {
        "Sans espace ni retour à la ligne : recopiez la clé d'un seul tenant.".to_owned()
    } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
        "Caractères inattendus : recopiez la clé telle que le portail l'affiche.".to_owned()
    } else if len < min {
        format!(
            "Trop courte pour être une clé ({min} caractères au moins) : recopiez-la en entier."
        )
    } else if len > max {
        format!("Ne doit pas dépasser {max} caractères.")
    } else {
        return Some(value.to_owned());
    };
    check.fail(field, problem);
    None
}

/// The Wave credentials, validated.
fn wave_credentials(input: &WaveInput) -> Result<WaveCredentials> {
    let mut check = Check::default();
    let api_key = key_field(&mut check, "api_key", &input.api_key, 16, 256);
    let webhook_secret = key_field(&mut check, "webhook_secret", &input.webhook_secret, 16, 256);
    // Wave hands out three secrets that look alike (reference/external-apis.md §1.1, §1.5): say which is which.
    if let Some(api_key) = &api_key {
        let problem = if api_key.contains("_WHS_") {
            Some(
                "Ceci est le secret de webhook (…_WHS_…), pas la clé API : la clé API commence par « wave_ci_prod_ ».",
            )
        } else if api_key.contains("_AKS_") {
            Some(
                "Ceci est le secret de signature des requêtes (…_AKS_…), pas la clé API : la clé API commence par « wave_ci_prod_ ».",
            )
        } else if !api_key.starts_with("wave_") {
            Some(
                "Une clé API Wave commence par « wave_ » (par exemple wave_ci_prod_…) : copiez-la depuis le portail Wave Business, section Développeurs.",
            )
        } else {
            None
        };
        if let Some(problem) = problem {
            check.fail("api_key", problem);
        }
    }
    if webhook_secret
        .as_ref()
        .is_some_and(|s| !s.contains("_WHS_"))
    {
        check.fail(
            "webhook_secret",
            "Le secret de webhook Wave ressemble à « wave_ci_WHS_… » : copiez-le depuis la configuration du webhook dans le portail Wave Business.",
        );
    }
    check.finish()?;
    let (Some(api_key), Some(webhook_secret)) = (api_key, webhook_secret) else {
        return Err(Error::Internal(anyhow::anyhow!(
            "a failed check must have stopped here"
        )));
    };
    Ok(WaveCredentials {
        api_key: api_key.into(),
        webhook_secret: webhook_secret.into(),
    })
}

/// The Orange Money credentials, validated.
fn orange_money_credentials(input: &OrangeMoneyInput) -> Result<OrangeMoneyCredentials> {
    let mut check = Check::default();
    let client_id = key_field(&mut check, "client_id", &input.client_id, 8, 128);
    let client_secret = key_field(&mut check, "client_secret", &input.client_secret, 8, 256);
    let merchant_key = key_field(&mut check, "merchant_key", &input.merchant_key, 4, 128);
    check.finish()?;
    let (Some(client_id), Some(client_secret), Some(merchant_key)) =
        (client_id, client_secret, merchant_key)
    else {
        return Err(Error::Internal(anyhow::anyhow!(
            "a failed check must have stopped here"
        )));
    };
    Ok(OrangeMoneyCredentials {
        client_id: client_id.into(),
        client_secret: client_secret.into(),
        merchant_key: merchant_key.into(),
    })
}

pub(crate) async fn save_wave(
    state: &AppState,
    user: &AuthUser,
    input: &WaveInput,
) -> Result<AccountSummary> {
    user.require_owner()?;
    let credentials = wave_credentials(input)?;
    // Each save calls the provider: a loop must not use us to try keys against Wave.
    state.checkout_limiter.check_key(&user.tenant_id)?;
    let wave = state.billing.merchant_wave(
        credentials.api_key.clone(),
        credentials.webhook_secret.clone(),
    );
    wave.check_key()
        .await
        .map_err(|e| refused(user, MerchantProvider::Wave, e))?;
    store_account(state, user, Credentials::Wave(credentials), input.enabled).await
}

pub(crate) async fn save_orange_money(
    state: &AppState,
    user: &AuthUser,
    input: &OrangeMoneyInput,
) -> Result<AccountSummary> {
    user.require_owner()?;
    let credentials = orange_money_credentials(input)?;
    state.checkout_limiter.check_key(&user.tenant_id)?;
    let orange = state.billing.merchant_orange_money(
        credentials.client_id.expose_secret().to_owned(),
        credentials.client_secret.clone(),
        credentials.merchant_key.clone(),
    );
    orange
        .check_credentials()
        .await
        .map_err(|e| refused(user, MerchantProvider::OrangeMoney, e))?;
    store_account(
        state,
        user,
        Credentials::OrangeMoney(credentials),
        input.enabled,
    )
    .await
}

/// Seals and stores credentials the provider has just accepted (no transaction is held during that call).
async fn store_account(
    state: &AppState,
    user: &AuthUser,
    credentials: Credentials,
    enabled: bool,
) -> Result<AccountSummary> {
    let master = state.master_key()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let key = master.data_key(&mut tx).await?;
    let saved = shop_payments::save_account(
        &mut tx,
        &key,
        &credentials,
        enabled,
        Some(chrono::Utc::now()),
    )
    .await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "payments.account_saved",
        serde_json::json!({ "provider": saved.provider, "enabled": saved.enabled }),
    )
    .await?;
    tx.commit().await?;
    Ok(saved)
}

pub(crate) async fn remove_account(
    state: &AppState,
    user: &AuthUser,
    provider: MerchantProvider,
) -> Result<()> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    shop_payments::remove_account(&mut tx, provider)
        .await
        .map_err(Error::not_found_as(match provider {
            MerchantProvider::Wave => "Aucun compte Wave n'est configuré.",
            MerchantProvider::OrangeMoney => "Aucun compte Orange Money n'est configuré.",
        }))?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "payments.account_removed",
        serde_json::json!({ "provider": provider }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A shop-wide payment switch, on or off.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Switch {
    /// Customers may pay in cash on delivery.
    CashOnDelivery,
    /// An unconfirmed order whose payment link expired unpaid is cancelled, its stock sold again.
    ReleaseOnLinkExpiry,
}

/// Turns `switch` on or off (owner only, audited).
pub(crate) async fn set_switch(
    state: &AppState,
    user: &AuthUser,
    switch: Switch,
    enabled: bool,
) -> Result<()> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let action = match switch {
        Switch::CashOnDelivery => {
            shop_payments::set_cash_on_delivery(&mut tx, enabled).await?;
            "payments.cash_on_delivery"
        }
        Switch::ReleaseOnLinkExpiry => {
            shop_payments::set_release_on_link_expiry(&mut tx, enabled).await?;
            "payments.release_on_link_expiry"
        }
    };
    audit::record(
        &mut tx,
        Some(user.user_id),
        action,
        serde_json::json!({ "enabled": enabled }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The French answer to a failed live check: 422 when the provider refused the credentials, 502 when it could
/// not be asked. Logged without the credentials (a `ProviderError` never carries them).
fn refused(user: &AuthUser, provider: MerchantProvider, error: ProviderError) -> Error {
    tracing::warn!(
        tenant_id = %user.tenant_id,
        provider = provider.as_str(),
        error.kind = error.kind(),
        error.message = %error,
        "a shop's payment credentials failed their live check"
    );
    let label = provider.label();
    match (&error, provider) {
        (ProviderError::Status { status: 401 }, MerchantProvider::Wave) => rejected(
            provider,
            401,
            "Clé Wave refusée par Wave (401) : vérifiez la clé API copiée depuis le portail Wave Business.",
        ),
        (ProviderError::Status { status: 403 }, MerchantProvider::Wave) => rejected(
            provider,
            403,
            "Clé Wave refusée par Wave (403) : la clé n'a pas accès à l'API Checkout, le portefeuille est \
             désactivé ou une restriction d'adresse IP bloque Tdjaasa. Vérifiez-la dans le portail Wave Business.",
        ),
        (ProviderError::Status { status }, MerchantProvider::OrangeMoney)
            if matches!(status, 400 | 401 | 403) =>
        {
            rejected(
                provider,
                *status,
                &format!(
                    "Identifiants Orange Money refusés par Orange ({status}) : vérifiez le client id et le \
                     client secret copiés depuis le portail Orange Developer."
                ),
            )
        }
        (ProviderError::Status { status }, _) if *status != 429 && *status < 500 => {
            Error::BadGateway(format!(
                "{label} a répondu de façon inattendue ({status}) : réessayez dans un instant ; si cela \
                 continue, contactez le support Tdjaasa."
            ))
        }
        (ProviderError::InvalidResponse(_), _) => Error::BadGateway(format!(
            "{label} a répondu de façon inattendue : réessayez dans un instant ; si cela continue, contactez \
             le support Tdjaasa."
        )),
        _ => Error::BadGateway(format!("{label} ne répond pas, réessayez dans un instant.")),
    }
}

fn rejected(provider: MerchantProvider, status: u16, message: &str) -> Error {
    Error::Rejected {
        code: "payment_credentials_refused",
        message: message.to_owned(),
        details: serde_json::json!({ "provider": provider, "provider_status": status }),
    }
}
