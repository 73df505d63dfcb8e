//! Provider webhooks: `POST /api/v1/webhooks/{wave,orange-money,stripe,sandbox}`.
//!
//! Each handler verifies the raw body before parsing it (HMAC signatures for Wave, Stripe and the sandbox;
//! the notif_token then a server-to-server status check for Orange Money), resolves the payment on the
//! platform path, and settles it in the tenant's transaction ([`store::billing::apply_outcome`]): idempotent
//! on the provider's event id, amount and currency checked, every decision audited.
//! Unsigned, badly signed or stale: 401 and nothing changes. Unknown payment or unreadable body: 400.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::billing::{self, Outcome, OutcomeStatus, PaymentOwner, Provider, WebhookDecision};
use store::{TenantCtx, audit};
use uuid::Uuid;

use super::providers::parse_xof;
use super::providers::sandbox::SIGNATURE_HEADER;
use super::routes::provider_unavailable;
use super::signature::{self, Scheme};
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks/wave", post(wave))
        .route("/api/v1/webhooks/orange-money", post(orange_money))
        .route("/api/v1/webhooks/stripe", post(stripe))
        .route("/api/v1/webhooks/sandbox", post(sandbox))
}

const NOT_CONFIGURED: Error = Error::NotFound("Ce moyen de paiement n'est pas configuré.");

/// Counts a provider notification by verdict (`payment_webhooks_total`).
fn verdict(provider: Provider, verdict: &'static str) {
    metrics::counter!("payment_webhooks_total", "provider" => provider.as_str(), "verdict" => verdict)
        .increment(1);
}

fn unknown_payment(provider: Provider) -> Error {
    verdict(provider, "unknown_payment");
    tracing::warn!(
        provider = provider.as_str(),
        "verified webhook for an unknown payment"
    );
    Error::BadRequest("Paiement inconnu.".into())
}

fn unreadable(provider: Provider) -> Error {
    verdict(provider, "invalid");
    tracing::warn!(
        provider = provider.as_str(),
        "verified webhook with an unreadable body"
    );
    Error::BadRequest("Notification illisible.".into())
}

fn check_signature(
    provider: Provider,
    headers: &HeaderMap,
    header_name: &str,
    body: &[u8],
    secret: Option<&[u8]>,
    scheme: Scheme,
) -> Result<()> {
    let Some(secret) = secret else {
        verdict(provider, "bad_signature");
        tracing::warn!(
            provider = provider.as_str(),
            "webhook received but no signing secret is configured"
        );
        return Err(Error::InvalidSignature);
    };
    let header = headers.get(header_name).and_then(|v| v.to_str().ok());
    signature::verify(header, body, secret, scheme, Utc::now().timestamp()).map_err(|e| {
        verdict(provider, "bad_signature");
        tracing::warn!(provider = provider.as_str(), reason = %e, "webhook signature refused");
        Error::InvalidSignature
    })
}

/// The payment a verified message names, on the platform path; it must belong to `provider`.
async fn owner(
    state: &AppState,
    provider: Provider,
    payment_id: Option<&str>,
) -> Result<PaymentOwner> {
    let id: Uuid = payment_id
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| unknown_payment(provider))?;
    let mut tx = state.db.platform().await?;
    let owner = billing::owner_of_payment(&mut tx, id).await?;
    tx.commit().await?;
    owner
        .filter(|o| o.provider == provider)
        .ok_or_else(|| unknown_payment(provider))
}

/// Applies the outcome in the owner's tenant transaction.
async fn settle(state: &AppState, owner: &PaymentOwner, outcome: Outcome) -> Result<Json<Value>> {
    let mut tx = state.db.billing(TenantCtx::new(owner.tenant_id)).await?;
    let decision = billing::apply_outcome(&mut tx, owner.payment_id, &outcome, Utc::now()).await?;
    tx.commit().await?;
    let provider = outcome.provider;
    match &decision {
        WebhookDecision::Activated { .. } => {
            verdict(provider, "accepted");
            paid_or_failed(provider, "paid");
        }
        WebhookDecision::Failed => {
            verdict(provider, "accepted");
            paid_or_failed(provider, "failed");
        }
        // Amount or currency differ from the payment: nothing granted.
        WebhookDecision::Flagged => verdict(provider, "invalid"),
        WebhookDecision::Duplicate | WebhookDecision::AlreadySettled { .. } => {
            verdict(provider, "duplicate");
        }
    }
    tracing::info!(provider = %outcome.provider, payment_id = %owner.payment_id, ?decision, "webhook processed");
    Ok(Json(json!({ "received": true, "result": decision })))
}

/// Counts a payment that reached a final state (`payments_total`).
fn paid_or_failed(provider: Provider, outcome: &'static str) {
    metrics::counter!("payments_total", "provider" => provider.as_str(), "outcome" => outcome)
        .increment(1);
}

/// Records a decision that changes nothing (e.g. not yet paid) and answers 200.
async fn note(
    state: &AppState,
    owner: &PaymentOwner,
    action: &str,
    detail: Value,
) -> Result<Json<Value>> {
    verdict(owner.provider, "accepted");
    let mut tx = state.db.tenant(TenantCtx::new(owner.tenant_id)).await?;
    audit::record(&mut tx, None, action, detail).await?;
    tx.commit().await?;
    Ok(Json(json!({ "received": true })))
}

fn ignored() -> Json<Value> {
    Json(json!({ "received": true, "result": { "decision": "ignored" } }))
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

/// Wave (reference §1.5): `Wave-Signature` over `t || body`; a completed session is re-read from the API
/// before anything is granted.
#[utoipa::path(post, path = "/api/v1/webhooks/wave", operation_id = "waveWebhook", tag = "webhooks",
    request_body(content = String, content_type = "application/json", description = "The provider's raw notification"),
    responses((status = 200), (status = 400), (status = 401), (status = 502)))]
pub(crate) async fn wave(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let wave = state.billing.wave.as_ref().ok_or(NOT_CONFIGURED)?;
    let secret = wave.webhook_secret().map(|s| s.expose_secret().as_bytes());
    check_signature(
        Provider::Wave,
        &headers,
        "wave-signature",
        &body,
        secret,
        Scheme::Concatenated,
    )?;
    let event: Envelope = serde_json::from_slice(&body).map_err(|_| unreadable(Provider::Wave))?;
    let reference = event.data.get("client_reference").and_then(Value::as_str);
    match event.kind.as_str() {
        "checkout.session.completed" => {
            let owner = owner(&state, Provider::Wave, reference).await?;
            let session_id = event
                .data
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let session = wave.retrieve(session_id).await.map_err(|e| {
                tracing::warn!(error.message = %e, "Wave session check failed");
                provider_unavailable("Wave")
            })?;
            if session.client_reference.as_deref() != Some(&owner.payment_id.to_string()) {
                return Err(unknown_payment(Provider::Wave));
            }
            if session.payment_status.as_deref() != Some("succeeded") {
                return note(
                    &state,
                    &owner,
                    "payment.unconfirmed",
                    json!({
                        "payment_id": owner.payment_id, "provider": Provider::Wave, "event_id": event.id,
                        "payment_status": session.payment_status,
                    }),
                )
                .await;
            }
            let outcome = Outcome {
                provider: Provider::Wave,
                event_id: event.id,
                status: OutcomeStatus::Succeeded,
                amount_xof: parse_xof(&session.amount),
                currency: Some(session.currency),
                provider_txn_id: session.transaction_id.or(Some(session.id)),
            };
            settle(&state, &owner, outcome).await
        }
        "checkout.session.payment_failed" => {
            let owner = owner(&state, Provider::Wave, reference).await?;
            let outcome = Outcome {
                provider: Provider::Wave,
                event_id: event.id,
                status: OutcomeStatus::Failed,
                amount_xof: None,
                currency: None,
                provider_txn_id: None,
            };
            settle(&state, &owner, outcome).await
        }
        _ => Ok(ignored()),
    }
}

/// Stripe (reference §4.3–4.4): `Stripe-Signature` over `t.body`; the Checkout Session names our payment in
/// `metadata[payment_id]` (or `client_reference_id`).
#[utoipa::path(post, path = "/api/v1/webhooks/stripe", operation_id = "stripeWebhook", tag = "webhooks",
    request_body(content = String, content_type = "application/json", description = "The provider's raw notification"),
    responses((status = 200), (status = 400), (status = 401)))]
pub(crate) async fn stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let stripe = state.billing.stripe.as_ref().ok_or(NOT_CONFIGURED)?;
    let secret = stripe
        .webhook_secret()
        .map(|s| s.expose_secret().as_bytes());
    check_signature(
        Provider::Stripe,
        &headers,
        "stripe-signature",
        &body,
        secret,
        Scheme::Dotted,
    )?;
    let event: Envelope =
        serde_json::from_slice(&body).map_err(|_| unreadable(Provider::Stripe))?;
    let session = event.data.get("object").cloned().unwrap_or(Value::Null);
    let reference = session
        .pointer("/metadata/payment_id")
        .or_else(|| session.get("client_reference_id"))
        .and_then(Value::as_str);
    let status = match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            OutcomeStatus::Succeeded
        }
        "checkout.session.async_payment_failed" | "checkout.session.expired" => {
            OutcomeStatus::Failed
        }
        _ => return Ok(ignored()),
    };
    let owner = owner(&state, Provider::Stripe, reference).await?;
    if status == OutcomeStatus::Succeeded
        && session.get("payment_status").and_then(Value::as_str) != Some("paid")
    {
        // Delayed methods complete the session before the money arrives (async_payment_succeeded follows).
        return note(
            &state,
            &owner,
            "payment.unconfirmed",
            json!({
                "payment_id": owner.payment_id, "provider": Provider::Stripe, "event_id": event.id,
                "payment_status": session.get("payment_status"),
            }),
        )
        .await;
    }
    let outcome = Outcome {
        provider: Provider::Stripe,
        event_id: event.id,
        status,
        amount_xof: session.get("amount_total").and_then(Value::as_i64),
        currency: session
            .get("currency")
            .and_then(Value::as_str)
            .map(str::to_owned),
        provider_txn_id: session
            .get("payment_intent")
            .and_then(Value::as_str)
            .or_else(|| session.get("id").and_then(Value::as_str))
            .map(str::to_owned),
    };
    settle(&state, &owner, outcome).await
}

#[derive(Deserialize)]
struct OrangeNotification {
    status: String,
    notif_token: String,
    #[serde(default)]
    txnid: Option<String>,
    /// The amount the notification reports, if any (a number or a numeric string).
    #[serde(default)]
    amount: Option<Value>,
}

/// An amount as Orange Money writes it: a number or a numeric string.
fn orange_amount(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Orange Money (reference §2.4–2.5): no signature exists; the notification's `notif_token` must match the
/// one returned at creation (we keep only its SHA-256 and look the payment up by it), then the
/// transaction-status API decides.
#[utoipa::path(post, path = "/api/v1/webhooks/orange-money", operation_id = "orangeMoneyWebhook", tag = "webhooks",
    request_body(content = String, content_type = "application/json", description = "The provider's raw notification"),
    responses((status = 200), (status = 400), (status = 401), (status = 502)))]
pub(crate) async fn orange_money(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>> {
    let om = state.billing.orange_money.as_ref().ok_or(NOT_CONFIGURED)?;
    let notification: OrangeNotification =
        serde_json::from_slice(&body).map_err(|_| unreadable(Provider::OrangeMoney))?;
    let hash = Sha256::digest(notification.notif_token.as_bytes());
    let mut tx = state.db.platform().await?;
    let owner = billing::owner_by_notif_token_hash(&mut tx, &hash).await?;
    tx.commit().await?;
    let Some(owner) = owner else {
        tracing::warn!("Orange Money notification with an unknown notif_token");
        return Err(Error::InvalidSignature);
    };
    let pay_token = owner.pay_token.clone().unwrap_or_default();
    let status = om
        .transaction_status(owner.payment_id, owner.amount_xof, &pay_token)
        .await
        .map_err(|e| {
            tracing::warn!(error.message = %e, "Orange Money status check failed");
            provider_unavailable("Orange Money")
        })?;
    let txnid = status.txnid.clone().or(notification.txnid.clone());
    let event_id = match &txnid {
        Some(txnid) => format!("txn:{txnid}"),
        None => format!("order:{}:{}", owner.payment_id.simple(), status.status),
    };
    let outcome_status = match status.status.as_str() {
        "SUCCESS" => OutcomeStatus::Succeeded,
        "FAILED" | "EXPIRED" => OutcomeStatus::Failed,
        _ => {
            return note(
                &state,
                &owner,
                "payment.unconfirmed",
                json!({
                    "payment_id": owner.payment_id, "provider": Provider::OrangeMoney,
                    "notified": notification.status, "status": status.status,
                }),
            )
            .await;
        }
    };
    // The answer must be about our order; an answer about another one settles nothing.
    let ours = crate::billing::providers::orange_money::order_id(owner.payment_id);
    if status.order_id.as_deref().is_some_and(|id| id != ours) {
        tracing::warn!(payment_id = %owner.payment_id, "Orange Money status answered for another order");
        return Err(provider_unavailable("Orange Money"));
    }
    // The amount the provider reports (status answer, else the notification) is checked against the
    // payment by `settle`; with none reported, the amount sent in the status query is what SUCCESS
    // confirmed (§2.5).
    let reported = orange_amount(status.amount.as_ref())
        .or_else(|| orange_amount(notification.amount.as_ref()));
    let outcome = Outcome {
        provider: Provider::OrangeMoney,
        event_id,
        status: outcome_status,
        amount_xof: Some(reported.unwrap_or(owner.amount_xof)),
        currency: Some(owner.currency.clone()),
        provider_txn_id: txnid,
    };
    settle(&state, &owner, outcome).await
}

/// The body our sandbox page sends (and signs).
#[derive(Debug, Deserialize, serde::Serialize)]
pub(crate) struct SandboxEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub payment_id: Uuid,
    pub amount: i64,
    pub currency: String,
}

/// The sandbox provider: `Tdjaasa-Signature` over `t || body`, with a secret derived from the master key.
#[utoipa::path(post, path = "/api/v1/webhooks/sandbox", operation_id = "sandboxWebhook", tag = "webhooks",
    request_body(content = String, content_type = "application/json", description = "The provider's raw notification"),
    responses((status = 200), (status = 400), (status = 401)))]
pub(crate) async fn sandbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let sandbox = state.billing.sandbox.as_ref().ok_or(NOT_CONFIGURED)?;
    check_signature(
        Provider::Sandbox,
        &headers,
        SIGNATURE_HEADER,
        &body,
        Some(sandbox.secret()),
        Scheme::Concatenated,
    )?;
    let event: SandboxEvent =
        serde_json::from_slice(&body).map_err(|_| unreadable(Provider::Sandbox))?;
    let status = match event.kind.as_str() {
        "payment.succeeded" => OutcomeStatus::Succeeded,
        "payment.failed" => OutcomeStatus::Failed,
        _ => return Ok(ignored()),
    };
    let owner = owner(
        &state,
        Provider::Sandbox,
        Some(&event.payment_id.to_string()),
    )
    .await?;
    let outcome = Outcome {
        provider: Provider::Sandbox,
        event_id: event.id.clone(),
        status,
        amount_xof: Some(event.amount),
        currency: Some(event.currency),
        provider_txn_id: Some(event.id),
    };
    settle(&state, &owner, outcome).await
}
