//! Billing screens: plan, status and expiry, change plan, pay or renew, payment history and printable
//! receipts. Paying goes through the same checkout as `POST /api/v1/billing/checkout`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use store::billing::{
    OperatorSuspension, Payment, PaymentStatus, Provider, Subscription, SubscriptionStatus,
};
use store::plans::Plan;
use store::tenants::{self, OnboardingStep};

use super::error::WebResult;
use super::form::Posted;
use super::i18n::Lang;
use super::session::Session;
use super::view::{Chrome, Flash, render};
use crate::AppState;
use crate::billing::routes::{CheckoutInput, Overview};

const PAYMENT_NOT_FOUND: crate::Error = crate::Error::NotFound("Paiement introuvable.");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/billing", get(page))
        .route("/app/billing/checkout", post(checkout))
        .route("/app/billing/return", get(returned))
        .route("/app/billing/payments/{id}", get(receipt))
}

/// A plan as the pages show it.
#[derive(Debug, Clone)]
pub struct PlanView {
    pub code: String,
    pub name: String,
    pub price: String,
    pub limits: String,
}

pub fn plan_views(lang: Lang, plans: &[Plan]) -> Vec<PlanView> {
    plans
        .iter()
        .map(|p| {
            let count = |n: Option<i32>, key: &str| match n {
                Some(1) => lang.t(&format!("{key}.one")).into_owned(),
                Some(n) => lang.tf(
                    &format!("{key}.many"),
                    &[("n", &super::i18n::group_thousands(i64::from(n)))],
                ),
                None => lang.t(&format!("{key}.unlimited")).into_owned(),
            };
            PlanView {
                code: p.plan_code.clone(),
                name: p.name.clone(),
                price: lang.money(p.price_xof),
                limits: format!(
                    "{} · {} · {}",
                    count(p.max_products, "plan.products"),
                    count(p.max_replies_per_month, "plan.replies"),
                    count(p.max_staff_users, "plan.users"),
                ),
            }
        })
        .collect()
}

/// A payment method as the pages show it: offered, or known but not configured on this platform.
#[derive(Debug, Clone)]
pub struct ProviderView {
    pub code: &'static str,
    pub label: String,
    pub configured: bool,
}

pub fn provider_views(state: &AppState, lang: Lang) -> Vec<ProviderView> {
    let configured = state.billing.available();
    // The sandbox is only shown where it is offered.
    Provider::ALL
        .into_iter()
        .filter(|p| *p != Provider::Sandbox || configured.contains(p))
        .map(|provider| ProviderView {
            code: provider.as_str(),
            label: lang.t(&format!("provider.{provider}")).into_owned(),
            configured: configured.contains(&provider),
        })
        .collect()
}

/// The subscription's state in words.
pub fn subscription_words(lang: Lang, sub: &Subscription) -> (String, String) {
    let status = lang.t(&format!("subscription.{}", sub.status)).into_owned();
    let detail = match sub.status {
        SubscriptionStatus::Active => sub
            .expires_at
            .map(|at| lang.tf("subscription.until", &[("date", &lang.date(at))]))
            .unwrap_or_default(),
        SubscriptionStatus::PastDue => sub
            .grace_until
            .map(|at| lang.tf("subscription.grace", &[("date", &lang.date(at))]))
            .unwrap_or_default(),
        SubscriptionStatus::Pending => lang.t("subscription.pending.detail").into_owned(),
        SubscriptionStatus::Suspended => lang.t("subscription.suspended.detail").into_owned(),
    };
    (status, detail)
}

/// An operator suspension in words, in place of the subscription's state: it is what stops the bot, and paying
/// does not lift it.
pub fn operator_suspension_words(lang: Lang, suspension: &OperatorSuspension) -> (String, String) {
    (
        lang.t("billing.suspended_by_operator").into_owned(),
        lang.tf(
            "billing.suspended_by_operator.detail",
            &[("reason", &suspension.reason)],
        ),
    )
}

struct PaymentRow {
    id: String,
    date: String,
    plan: String,
    amount: String,
    provider: String,
    status: String,
    status_label: String,
    receipt: bool,
}

fn payment_row(lang: Lang, p: &Payment, plans: &[Plan]) -> PaymentRow {
    PaymentRow {
        id: p.payment_id.to_string(),
        date: lang.date(p.paid_at.unwrap_or(p.created_at)),
        plan: plans
            .iter()
            .find(|plan| plan.plan_code == p.plan_code)
            .map_or_else(|| p.plan_code.clone(), |plan| plan.name.clone()),
        amount: lang.money(p.amount_xof),
        provider: lang.t(&format!("provider.{}", p.provider)).into_owned(),
        status: p.status.to_string(),
        status_label: lang.t(&format!("payment.{}", p.status)).into_owned(),
        receipt: p.status == PaymentStatus::Succeeded,
    }
}

#[derive(askama::Template)]
#[template(path = "billing.html")]
struct BillingTemplate {
    chrome: Chrome,
    plan_name: String,
    /// Paying is not offered: it would not lift the operator's suspension.
    suspended_by_operator: bool,
    status: String,
    status_label: String,
    status_detail: String,
    current_plan: String,
    plans: Vec<PlanView>,
    providers: Vec<ProviderView>,
    payments: Vec<PaymentRow>,
}

/// The subscription: plan, renewal, payment providers and past payments.
#[utoipa::path(
    get,
    path = "/app/billing",
    operation_id = "billingPage",
    tag = "pages",
    responses(crate::openapi::pages::OwnerPage)
)]
async fn page(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Response> {
    require_owner(&session)?;
    let chrome = Chrome::load(&state, &session, "billing", "billing.title", flash).await?;
    let overview = load_overview(&state, &session).await?;
    let lang = chrome.lang;
    let (status_label, status_detail) = match &overview.operator_suspension {
        Some(suspension) => operator_suspension_words(lang, suspension),
        None => subscription_words(lang, &overview.subscription),
    };
    render(&BillingTemplate {
        plan_name: overview.plan.name.clone(),
        suspended_by_operator: overview.operator_suspension.is_some(),
        status: if overview.operator_suspension.is_some() {
            "suspended".to_owned()
        } else {
            overview.subscription.status.to_string()
        },
        status_label,
        status_detail,
        current_plan: overview.plan.plan_code.clone(),
        plans: plan_views(lang, &overview.plans),
        providers: provider_views(&state, lang),
        payments: overview
            .payments
            .iter()
            .map(|p| payment_row(lang, p, &overview.plans))
            .collect(),
        chrome,
    })
}

pub(super) async fn load_overview(state: &AppState, session: &Session) -> WebResult<Overview> {
    Ok(crate::billing::routes::billing_overview(state, &session.user).await?)
}

pub(super) fn require_owner(session: &Session) -> WebResult<()> {
    Ok(session.user.require_owner()?)
}

#[derive(Deserialize)]
struct CheckoutForm {
    plan: String,
    provider: String,
}

/// Starts a payment and sends the browser to the provider's page (the sandbox's page in development).
async fn checkout(
    State(state): State<AppState>,
    posted: Posted<CheckoutForm>,
) -> WebResult<Response> {
    require_owner(&posted.session)?;
    let input = CheckoutInput {
        plan: posted.form.plan,
        provider: posted.form.provider,
        idempotency_key: None,
    };
    let started =
        crate::billing::routes::start_checkout(&state, &posted.session.user, input).await?;
    Ok(Redirect::to(&started.checkout.checkout_url).into_response())
}

#[derive(Deserialize)]
struct ReturnQuery {
    payment: Option<String>,
}

/// Where the payment pages send the payer back: onboarding goes on after a successful first payment.
#[utoipa::path(get, path = "/app/billing/return", operation_id = "billingReturnPage", tag = "pages",
    params(("payment" = Option<Uuid>, Query, description = "The payment the provider sent the payer back from")),
    responses((status = 303, description = "To the onboarding (or the billing page) with the payment's outcome; to `/login` without a live session"),
              (status = 403, body = String, content_type = "text/html", description = "The \"not allowed\" page: the user is not an owner"),
              (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: unknown payment, or another shop's")))]
async fn returned(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<ReturnQuery>,
) -> WebResult<Response> {
    let Some(id) = query.payment.as_deref() else {
        return Ok(Redirect::to("/app/billing").into_response());
    };
    let id = crate::pagination::parse_id(id, PAYMENT_NOT_FOUND)?;
    let payment = crate::billing::routes::get_payment(&state, &session.user, id).await?;
    let flash = match payment.status {
        PaymentStatus::Succeeded => "paid",
        PaymentStatus::Failed => "payment_failed",
        PaymentStatus::Pending | PaymentStatus::Flagged => "payment_pending",
    };
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let step = tenants::onboarding_step(&mut tx).await?;
    if step == OnboardingStep::Pay && payment.status == PaymentStatus::Succeeded {
        tenants::set_onboarding_step(&mut tx, OnboardingStep::Whatsapp).await?;
    }
    tx.commit().await?;
    let to = if matches!(step, OnboardingStep::Pay | OnboardingStep::Plan) {
        format!("/app/onboarding?done={flash}")
    } else {
        format!("/app/billing?done={flash}")
    };
    Ok(Redirect::to(&to).into_response())
}

#[derive(askama::Template)]
#[template(path = "receipt.html")]
struct ReceiptTemplate {
    chrome: Chrome,
    row: PaymentRow,
    reference: String,
    plan_name: String,
    paid_at: String,
}

/// A printable receipt of a paid payment (another shop's id answers the same 404 as an unknown one).
#[utoipa::path(get, path = "/app/billing/payments/{id}", operation_id = "paymentReceiptPage", tag = "pages",
    params(("id" = Uuid, Path, description = "The payment")),
    responses(crate::openapi::pages::OwnerPage,
              (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: unknown payment, or another shop's")))]
async fn receipt(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    flash: Flash,
) -> WebResult<Response> {
    require_owner(&session)?;
    let id = crate::pagination::parse_id(&id, PAYMENT_NOT_FOUND)?;
    let payment = crate::billing::routes::get_payment(&state, &session.user, id).await?;
    if payment.status != PaymentStatus::Succeeded {
        return Err(crate::Error::NotFound("Reçu introuvable.").into());
    }
    let chrome = Chrome::load(&state, &session, "billing", "receipt.title", flash).await?;
    let lang = chrome.lang;
    let plan_name = store::plans::get_active(state.db.pool(), &payment.plan_code)
        .await?
        .map_or_else(|| payment.plan_code.clone(), |p| p.name);
    render(&ReceiptTemplate {
        row: payment_row(lang, &payment, &[]),
        reference: payment
            .provider_txn_id
            .clone()
            .or_else(|| payment.provider_ref.clone())
            .unwrap_or_else(|| payment.payment_id.to_string()),
        plan_name,
        paid_at: payment
            .paid_at
            .map(|at| lang.datetime(at))
            .unwrap_or_default(),
        chrome,
    })
}
