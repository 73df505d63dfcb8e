//! The "Paiements" settings page (owners only): the shop's own Wave and Orange Money accounts (configured or
//! not, with a hint; forms to enter or replace the credentials, checked live with the provider; remove) and
//! payment on delivery. Every action calls the same functions as `/api/v1/payment-settings`. Secrets are never
//! put back into the page, not even after a refused post.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use store::shop_payments::{AccountSummary, MerchantProvider, PaymentSettings};

use super::billing::require_owner;
use super::error::WebResult;
use super::form::Posted;
use super::i18n::Lang;
use super::session::Session;
use super::view::{Chrome, FieldErrors, Flash, render};
use crate::AppState;
use crate::payment_settings::{self, OrangeMoneyInput, WaveInput};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/settings/payments", get(page))
        .route("/app/settings/payments/wave", post(save_wave))
        .route(
            "/app/settings/payments/orange-money",
            post(save_orange_money),
        )
        .route("/app/settings/payments/wave/remove", post(remove_wave))
        .route(
            "/app/settings/payments/orange-money/remove",
            post(remove_orange_money),
        )
        .route(
            "/app/settings/payments/cash-on-delivery",
            post(save_cash_on_delivery),
        )
        .route(
            "/app/settings/payments/release-on-link-expiry",
            post(save_release_on_link_expiry),
        )
}

/// One provider's card: its state, and the errors of its form after a refused post.
#[derive(Default)]
struct AccountCard {
    configured: bool,
    hint: String,
    enabled: bool,
    verified: String,
    /// The provider's refusal or silence (the whole form), in French.
    error: String,
    errors: FieldErrors,
}

impl AccountCard {
    fn of(lang: Lang, account: Option<&AccountSummary>) -> Self {
        match account {
            Some(account) => AccountCard {
                configured: true,
                hint: account.hint.clone(),
                enabled: account.enabled,
                verified: account
                    .verified_at
                    .map(|at| lang.datetime(at))
                    .unwrap_or_default(),
                ..Default::default()
            },
            None => AccountCard::default(),
        }
    }
}

#[derive(askama::Template)]
#[template(path = "payments.html")]
struct PaymentsTemplate {
    chrome: Chrome,
    cash_on_delivery: bool,
    release_on_link_expiry: bool,
    wave: AccountCard,
    orange_money: AccountCard,
    /// Where the shop's Wave account must send its notifications (set in Wave's portal).
    wave_webhook_url: String,
}

async fn load(state: &AppState, session: &Session, flash: Flash) -> WebResult<PaymentsTemplate> {
    let settings: PaymentSettings =
        payment_settings::get_payment_settings(state, &session.user).await?;
    let chrome = Chrome::load(state, session, "more", "payments.title", flash).await?;
    let lang = chrome.lang;
    Ok(PaymentsTemplate {
        cash_on_delivery: settings.cash_on_delivery,
        release_on_link_expiry: settings.release_on_link_expiry,
        wave: AccountCard::of(lang, settings.account(MerchantProvider::Wave)),
        orange_money: AccountCard::of(lang, settings.account(MerchantProvider::OrangeMoney)),
        wave_webhook_url: format!(
            "{}/api/v1/webhooks/shops/{}/wave",
            state.urls.billing, session.user.tenant_id
        ),
        chrome,
    })
}

/// How the shop's customers pay: its Wave and Orange Money accounts, payment on delivery.
#[utoipa::path(
    get,
    path = "/app/settings/payments",
    operation_id = "paymentSettingsPage",
    tag = "pages",
    responses(crate::openapi::pages::OwnerPage)
)]
async fn page(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Response> {
    render(&load(&state, &session, flash).await?)
}

/// The page again with `provider`'s form refused: field errors beside the fields, a provider's refusal or
/// silence above them, answered with the API's status (422, 429 or 502). Anything else is an error page.
async fn refused(
    state: &AppState,
    session: &Session,
    provider: MerchantProvider,
    error: crate::Error,
) -> WebResult<Response> {
    let status = match &error {
        crate::Error::Validation(_) | crate::Error::Rejected { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        crate::Error::BadGateway(_) => StatusCode::BAD_GATEWAY,
        crate::Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => return Err(error.into()),
    };
    let card = match error {
        crate::Error::Validation(fields) => AccountCard {
            errors: FieldErrors(fields),
            ..Default::default()
        },
        other => AccountCard {
            error: other.user_message(),
            ..Default::default()
        },
    };
    let mut page = load(state, session, Flash::default()).await?;
    let target = match provider {
        MerchantProvider::Wave => &mut page.wave,
        MerchantProvider::OrangeMoney => &mut page.orange_money,
    };
    target.error = card.error;
    target.errors = card.errors;
    Ok((status, render(&page)?).into_response())
}

fn secret(form: &HashMap<String, String>, name: &str) -> SecretString {
    SecretString::from(form.get(name).cloned().unwrap_or_default())
}

/// An unchecked box is absent from the form: absent means off.
fn checked(form: &HashMap<String, String>, name: &str) -> bool {
    form.get(name).is_some_and(|v| v == "on" || v == "true")
}

async fn save_wave(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let input = WaveInput {
        api_key: secret(&form, "api_key"),
        webhook_secret: secret(&form, "webhook_secret"),
        enabled: checked(&form, "enabled"),
    };
    match payment_settings::save_wave(&state, &session.user, &input).await {
        Ok(_) => Ok(Redirect::to("/app/settings/payments?done=saved#wave").into_response()),
        Err(e) => refused(&state, &session, MerchantProvider::Wave, e).await,
    }
}

async fn save_orange_money(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let input = OrangeMoneyInput {
        client_id: secret(&form, "client_id"),
        client_secret: secret(&form, "client_secret"),
        merchant_key: secret(&form, "merchant_key"),
        enabled: checked(&form, "enabled"),
    };
    match payment_settings::save_orange_money(&state, &session.user, &input).await {
        Ok(_) => Ok(Redirect::to("/app/settings/payments?done=saved#orange-money").into_response()),
        Err(e) => refused(&state, &session, MerchantProvider::OrangeMoney, e).await,
    }
}

async fn remove(
    state: &AppState,
    session: &Session,
    provider: MerchantProvider,
) -> WebResult<Response> {
    require_owner(session)?;
    match payment_settings::remove_account(state, &session.user, provider).await {
        // Already gone (a second tab, a double post): the page shows it so.
        Ok(()) | Err(crate::Error::NotFound(_)) => {
            Ok(Redirect::to("/app/settings/payments?done=deleted").into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn remove_wave(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    remove(&state, &posted.session, MerchantProvider::Wave).await
}

async fn remove_orange_money(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    remove(&state, &posted.session, MerchantProvider::OrangeMoney).await
}

async fn save_release_on_link_expiry(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    payment_settings::set_switch(
        &state,
        &session.user,
        payment_settings::Switch::ReleaseOnLinkExpiry,
        checked(&form, "enabled"),
    )
    .await?;
    Ok(Redirect::to("/app/settings/payments?done=saved#links").into_response())
}

async fn save_cash_on_delivery(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    payment_settings::set_switch(
        &state,
        &session.user,
        payment_settings::Switch::CashOnDelivery,
        checked(&form, "enabled"),
    )
    .await?;
    Ok(Redirect::to("/app/settings/payments?done=saved#cash").into_response())
}
