//! Server-rendered pages of the payment flow: the sandbox checkout page (`GET /billing/sandbox/{id}`, with
//! Approve / Refuse buttons that fire a signed webhook at our own API) and the return page providers
//! redirect the payer to (`GET /billing/return`).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use store::billing::{self, PaymentOwner, PaymentStatus, Provider};
use uuid::Uuid;

use super::providers::sandbox::SIGNATURE_HEADER;
use super::webhooks::SandboxEvent;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/billing/sandbox/{id}", get(page))
        .route("/billing/sandbox/{id}/approve", post(approve))
        .route("/billing/sandbox/{id}/refuse", post(refuse))
        .route("/billing/return", get(return_page))
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Tdjaasa</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;padding:1.5rem;background:#f6f7f9;color:#1d1d1f}}
main{{max-width:26rem;margin:0 auto;background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 1px 4px #0002}}
h1{{font-size:1.3rem}} .amount{{font-size:2rem;font-weight:700;margin:.5rem 0}} .note{{color:#666;font-size:.9rem}}
form{{margin:.75rem 0}} button{{width:100%;padding:1rem;font-size:1.1rem;border:0;border-radius:8px;color:#fff}}
.ok{{background:#1a7f37}} .ko{{background:#b42318}}
.btn{{display:block;text-align:center;padding:1rem;border-radius:8px;background:#0b6b4f;color:#fff;text-decoration:none;font-weight:600}}
</style></head><body><main>{body}</main></body></html>"#
    );
    (status, Html(page)).into_response()
}

/// 5000 → "5 000".
fn format_xof(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if amount < 0 { format!("-{out}") } else { out }
}

fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Paiement introuvable",
        "<h1>Paiement introuvable</h1><p>Ce lien de paiement n'existe pas ou a expiré.</p>",
    )
}

async fn sandbox_payment(state: &AppState, id: &str) -> Option<PaymentOwner> {
    state.billing.sandbox.as_ref()?;
    let id: Uuid = id.parse().ok()?;
    let mut tx = state.db.platform().await.ok()?;
    let owner = billing::owner_of_payment(&mut tx, id).await.ok()??;
    tx.commit().await.ok()?;
    (owner.provider == Provider::Sandbox).then_some(owner)
}

fn settled_page(owner: &PaymentOwner) -> Response {
    let text = match owner.status {
        PaymentStatus::Succeeded => "Ce paiement a déjà été accepté. Votre abonnement est actif.",
        PaymentStatus::Failed => {
            "Ce paiement a été refusé. Relancez un paiement depuis votre tableau de bord."
        }
        _ => "Ce paiement est en cours de vérification par notre équipe.",
    };
    html(
        StatusCode::OK,
        "Paiement",
        &format!(
            "<h1>Paiement</h1><p>{text}</p>{}",
            back_to_dashboard(Some(owner.payment_id))
        ),
    )
}

/// A pending payment of a shop the operator suspended cannot be paid: it would not lift the suspension (a
/// checkout started before the suspension leads here).
async fn suspended_page(state: &AppState, owner: &PaymentOwner) -> Option<Response> {
    let refused = crate::admin::suspension::refuse_if_suspended(
        state,
        store::TenantCtx::new(owner.tenant_id),
        crate::admin::suspension::Refused::Payment,
    )
    .await;
    match refused {
        Ok(()) => None,
        Err(crate::Error::ShopSuspended(message)) => Some(html(
            StatusCode::FORBIDDEN,
            "Paiement impossible",
            &format!(
                "<h1>Paiement impossible</h1><p id=\"suspended\">{}</p>{}",
                escape(&message),
                back_to_dashboard(None)
            ),
        )),
        Err(_) => Some(html(
            StatusCode::SERVICE_UNAVAILABLE,
            "Erreur",
            "<h1>Erreur</h1><p>Réessayez dans un instant.</p>",
        )),
    }
}

/// Text for HTML (the operator's reason is free text).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The sandbox's checkout page.
#[utoipa::path(get, path = "/billing/sandbox/{id}", operation_id = "sandboxCheckoutPage", tag = "pages",
    params(("id" = Uuid, Path, description = "The sandbox payment")),
    responses(crate::openapi::pages::PublicPage,
              (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: unknown payment"),
              (status = 403, body = String, content_type = "text/html", description = "The operator suspended the shop: the page says why")))]
async fn page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(owner) = sandbox_payment(&state, &id).await else {
        return not_found();
    };
    if owner.status != PaymentStatus::Pending {
        return settled_page(&owner);
    }
    if let Some(refused) = suspended_page(&state, &owner).await {
        return refused;
    }
    let id = owner.payment_id;
    html(
        StatusCode::OK,
        "Paiement test",
        &format!(
            r#"<h1>Paiement test (bac à sable)</h1>
<p>Abonnement Tdjaasa, forfait <strong>{plan}</strong>, 1 mois.</p>
<p class="amount">{amount} F CFA</p>
<p class="note">Aucun argent réel n'est débité : ce paiement simule Wave, Orange Money ou une carte.</p>
<form method="post" action="/billing/sandbox/{id}/approve"><button class="ok" type="submit">Approuver le paiement</button></form>
<form method="post" action="/billing/sandbox/{id}/refuse"><button class="ko" type="submit">Refuser le paiement</button></form>"#,
            plan = owner.plan_code,
            amount = format_xof(owner.amount_xof),
        ),
    )
}

async fn approve(state: State<AppState>, id: Path<String>) -> Response {
    decide(state, id, true).await
}

async fn refuse(state: State<AppState>, id: Path<String>) -> Response {
    decide(state, id, false).await
}

/// Fires the signed webhook at our own API, as a provider would.
async fn decide(State(state): State<AppState>, Path(id): Path<String>, approved: bool) -> Response {
    let Some(owner) = sandbox_payment(&state, &id).await else {
        return not_found();
    };
    if owner.status != PaymentStatus::Pending {
        return settled_page(&owner);
    }
    if approved && let Some(refused) = suspended_page(&state, &owner).await {
        return refused;
    }
    let (Some(sandbox), base) = (state.billing.sandbox.as_ref(), state.urls.billing.clone()) else {
        return not_found();
    };
    let event = SandboxEvent {
        id: format!("sbx_evt_{}", Uuid::new_v4().simple()),
        kind: if approved {
            "payment.succeeded"
        } else {
            "payment.failed"
        }
        .into(),
        payment_id: owner.payment_id,
        amount: owner.amount_xof,
        currency: owner.currency.clone(),
    };
    let Ok(body) = serde_json::to_vec(&event) else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Erreur",
            "<h1>Erreur</h1><p>Réessayez.</p>",
        );
    };
    let signature = sandbox.sign(Utc::now().timestamp(), &body);
    let sent = state
        .billing
        .http
        .post(format!("{base}/api/v1/webhooks/sandbox"))
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .timeout(state.billing.timeout)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {
            let (title, text) = if approved {
                (
                    "Paiement accepté",
                    "Paiement accepté : votre abonnement est actif. Vous pouvez fermer cette page.",
                )
            } else {
                (
                    "Paiement refusé",
                    "Paiement refusé : aucun montant n'a été débité.",
                )
            };
            html(
                StatusCode::OK,
                title,
                &format!(
                    "<h1>{title}</h1><p>{text}</p>{}",
                    back_to_dashboard(Some(owner.payment_id))
                ),
            )
        }
        other => {
            let status = other.as_ref().map(|r| r.status().as_u16()).unwrap_or(0);
            tracing::warn!(status, "sandbox webhook was not accepted");
            html(
                StatusCode::BAD_GATEWAY,
                "Erreur",
                "<h1>Notification non reçue</h1><p>Le paiement test n'a pas pu être confirmé. Réessayez.</p>",
            )
        }
    }
}

#[derive(Deserialize)]
struct ReturnQuery {
    statut: Option<String>,
    paiement: Option<String>,
}

/// The way back into the dashboard, which tells where the payment stands and resumes the onboarding.
fn back_to_dashboard(payment_id: Option<Uuid>) -> String {
    let href = match payment_id {
        Some(id) => format!("/app/billing/return?payment={id}"),
        None => "/app/billing".into(),
    };
    format!(
        r#"<p><a id="back-to-dashboard" class="btn" href="{href}">Retour au tableau de bord</a></p>"#
    )
}

/// Where providers send the payer back.
#[utoipa::path(get, path = "/billing/return", operation_id = "paymentReturnPage", tag = "pages",
    params(("statut" = Option<String>, Query, description = "`succes` when the provider reports a payment"),
           ("paiement" = Option<Uuid>, Query, description = "The payment, for the link back to the dashboard")),
    responses(crate::openapi::pages::PublicPage))]
async fn return_page(Query(query): Query<ReturnQuery>) -> Response {
    let text = if query.statut.as_deref() == Some("succes") {
        "Merci ! Votre paiement est en cours de confirmation ; votre abonnement sera actif dans un instant."
    } else {
        "Le paiement n'a pas abouti. Aucun montant n'a été débité : vous pouvez réessayer depuis votre tableau de bord."
    };
    let payment_id = query.paiement.as_deref().and_then(|id| id.parse().ok());
    html(
        StatusCode::OK,
        "Paiement",
        &format!(
            "<h1>Paiement</h1><p>{text}</p>{}",
            back_to_dashboard(payment_id)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::format_xof;

    #[test]
    fn amounts_are_grouped_by_thousands() {
        for (amount, expected) in [
            (5000, "5\u{202f}000"),
            (15000, "15\u{202f}000"),
            (500, "500"),
            (1234567, "1\u{202f}234\u{202f}567"),
        ] {
            assert_eq!(format_xof(amount), expected, "{amount}");
        }
    }
}
