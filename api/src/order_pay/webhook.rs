//! The shops' own payment notifications: `POST /api/v1/webhooks/shops/{tenant_id}/wave`, the URL each shop
//! gives Wave for its merchant account (reference/external-apis.md §1.5), and
//! `POST /api/v1/webhooks/shops/{tenant_id}/orange-money`, the `notif_url` of its web payments (§2.4).
//!
//! Wave: the raw body is checked against that shop's webhook secret (`Wave-Signature`, 5 minutes' tolerance)
//! before anything is parsed: an unknown shop, a shop without a Wave account or a bad signature answer 401 and
//! change nothing. A verified `checkout.session.completed` that `succeeded` names a link of that shop by its
//! `client_reference`; the session is then re-read from Wave with the shop's key (§1.5: never grant value on
//! a notification alone), and only Wave's own answer — succeeded, for that link, its amount and currency —
//! settles the link, once per event id, in one transaction with the thank-you to the customer
//! ([`super::settle`]). Wave unreachable answers 502, so Wave delivers again. Everything else verified
//! answers 200, so Wave stops retrying.
//!
//! Orange Money signs nothing: a notification whose `notif_token` is not one of that shop's links answers
//! 401; a known one makes us ask Orange's status API with the shop's credentials ([`super::orange`]), whose
//! answer alone settles the link.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use schemas::billing::Provider;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::order_payments::{self, Settled};
use store::shop_payments::{self, Credentials, MerchantProvider};
use store::{TenantCtx, tenants};
use uuid::Uuid;

use super::clients;
use super::orange::{self, Concluded, OrangeStatus};
use super::settle;
use crate::billing::providers::{ProviderError, parse_xof};
use crate::billing::signature::{self, Scheme};
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks/shops/{tenant_id}/wave", post(wave))
        .route(
            "/api/v1/webhooks/shops/{tenant_id}/orange-money",
            post(orange_money),
        )
}

fn refused(tenant_id: &str, reason: &str) -> Error {
    count(Provider::Wave, "refused");
    tracing::warn!(tenant_id, reason, "shop Wave webhook refused");
    Error::InvalidSignature
}

fn om_refused(tenant_id: &str, reason: &str) -> Error {
    count(Provider::OrangeMoney, "refused");
    tracing::warn!(tenant_id, reason, "shop Orange Money notification refused");
    Error::InvalidSignature
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

/// Counts a shop's payment notification by verdict (`order_payment_notifications_total`).
fn count(provider: Provider, verdict: &'static str) {
    metrics::counter!("order_payment_notifications_total",
        "provider" => provider.as_str(), "verdict" => verdict)
    .increment(1);
}

fn answer(provider: Provider, result: &'static str) -> Json<Value> {
    count(provider, result);
    Json(json!({ "received": true, "result": result }))
}

/// A shop's Wave notification (its merchant account's webhook).
#[utoipa::path(post, path = "/api/v1/webhooks/shops/{tenant_id}/wave", operation_id = "shopWaveWebhook",
    tag = "webhooks",
    params(("tenant_id" = Uuid, Path, description = "The shop whose Wave account sends the notification")),
    request_body(content = String, content_type = "application/json",
                 description = "Wave's raw notification, signed with the shop's webhook secret (`Wave-Signature`)"),
    responses((status = 200, description = "Received (settled, replayed or ignored)"),
              (status = 401, description = "Unknown shop, no Wave account, or a missing, stale or wrong signature")))]
pub(crate) async fn wave(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let Ok(tenant) = tenant_id.parse::<Uuid>() else {
        return Err(refused(&tenant_id, "not a shop id"));
    };
    let ctx = TenantCtx::new(tenant);
    let mut tx = state.db.tenant(ctx).await?;
    match tenants::get(&mut tx).await {
        Ok(_) => {}
        Err(store::Error::NotFound) => return Err(refused(&tenant_id, "unknown shop")),
        Err(e) => return Err(e.into()),
    }
    // No data key is opened (or made) for a shop without a Wave account.
    if shop_payments::settings(&mut tx)
        .await?
        .account(MerchantProvider::Wave)
        .is_none()
    {
        return Err(refused(&tenant_id, "no Wave account"));
    }
    let key = state.master_key()?.data_key(&mut tx).await?;
    let Some(Credentials::Wave(credentials)) =
        shop_payments::credentials(&mut tx, &key, MerchantProvider::Wave).await?
    else {
        return Err(refused(&tenant_id, "no Wave account"));
    };
    let header = headers.get("wave-signature").and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(
        header,
        &body,
        credentials.webhook_secret.expose_secret().as_bytes(),
        Scheme::Concatenated,
        Utc::now().timestamp(),
    ) {
        return Err(refused(&tenant_id, &e.to_string()));
    }
    let Ok(event) = serde_json::from_slice::<Event>(&body) else {
        tracing::warn!(%tenant, "verified shop Wave webhook with an unreadable body");
        return Ok(answer(Provider::Wave, "ignored"));
    };
    let data = &event.data;
    let succeeded = event.kind == "checkout.session.completed"
        && data.get("payment_status").and_then(Value::as_str) == Some("succeeded");
    if !succeeded {
        tracing::info!(%tenant, kind = %event.kind, "shop Wave webhook ignored");
        return Ok(answer(Provider::Wave, "ignored"));
    }
    let link_id = data
        .get("client_reference")
        .and_then(Value::as_str)
        .and_then(|r| r.parse::<Uuid>().ok());
    let link = match link_id {
        Some(id) => match order_payments::lock(&mut tx, id).await {
            Ok(link) => Some(link),
            Err(store::Error::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    // Another shop's link, a platform payment or an unknown reference: not this shop's to settle.
    let Some(link) = link.filter(|l| l.provider == Provider::Wave) else {
        tracing::warn!(%tenant, "verified shop Wave webhook for no link of this shop");
        return Ok(answer(Provider::Wave, "ignored"));
    };
    if !order_payments::first_event(&mut tx, Provider::Wave, &event.id).await? {
        tx.commit().await?;
        return Ok(answer(Provider::Wave, "duplicate"));
    }
    // Wave's own word on the session, with the shop's key. Until the transaction commits the event is not
    // recorded, so a failure here lets Wave's next delivery try again.
    let session_id = data.get("id").and_then(Value::as_str).unwrap_or("");
    let wave = state
        .billing
        .merchant_wave(credentials.api_key, credentials.webhook_secret);
    let session = match wave.retrieve(session_id).await {
        Ok(session) => session,
        Err(ProviderError::Status { status: 404 }) => {
            tracing::warn!(%tenant, order_payment_id = %link.order_payment_id,
                "shop Wave webhook for a session Wave does not know: ignored");
            return Ok(answer(Provider::Wave, "ignored"));
        }
        Err(e) => {
            tracing::warn!(%tenant, order_payment_id = %link.order_payment_id, reason = e.kind(),
                error.message = %e, "shop Wave webhook: the session could not be re-read");
            count(Provider::Wave, "unavailable");
            return Err(Error::BadGateway(
                "Wave n'a pas confirmé la session de paiement.".into(),
            ));
        }
    };
    let ours = session.client_reference.as_deref() == Some(&link.order_payment_id.to_string());
    if session.payment_status.as_deref() != Some("succeeded") || !ours {
        tracing::warn!(%tenant, order_payment_id = %link.order_payment_id, ours,
            "shop Wave webhook not confirmed by Wave: nothing settled");
        // Not recorded (the transaction rolls back): a later delivery of the event is checked again.
        return Ok(answer(Provider::Wave, "unconfirmed"));
    }
    // An unreadable amount is not the link's amount: settled as a mismatch (the link fails, nothing paid).
    let paid_xof = parse_xof(&session.amount).unwrap_or(-1);
    let currency = session.currency.as_str();
    let settled = settle(
        &mut tx,
        &state.subjects,
        link.order_payment_id,
        paid_xof,
        currency,
        "wave_webhook",
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    tdj_nats::publish_outbox(&state.db, &state.nats, ctx).await;
    let result = match settled {
        Settled::Paid(_) => "paid",
        Settled::AlreadyPaid => "already_paid",
        Settled::Mismatch { .. } => "mismatch",
    };
    tracing::info!(%tenant, order_payment_id = %link.order_payment_id, result, "shop Wave webhook processed");
    Ok(answer(Provider::Wave, result))
}

#[derive(Deserialize)]
struct OrangeNotification {
    status: String,
    notif_token: String,
}

/// A shop's Orange Money notification (the `notif_url` of its web payments).
#[utoipa::path(post, path = "/api/v1/webhooks/shops/{tenant_id}/orange-money",
    operation_id = "shopOrangeMoneyWebhook", tag = "webhooks",
    params(("tenant_id" = Uuid, Path, description = "The shop whose web payment is notified")),
    request_body(content = String, content_type = "application/json",
                 description = "Orange's notification: `status`, `notif_token`, `txnid`"),
    responses((status = 200, description = "Received (settled, replayed, reopened or still open)"),
              (status = 400, description = "Not a notification"),
              (status = 401, description = "Unknown shop, no Orange Money account, or a token of no link of this shop"),
              (status = 502, description = "Orange's status API could not confirm the payment")))]
pub(crate) async fn orange_money(
    State(state): State<AppState>,
    Path(tenant_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>> {
    let Ok(tenant) = tenant_id.parse::<Uuid>() else {
        return Err(om_refused(&tenant_id, "not a shop id"));
    };
    let Ok(notification) = serde_json::from_slice::<OrangeNotification>(&body) else {
        count(Provider::OrangeMoney, "invalid");
        return Err(Error::BadRequest(
            "Notification Orange Money illisible.".into(),
        ));
    };
    let ctx = TenantCtx::new(tenant);
    let link = {
        let mut tx = state.db.tenant(ctx).await?;
        match tenants::get(&mut tx).await {
            Ok(_) => {}
            Err(store::Error::NotFound) => return Err(om_refused(&tenant_id, "unknown shop")),
            Err(e) => return Err(e.into()),
        }
        let hash = Sha256::digest(notification.notif_token.as_bytes());
        let link = order_payments::by_notif_token_hash(&mut tx, &hash).await?;
        tx.commit().await?;
        link
    };
    let Some(link) = link.filter(|l| l.provider == Provider::OrangeMoney) else {
        return Err(om_refused(&tenant_id, "no link has this notif_token"));
    };
    let Some(om) = clients::orange_money(&state, ctx).await? else {
        return Err(om_refused(&tenant_id, "no Orange Money account"));
    };
    let status = orange::status_of(&state, &om, &link).await;
    if status == OrangeStatus::Unknown {
        count(Provider::OrangeMoney, "unavailable");
        return Err(Error::BadGateway(
            "Orange Money n'a pas confirmé l'état du paiement.".into(),
        ));
    }
    let concluded = orange::conclude(&state, ctx, &link, status, "orange_money_webhook").await?;
    let result = match concluded {
        Concluded::Settled(Settled::Paid(_)) => "paid",
        Concluded::Settled(Settled::AlreadyPaid) => "already_paid",
        Concluded::Settled(Settled::Mismatch { .. }) => "mismatch",
        Concluded::Duplicate => "duplicate",
        Concluded::Reopened => "reopened",
        Concluded::Open | Concluded::Unknown => "open",
    };
    tracing::info!(%tenant, order_payment_id = %link.order_payment_id, notified = %notification.status,
        result, "shop Orange Money notification processed");
    Ok(answer(Provider::OrangeMoney, result))
}
