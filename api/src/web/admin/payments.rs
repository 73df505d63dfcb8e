//! `/admin/payments`: payments of every shop with their provider status, filtered by status and provider, or
//! the flagged ones still to review; a flagged payment is marked reviewed with a note (audited).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use store::admin::AdminPayment;
use uuid::Uuid;

use super::{
    AdminChrome, AdminFlash, AdminSession, date, payment_label, provider_label, require_admin,
};
use crate::AppState;
use crate::admin::payments::{PaymentQuery, PaymentReview, STATUSES};
use crate::pagination::parse_id;
use crate::web::error::WebResult;
use crate::web::form::Posted;
use crate::web::i18n::Lang;
use crate::web::session::Session;
use crate::web::view::{FieldErrors, field_errors, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/payments", get(list))
        .route("/admin/payments/{id}/review", post(review))
}

const NOT_FOUND: crate::Error = crate::Error::NotFound("Paiement introuvable.");
const PER_PAGE: i64 = 50;

struct Row {
    id: String,
    tenant_id: String,
    shop: String,
    date: String,
    plan: String,
    provider: String,
    amount: String,
    status: String,
    status_label: String,
    reference: String,
    failure: String,
    flagged: bool,
    reviewed: String,
    /// The note typed (kept when the review was refused) or the stored one.
    note: String,
    error: String,
}

#[derive(askama::Template)]
#[template(path = "admin_payments.html")]
struct ListTemplate {
    chrome: AdminChrome,
    status: String,
    provider: String,
    needs_review: bool,
    statuses: Vec<(&'static str, String)>,
    providers: Vec<(&'static str, String)>,
    rows: Vec<Row>,
    page: i64,
    has_more: bool,
    query: String,
    errors: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    needs_review: Option<String>,
    page: Option<i64>,
}

/// A review refused: which payment, what was typed, why.
struct Refused {
    payment_id: Uuid,
    note: String,
    errors: FieldErrors,
}

fn row(lang: Lang, p: &AdminPayment, refused: Option<&Refused>) -> Row {
    let refused = refused.filter(|r| r.payment_id == p.payment_id);
    Row {
        id: p.payment_id.to_string(),
        tenant_id: p.tenant_id.to_string(),
        shop: p.tenant_name.clone(),
        date: date(lang, Some(p.paid_at.unwrap_or(p.created_at))),
        plan: p.plan_code.clone(),
        provider: provider_label(lang, &p.provider),
        amount: format!(
            "{} {}",
            crate::web::i18n::group_thousands(p.amount_xof),
            p.currency
        ),
        status: p.status.clone(),
        status_label: payment_label(lang, &p.status),
        reference: p
            .provider_txn_id
            .clone()
            .or_else(|| p.provider_ref.clone())
            .unwrap_or_default(),
        failure: p.failure_reason.clone().unwrap_or_default(),
        flagged: p.status == "flagged",
        reviewed: p
            .reviewed_at
            .map(|at| lang.tf("admin.payments.reviewed_on", &[("date", &lang.date(at))]))
            .unwrap_or_default(),
        note: refused.map_or_else(
            || p.review_note.clone().unwrap_or_default(),
            |r| r.note.clone(),
        ),
        error: refused
            .map(|r| r.errors.of("note").to_owned())
            .unwrap_or_default(),
    }
}

async fn list_page(
    state: &AppState,
    session: &Session,
    query: ListQuery,
    flash: AdminFlash,
    refused: Option<Refused>,
) -> WebResult<Response> {
    let lang = session.lang;
    let page = query.page.unwrap_or(1).clamp(1, 10_000);
    let needs_review = query.needs_review.as_deref() == Some("true");
    let api_query = PaymentQuery {
        status: Some(query.status.clone()),
        provider: Some(query.provider.clone()),
        needs_review: Some(needs_review),
        tenant_id: None,
        limit: Some(PER_PAGE + 1),
        offset: Some((page - 1) * PER_PAGE),
    };
    let (mut payments, errors) =
        match crate::admin::payments::list_payments(state, &session.user, &api_query).await {
            Ok(payments) => (payments, Vec::new()),
            Err(e) => (
                Vec::new(),
                field_errors(e)?.0.into_iter().map(|e| e.message).collect(),
            ),
        };
    let has_more = payments.len() > usize::try_from(PER_PAGE).unwrap_or(usize::MAX);
    payments.truncate(usize::try_from(PER_PAGE).unwrap_or(usize::MAX));
    let query_string = serde_urlencoded::to_string([
        ("status", query.status.as_str()),
        ("provider", query.provider.as_str()),
        ("needs_review", if needs_review { "true" } else { "" }),
    ])
    .unwrap_or_default();
    let code = if errors.is_empty() && refused.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let chrome = AdminChrome::new(
        session,
        "payments",
        lang.t("admin.payments.title").into_owned(),
        flash,
    );
    let body = render(&ListTemplate {
        rows: payments
            .iter()
            .map(|p| row(lang, p, refused.as_ref()))
            .collect(),
        status: query.status,
        provider: query.provider,
        needs_review,
        statuses: STATUSES
            .iter()
            .map(|s| (*s, payment_label(lang, s)))
            .collect(),
        providers: store::billing::PROVIDERS
            .iter()
            .map(|p| (*p, provider_label(lang, p)))
            .collect(),
        page,
        has_more,
        query: query_string,
        errors,
        chrome,
    })?;
    Ok((code, body).into_response())
}

/// The payments of every shop, flagged ones to review.
#[utoipa::path(get, path = "/admin/payments", operation_id = "adminPaymentsPage", tag = "pages",
    params(("status" = Option<String>, Query, description = "`pending`, `succeeded`, `failed` or `flagged`"),
           ("provider" = Option<String>, Query, description = "`wave`, `orange_money`, `stripe` or `sandbox`"),
           ("needs_review" = Option<String>, Query, description = "Present: only flagged payments nobody reviewed yet"),
           ("page" = Option<i64>, Query, description = "Page number, from 1")),
    responses(crate::openapi::pages::AdminPage))]
async fn list(
    State(state): State<AppState>,
    AdminSession(session): AdminSession,
    flash: AdminFlash,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> WebResult<Response> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    list_page(&state, &session, query, flash, None).await
}

#[derive(Deserialize)]
struct ReviewForm {
    #[serde(default)]
    note: String,
}

async fn review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ReviewForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_admin(&session)?;
    let id = parse_id(&id, NOT_FOUND)?;
    let review = PaymentReview {
        note: form.note.clone(),
    };
    match crate::admin::payments::review_payment(&state, &session.user, id, &review).await {
        Ok(_) => Ok(Redirect::to("/admin/payments?status=flagged&done=reviewed").into_response()),
        Err(e) => {
            let errors = field_errors(e)?;
            let query = ListQuery {
                status: "flagged".into(),
                ..Default::default()
            };
            let refused = Refused {
                payment_id: id,
                note: form.note,
                errors,
            };
            list_page(
                &state,
                &session,
                query,
                AdminFlash::default(),
                Some(refused),
            )
            .await
        }
    }
}
