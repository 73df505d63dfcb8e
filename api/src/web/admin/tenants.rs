//! `/admin/tenants`: every shop with search and filters; `/admin/tenants/{id}`: one shop (state, users,
//! payments, usage, audit trail) and the operator's actions — suspend or reactivate, extend the subscription,
//! change the plan — each with a required reason, re-shown with its errors when refused.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use store::admin::AdminTenant;
use uuid::Uuid;

use super::{
    AdminChrome, AdminFlash, AdminSession, date, datetime, payment_label, provider_label,
    require_admin, subscription_label,
};
use crate::AppState;
use crate::admin::tenants::{
    ExtendRequest, NOT_FOUND, PlanChange, STATUSES, SUBSCRIPTIONS, TenantQuery, TenantStatusChange,
};
use crate::pagination::parse_id;
use crate::web::error::WebResult;
use crate::web::form::Posted;
use crate::web::i18n::Lang;
use crate::web::session::Session;
use crate::web::view::{FieldErrors, field_errors, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/tenants", get(list))
        .route("/admin/tenants/{id}", get(detail))
        .route("/admin/tenants/{id}/status", post(status))
        .route("/admin/tenants/{id}/extend", post(extend))
        .route("/admin/tenants/{id}/plan", post(plan))
}

/// Shops per page.
const PER_PAGE: i64 = 50;

/// A shop's row in the list.
struct Row {
    id: String,
    name: String,
    slug: String,
    owner: String,
    plan: String,
    suspended: bool,
    subscription: String,
    subscription_label: String,
    expires: String,
    whatsapp: String,
    whatsapp_label: String,
    messages: i64,
    replies: i64,
    last_activity: String,
}

fn row(lang: Lang, t: &AdminTenant) -> Row {
    Row {
        id: t.tenant_id.to_string(),
        name: t.name.clone(),
        slug: t.slug.clone(),
        owner: t.owner_email.clone().unwrap_or_default(),
        plan: t.plan_code.clone(),
        suspended: t.status == "suspended",
        subscription: t.subscription_status.clone().unwrap_or_default(),
        subscription_label: subscription_label(lang, t.subscription_status.as_deref()),
        expires: date(lang, t.expires_at),
        whatsapp: t.whatsapp_status.clone(),
        whatsapp_label: lang
            .t(&format!("wa.status.{}", t.whatsapp_status))
            .into_owned(),
        messages: t.inbound_messages_this_month,
        replies: t.bot_replies_this_month,
        last_activity: datetime(lang, t.last_activity_at),
    }
}

#[derive(askama::Template)]
#[template(path = "admin_tenants.html")]
struct ListTemplate {
    chrome: AdminChrome,
    q: String,
    status: String,
    subscription: String,
    plan: String,
    statuses: Vec<(&'static str, String)>,
    subscriptions: Vec<(&'static str, String)>,
    plans: Vec<(String, String)>,
    rows: Vec<Row>,
    total: String,
    page: i64,
    has_more: bool,
    /// The filters as a query string, for the page links.
    query: String,
    /// Refused filters, in French.
    errors: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    subscription: String,
    #[serde(default)]
    plan: String,
    page: Option<i64>,
}

/// The shops, searchable and filtered.
#[utoipa::path(get, path = "/admin/tenants", operation_id = "adminTenantsPage", tag = "pages",
    params(("q" = Option<String>, Query, description = "Part of the shop's name, its slug or its owner's e-mail"),
           ("status" = Option<String>, Query, description = "`active` or `suspended`"),
           ("subscription" = Option<String>, Query, description = "`pending`, `active`, `past_due` or `suspended`"),
           ("plan" = Option<String>, Query, description = "A plan code"),
           ("page" = Option<i64>, Query, description = "Page number, from 1")),
    responses(crate::openapi::pages::AdminPage))]
async fn list(
    State(state): State<AppState>,
    AdminSession(session): AdminSession,
    flash: AdminFlash,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> WebResult<Response> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let lang = session.lang;
    let page = query.page.unwrap_or(1).clamp(1, 10_000);
    let api_query = TenantQuery {
        q: Some(query.q.clone()),
        status: Some(query.status.clone()),
        subscription: Some(query.subscription.clone()),
        plan: Some(query.plan.clone()),
        limit: Some(PER_PAGE),
        offset: Some((page - 1) * PER_PAGE),
    };
    let (found, errors) =
        match crate::admin::tenants::list_tenants(&state, &session.user, &api_query).await {
            Ok(found) => (Some(found), FieldErrors::default()),
            Err(e) => (None, field_errors(e)?),
        };
    let plans = store::plans::list_active(state.db.pool()).await?;
    let filters = serde_urlencoded::to_string([
        ("q", query.q.as_str()),
        ("status", query.status.as_str()),
        ("subscription", query.subscription.as_str()),
        ("plan", query.plan.as_str()),
    ])
    .unwrap_or_default();
    let (rows, total) = match found {
        Some(found) => (
            found.tenants.iter().map(|t| row(lang, t)).collect(),
            found.total,
        ),
        None => (Vec::new(), 0),
    };
    let errors: Vec<String> = errors.0.into_iter().map(|e| e.message).collect();
    let status = if !errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let chrome = AdminChrome::new(
        &session,
        "tenants",
        lang.t("admin.tenants.title").into_owned(),
        flash,
    );
    let page_html = render(&ListTemplate {
        q: query.q,
        status: query.status,
        subscription: query.subscription,
        plan: query.plan,
        statuses: STATUSES
            .iter()
            .map(|s| (*s, status_label(lang, s)))
            .collect(),
        subscriptions: SUBSCRIPTIONS
            .iter()
            .map(|s| (*s, subscription_label(lang, Some(s))))
            .collect(),
        plans: plans.into_iter().map(|p| (p.plan_code, p.name)).collect(),
        has_more: page * PER_PAGE < total,
        total: lang.tf("admin.tenants.count", &[("n", &total.to_string())]),
        rows,
        page,
        query: filters,
        errors,
        chrome,
    })?;
    Ok((status, page_html).into_response())
}

struct UserRow {
    email: String,
    role: String,
    since: String,
}

struct PaymentRow {
    date: String,
    plan: String,
    provider: String,
    amount: String,
    status: String,
    status_label: String,
    reference: String,
    note: String,
}

struct UsageRow {
    month: String,
    messages: i64,
    replies: i64,
    tokens: String,
}

struct AuditRow {
    at: String,
    action: String,
    who: String,
    detail: String,
}

/// What the three action forms show: the values typed and the errors of the one that was refused.
#[derive(Debug, Default)]
struct Forms {
    status_reason: String,
    status_errors: FieldErrors,
    amount: String,
    unit: String,
    extend_reason: String,
    extend_errors: FieldErrors,
    plan: String,
    plan_reason: String,
    plan_errors: FieldErrors,
}

#[derive(askama::Template)]
#[template(path = "admin_tenant.html")]
struct DetailTemplate {
    chrome: AdminChrome,
    id: String,
    tenant: Row,
    suspended_reason: String,
    suspended_at: String,
    created: String,
    plans: Vec<(String, String)>,
    users: Vec<UserRow>,
    payments: Vec<PaymentRow>,
    usage: Vec<UsageRow>,
    audit: Vec<AuditRow>,
    forms: Forms,
}

async fn detail_page(
    state: &AppState,
    session: &Session,
    id: Uuid,
    flash: AdminFlash,
    forms: Forms,
) -> WebResult<Response> {
    let lang = session.lang;
    let detail = crate::admin::tenants::tenant_detail(state, &session.user, id).await?;
    let plans = store::plans::list_active(state.db.pool()).await?;
    let tenant = &detail.tenant;
    let forms = Forms {
        plan: if forms.plan.is_empty() {
            tenant.plan_code.clone()
        } else {
            forms.plan.clone()
        },
        unit: if forms.unit.is_empty() {
            "months".into()
        } else {
            forms.unit.clone()
        },
        ..forms
    };
    let chrome = AdminChrome::new(session, "tenants", tenant.name.clone(), flash);
    render(&DetailTemplate {
        id: tenant.tenant_id.to_string(),
        tenant: row(lang, tenant),
        suspended_reason: tenant.suspended_reason.clone().unwrap_or_default(),
        suspended_at: datetime(lang, tenant.suspended_at),
        created: date(lang, Some(tenant.created_at)),
        plans: plans.into_iter().map(|p| (p.plan_code, p.name)).collect(),
        users: detail
            .users
            .iter()
            .map(|u| UserRow {
                email: u.email.clone(),
                role: role_label(lang, &u.role),
                since: date(lang, Some(u.created_at)),
            })
            .collect(),
        payments: detail
            .payments
            .iter()
            .map(|p| PaymentRow {
                date: date(lang, Some(p.paid_at.unwrap_or(p.created_at))),
                plan: p.plan_code.clone(),
                provider: provider_label(lang, &p.provider),
                amount: lang.money(p.amount_xof),
                status: p.status.clone(),
                status_label: payment_label(lang, &p.status),
                reference: p
                    .provider_txn_id
                    .clone()
                    .or_else(|| p.provider_ref.clone())
                    .unwrap_or_default(),
                note: p
                    .review_note
                    .clone()
                    .or_else(|| p.failure_reason.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        usage: detail
            .usage
            .iter()
            .map(|u| UsageRow {
                month: format!(
                    "{} {}",
                    lang.t(&format!("month.{}", u.month.format("%m"))),
                    u.month.format("%Y")
                ),
                messages: u.inbound_messages,
                replies: u.bot_replies,
                tokens: crate::web::i18n::group_thousands(
                    u.llm_prompt_tokens + u.llm_output_tokens,
                ),
            })
            .collect(),
        audit: detail
            .audit
            .iter()
            .map(|a| AuditRow {
                at: lang.datetime(a.created_at),
                action: a.action.clone(),
                who: a.actor_email.clone().unwrap_or_else(|| {
                    if a.actor_user_id.is_some() {
                        "—".into()
                    } else {
                        lang.t("admin.audit.platform").into_owned()
                    }
                }),
                detail: audit_detail(&a.detail),
            })
            .collect(),
        forms,
        chrome,
    })
}

/// A user's role in words (any other stored role reads as staff).
fn role_label(lang: Lang, role: &str) -> String {
    match role {
        "owner" => lang.t("admin.role.owner"),
        "platform_admin" => lang.t("admin.role.platform_admin"),
        _ => lang.t("admin.role.staff"),
    }
    .into_owned()
}

/// The operator's status of a shop in words.
fn status_label(lang: Lang, status: &str) -> String {
    match status {
        "suspended" => lang.t("admin.status.suspended"),
        _ => lang.t("admin.status.active"),
    }
    .into_owned()
}

/// An audit entry's detail as one line: `key: value` pairs, the reason first.
fn audit_detail(detail: &serde_json::Value) -> String {
    let Some(map) = detail.as_object() else {
        return detail.to_string();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(reason) = map.get("reason").and_then(|r| r.as_str()) {
        parts.push(format!("« {reason} »"));
    }
    for (key, value) in map {
        if key == "reason" {
            continue;
        }
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        parts.push(format!("{key}: {value}"));
    }
    let line = parts.join(" · ");
    if line.chars().count() > 300 {
        let cut: String = line.chars().take(300).collect();
        format!("{cut}…")
    } else {
        line
    }
}

/// One shop: its subscription, usage, team and the operator's actions.
#[utoipa::path(get, path = "/admin/tenants/{id}", operation_id = "adminTenantPage", tag = "pages",
    params(("id" = Uuid, Path, description = "The shop")),
    responses(crate::openapi::pages::AdminPage,
              (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: unknown shop")))]
async fn detail(
    State(state): State<AppState>,
    AdminSession(session): AdminSession,
    Path(id): Path<String>,
    flash: AdminFlash,
) -> WebResult<Response> {
    let id = parse_id(&id, NOT_FOUND)?;
    detail_page(&state, &session, id, flash, Forms::default()).await
}

/// The page again with the refused form's errors (422), or the error page for anything else.
async fn refused(
    state: &AppState,
    session: &Session,
    id: Uuid,
    error: crate::Error,
    forms: impl FnOnce(FieldErrors) -> Forms,
) -> WebResult<Response> {
    let errors = field_errors(error)?;
    let page = detail_page(state, session, id, AdminFlash::default(), forms(errors)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<StatusForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_admin(&session)?;
    let id = parse_id(&id, NOT_FOUND)?;
    let change = TenantStatusChange {
        status: form.status.clone(),
        reason: form.reason.clone(),
    };
    match crate::admin::tenants::change_status(&state, &session.user, id, &change).await {
        Ok(tenant) => {
            let done = if tenant.status == "suspended" {
                "suspended"
            } else {
                "reactivated"
            };
            Ok(Redirect::to(&format!("/admin/tenants/{id}?done={done}")).into_response())
        }
        Err(e) => {
            refused(&state, &session, id, e, |errors| Forms {
                status_reason: form.reason,
                status_errors: errors,
                ..Default::default()
            })
            .await
        }
    }
}

#[derive(Deserialize)]
struct ExtendForm {
    #[serde(default)]
    amount: String,
    /// `days` or `months`.
    #[serde(default)]
    unit: String,
    #[serde(default)]
    reason: String,
}

async fn extend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<ExtendForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_admin(&session)?;
    let id = parse_id(&id, NOT_FOUND)?;
    // A number that does not read is sent as 0: the service then explains the allowed range.
    let amount = form
        .amount
        .trim()
        .parse::<i32>()
        .unwrap_or(if form.amount.trim().is_empty() { -1 } else { 0 });
    let amount = (amount >= 0).then_some(amount);
    let request = ExtendRequest {
        days: amount.filter(|_| form.unit == "days"),
        months: amount.filter(|_| form.unit != "days"),
        reason: form.reason.clone(),
    };
    match crate::admin::tenants::extend_subscription(&state, &session.user, id, &request).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/tenants/{id}?done=extended")).into_response()),
        Err(e) => {
            refused(&state, &session, id, e, |errors| {
                // The duration's errors are shown next to the amount.
                let errors = FieldErrors(
                    errors
                        .0
                        .into_iter()
                        .map(|mut e| {
                            if e.field == "days" || e.field == "months" {
                                e.field = "amount".into();
                            }
                            e
                        })
                        .collect(),
                );
                Forms {
                    amount: form.amount,
                    unit: form.unit,
                    extend_reason: form.reason,
                    extend_errors: errors,
                    ..Default::default()
                }
            })
            .await
        }
    }
}

#[derive(Deserialize)]
struct PlanForm {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    reason: String,
}

async fn plan(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<PlanForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_admin(&session)?;
    let id = parse_id(&id, NOT_FOUND)?;
    let change = PlanChange {
        plan: form.plan.clone(),
        reason: form.reason.clone(),
    };
    match crate::admin::tenants::change_plan(&state, &session.user, id, &change).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/tenants/{id}?done=plan_changed")).into_response())
        }
        Err(e) => {
            refused(&state, &session, id, e, |errors| Forms {
                plan: form.plan,
                plan_reason: form.reason,
                plan_errors: errors,
                ..Default::default()
            })
            .await
        }
    }
}
