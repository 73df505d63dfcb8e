//! The shop's billing endpoints: `POST /api/v1/billing/checkout`, `GET /api/v1/billing`,
//! `GET /api/v1/billing/payments/{id}`.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use store::billing::{
    self, NewPayment, OperatorSuspension, Payment, PaymentStatus, Provider, Subscription,
};
use store::plans::{self, Plan};
use store::{TenantTx, audit};
use uuid::Uuid;

use super::KnownProvider;
use super::providers::{CheckoutRequest, PaymentProvider};
use crate::admin::suspension::{Refused, refuse_if_suspended};
use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/billing", get(overview))
        .route("/api/v1/billing/checkout", post(checkout))
        .route("/api/v1/billing/payments/{id}", get(payment))
}

/// Double clicks without an `Idempotency-Key` header land in the same 10-minute bucket, so they share a
/// derived key (tenant + plan + provider + bucket) and reuse one payment.
const AUTO_KEY_BUCKET_SECS: i64 = 600;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    /// `starter`, `pro` or `business`.
    pub plan: String,
    /// `wave`, `orange_money`, `stripe` or `sandbox` (see `providers` in `GET /api/v1/billing`).
    pub provider: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckoutResponse {
    pub payment_id: Uuid,
    /// Open this in the browser (or the Wave app) to pay.
    pub checkout_url: String,
    pub provider: Provider,
    pub plan_code: String,
    pub amount_xof: i64,
    pub status: PaymentStatus,
}

impl CheckoutResponse {
    fn of(payment: &Payment, checkout_url: String) -> Self {
        Self {
            payment_id: payment.payment_id,
            checkout_url,
            provider: payment.provider,
            plan_code: payment.plan_code.clone(),
            amount_xof: payment.amount_xof,
            status: payment.status,
        }
    }
}

/// A checkout to start: the body of `POST /api/v1/billing/checkout` and its `Idempotency-Key` header.
#[derive(Debug, Clone, Default)]
pub struct CheckoutInput {
    /// `starter`, `pro` or `business`.
    pub plan: String,
    /// `wave`, `orange_money`, `stripe` or `sandbox`.
    pub provider: String,
    /// The client's key: a repeated request returns the same payment. Without one, a double click within
    /// 10 minutes does.
    pub idempotency_key: Option<String>,
}

/// A started (or replayed) checkout.
#[derive(Debug)]
pub struct StartedCheckout {
    pub checkout: CheckoutResponse,
    /// A new payment was recorded (false: an earlier identical request is replayed).
    pub created: bool,
}

/// Starts paying a month of `plan`. The payment is recorded `pending` before the provider is called; the
/// same `Idempotency-Key` (or, without one, a double click) returns the same payment and checkout.
#[utoipa::path(post, path = "/api/v1/billing/checkout", operation_id = "createCheckout",
    tag = "billing", request_body = CheckoutBody,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Client key: a repeated request returns the same payment")),
    responses((status = 201, body = CheckoutResponse, description = "Payment created"),
              (status = 200, body = CheckoutResponse, description = "Same request replayed"),
              (status = 403, description = "Not an owner, or the operator suspended the shop (`shop_suspended`, with the reason)"),
              (status = 429, description = "Too many checkouts this minute"),
              (status = 409, description = "Key reused for another request, or a checkout still being created"),
              (status = 422), (status = 502, description = "The provider failed; the payment is marked failed")))]
pub(crate) async fn checkout(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckoutBody>,
) -> Result<(StatusCode, Json<CheckoutResponse>)> {
    let input = CheckoutInput {
        plan: body.plan,
        provider: body.provider,
        idempotency_key: headers
            .get("idempotency-key")
            .map(|value| value.to_str().unwrap_or_default().to_owned()),
    };
    let started = start_checkout(&state, &user, input).await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(started.checkout)))
}

/// Starts paying a month of `input.plan` with `input.provider`: records the payment `pending` (idempotent),
/// then opens the provider's checkout (return URLs under the configured public URL). Owners only (403 for staff and platform administrators).
pub(crate) async fn start_checkout(
    state: &AppState,
    user: &AuthUser,
    input: CheckoutInput,
) -> Result<StartedCheckout> {
    // Staff and platform administrators do not pay for the shop.
    user.require_owner()?;
    // Each new checkout may open a session at the provider: a loop must not flood it.
    state.checkout_limiter.check_key(&user.tenant_id)?;
    // Paying would not lift an operator suspension: say so before any money moves.
    refuse_if_suspended(state, user.ctx(), Refused::Payment).await?;
    let mut check = Check::default();
    let plan_code = input.plan.trim().to_lowercase();
    let provider_name = input.provider.trim().to_lowercase();
    let plan = plans::get_active(state.db.pool(), &plan_code).await?;
    if plan.is_none() {
        check.fail(
            "plan",
            "Forfait inconnu : choisissez starter, pro ou business.",
        );
    }
    let provider = Provider::parse(&provider_name).and_then(|p| state.billing.provider(p));
    if let Some(reason) = state.billing.unavailable_reason(&provider_name) {
        check.fail("provider", reason);
    }
    let client_key = match input.idempotency_key {
        None => None,
        Some(key) => {
            let key = key.trim();
            if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                check.fail(
                    "Idempotency-Key",
                    "Clé d'idempotence invalide (1 à 200 caractères visibles).",
                );
            }
            Some(key.to_owned())
        }
    };
    check.finish()?;
    let (Some(plan), Some(provider)) = (plan, provider) else {
        return Err(Error::Internal(anyhow::anyhow!(
            "validated plan or provider missing"
        )));
    };
    let public_url = state.urls.billing.clone();

    let now = Utc::now();
    let base_key = match &client_key {
        Some(key) => format!("client:{key}"),
        None => format!(
            "auto:{plan_code}:{provider_name}:{}",
            now.timestamp().div_euclid(AUTO_KEY_BUCKET_SECS)
        ),
    };
    let mut key = base_key.clone();
    for _ in 0..5 {
        let mut tx = state.db.billing(user.ctx()).await?;
        let new = NewPayment {
            plan_code: &plan.plan_code,
            provider: provider.id(),
            amount_xof: plan.price_xof,
            idempotency_key: &key,
        };
        let (payment, created) = billing::create_pending(&mut tx, &new).await?;
        if created {
            audit::record(
                &mut tx,
                Some(user.user_id),
                "payment.checkout_started",
                json!({ "payment_id": payment.payment_id, "provider": payment.provider,
                        "plan": payment.plan_code, "amount_xof": payment.amount_xof }),
            )
            .await?;
        }
        tx.commit().await?;
        if created {
            let checkout =
                open_checkout(state, user, &payment, &plan, provider, &public_url).await?;
            return Ok(StartedCheckout {
                checkout,
                created: true,
            });
        }
        if payment.plan_code != plan.plan_code || payment.provider != provider.id() {
            return Err(Error::Conflict {
                code: "idempotency_key_mismatch",
                message: "Cette clé d'idempotence a déjà servi pour un autre paiement.".into(),
            });
        }
        if payment.status == PaymentStatus::Pending {
            let checkout = wait_for_checkout(state, user, payment.payment_id).await?;
            return Ok(StartedCheckout {
                checkout,
                created: false,
            });
        }
        if client_key.is_some() {
            return Err(Error::Conflict {
                code: "idempotency_key_reused",
                message: "Ce paiement est déjà terminé : utilisez une nouvelle clé d'idempotence."
                    .into(),
            });
        }
        // The earlier attempt in this bucket is over (paid, failed or flagged): this is a new one.
        key = format!("{base_key}:{}", payment.payment_id.simple());
    }
    Err(Error::Conflict {
        code: "too_many_attempts",
        message: "Trop de tentatives de paiement rapprochées. Réessayez dans quelques minutes."
            .into(),
    })
}

/// Calls the provider (no database connection held), then records the checkout, or marks the payment
/// failed and answers 502.
async fn open_checkout(
    state: &AppState,
    user: &AuthUser,
    payment: &Payment,
    plan: &Plan,
    provider: &dyn PaymentProvider,
    public_url: &str,
) -> Result<CheckoutResponse> {
    let request = CheckoutRequest {
        payment_id: payment.payment_id,
        amount_xof: payment.amount_xof,
        description: format!("Abonnement Tdjaasa {} (1 mois)", plan.name),
        success_url: format!(
            "{public_url}/billing/return?paiement={}&statut=succes",
            payment.payment_id
        ),
        error_url: format!(
            "{public_url}/billing/return?paiement={}&statut=echec",
            payment.payment_id
        ),
        public_url: public_url.to_owned(),
    };
    let outcome = provider.create_checkout(&request).await;
    let mut tx = state.db.billing(user.ctx()).await?;
    match outcome {
        Ok(session) => {
            let notif_hash = session.notif_token.as_ref().map(|t| {
                Sha256::digest(secrecy::ExposeSecret::expose_secret(t).as_bytes()).to_vec()
            });
            let updated = billing::attach_checkout(
                &mut tx,
                payment.payment_id,
                &session.checkout_url,
                session.provider_ref.as_deref(),
                session.pay_token.as_deref(),
                notif_hash.as_deref(),
            )
            .await?;
            audit::record(
                &mut tx,
                Some(user.user_id),
                "payment.checkout_created",
                json!({ "payment_id": payment.payment_id, "provider": payment.provider,
                        "provider_ref": session.provider_ref }),
            )
            .await?;
            tx.commit().await?;
            Ok(CheckoutResponse::of(&updated, session.checkout_url))
        }
        Err(e) => {
            tracing::warn!(provider = provider.id().as_str(), payment_id = %payment.payment_id, error.message = %e,
                "payment provider failed to open a checkout");
            billing::mark_failed(&mut tx, payment.payment_id, e.kind()).await?;
            audit::record(
                &mut tx,
                Some(user.user_id),
                "payment.checkout_failed",
                json!({ "payment_id": payment.payment_id, "provider": payment.provider, "error": e.kind() }),
            )
            .await?;
            tx.commit().await?;
            Err(provider_unavailable(provider.label()))
        }
    }
}

pub(crate) fn provider_unavailable(label: &str) -> Error {
    Error::BadGateway(format!(
        "{label} ne répond pas pour le moment : aucun paiement n'a été effectué. Réessayez dans quelques \
         minutes ou choisissez un autre moyen de paiement."
    ))
}

/// A concurrent twin request is still talking to the provider: wait for its checkout.
async fn wait_for_checkout(
    state: &AppState,
    user: &AuthUser,
    payment_id: Uuid,
) -> Result<CheckoutResponse> {
    let deadline = tokio::time::Instant::now() + state.billing.timeout + Duration::from_secs(1);
    loop {
        let mut tx = state.db.tenant(user.ctx()).await?;
        let payment = billing::get_payment(&mut tx, payment_id).await?;
        tx.commit().await?;
        match (payment.status, &payment.checkout_url) {
            (PaymentStatus::Pending, Some(url)) => {
                return Ok(CheckoutResponse::of(&payment, url.clone()));
            }
            (PaymentStatus::Failed, _) => {
                let label = state
                    .billing
                    .provider(payment.provider)
                    .map_or("Le service de paiement", |p| p.label());
                return Err(provider_unavailable(label));
            }
            (PaymentStatus::Pending, None) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => {
                return Err(Error::Conflict {
                    code: "checkout_in_progress",
                    message: "Ce paiement est en cours de création. Réessayez dans un instant."
                        .into(),
                });
            }
        }
    }
}

/// A paid payment, as a receipt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub payment_id: Uuid,
    pub plan_code: String,
    pub amount_xof: i64,
    pub currency: String,
    pub provider: Provider,
    pub paid_at: Option<DateTime<Utc>>,
    /// The provider's transaction id (or session reference).
    pub reference: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub plan: Plan,
    pub subscription: Subscription,
    /// Set while the platform operator suspends the shop (whatever the subscription says): the bot is silent,
    /// the test chat and payments are refused, and only the Tdjaasa team can lift it.
    pub operator_suspension: Option<OperatorSuspension>,
    /// Plans on offer.
    pub plans: Vec<Plan>,
    /// The payment providers offered here (configured), for a checkout's `provider`.
    pub providers: Vec<Provider>,
    /// Every payment provider the platform knows, with its label and whether it is offered here.
    pub known_providers: Vec<KnownProvider>,
    /// The latest 100 payments, newest first.
    pub payments: Vec<Payment>,
    pub receipts: Vec<Receipt>,
}

/// The shop's plan, subscription status and expiry, payments and receipts.
#[utoipa::path(get, path = "/api/v1/billing", operation_id = "getBilling", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = Overview), (status = 403, description = "Not an owner")))]
pub(crate) async fn overview(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Overview>> {
    Ok(Json(billing_overview(&state, &user).await?))
}

/// The shop's plan, subscription, the plans and providers on offer, its payments and receipts.
pub(crate) async fn billing_overview(state: &AppState, user: &AuthUser) -> Result<Overview> {
    user.require_owner()?;
    let mut tx: TenantTx<'_> = state.db.tenant(user.ctx()).await?;
    let plan = plans::of_tenant(&mut tx).await?;
    let subscription = billing::subscription(&mut tx).await?;
    let operator_suspension = billing::operator_suspension(&mut tx).await?;
    let plans = plans::list_active(&mut *tx).await?;
    let payments = billing::list_payments(&mut tx).await?;
    tx.commit().await?;
    let receipts = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::Succeeded)
        .map(|p| Receipt {
            payment_id: p.payment_id,
            plan_code: p.plan_code.clone(),
            amount_xof: p.amount_xof,
            currency: p.currency.clone(),
            provider: p.provider,
            paid_at: p.paid_at,
            reference: p
                .provider_txn_id
                .clone()
                .or_else(|| p.provider_ref.clone())
                .unwrap_or_else(|| p.payment_id.to_string()),
        })
        .collect();
    Ok(Overview {
        plan,
        subscription,
        operator_suspension,
        plans,
        providers: state.billing.available(),
        known_providers: state.billing.known(),
        payments,
        receipts,
    })
}

/// One payment of the shop (another shop's id answers 404).
#[utoipa::path(get, path = "/api/v1/billing/payments/{id}", operation_id = "getPayment",
    tag = "billing", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = Payment), (status = 403), (status = 404)))]
pub(crate) async fn payment(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Payment>> {
    let id: Uuid = id.parse().map_err(|_| PAYMENT_NOT_FOUND)?;
    Ok(Json(get_payment(&state, &user, id).await?))
}

const PAYMENT_NOT_FOUND: Error = Error::NotFound("Paiement introuvable.");

/// One payment of the shop (another shop's id answers the same 404 as an unknown one).
pub(crate) async fn get_payment(state: &AppState, user: &AuthUser, id: Uuid) -> Result<Payment> {
    user.require_owner()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let payment = billing::get_payment(&mut tx, id)
        .await
        .map_err(Error::not_found_as("Paiement introuvable."))?;
    tx.commit().await?;
    Ok(payment)
}
