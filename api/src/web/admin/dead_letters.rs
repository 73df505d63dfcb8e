//! `/admin/dead-letters`: messages the pipeline gave up on, across shops; each open one can be replayed (put
//! back into the pipeline, answered once) or discarded, with a required reason (audited).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use schemas::commerce::DeadLetterStatus;
use serde::Deserialize;
use store::admin::AdminDeadLetter;
use uuid::Uuid;

use super::{AdminChrome, AdminFlash, AdminSession, datetime, require_admin};
use crate::AppState;
use crate::admin::dead_letters::{DeadLetterDecision, DeadLetterQuery};
use crate::dead_letters::{Action, NOT_FOUND};
use crate::pagination::parse_id;
use crate::web::error::WebResult;
use crate::web::form::Posted;
use crate::web::i18n::Lang;
use crate::web::session::Session;
use crate::web::view::{FieldErrors, field_errors, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/dead-letters", get(list))
        .route("/admin/dead-letters/{id}/replay", post(replay))
        .route("/admin/dead-letters/{id}/discard", post(discard))
}

const PER_PAGE: i64 = 50;

struct Row {
    id: String,
    tenant_id: String,
    shop: String,
    at: String,
    customer: String,
    text: String,
    reason: String,
    deliveries: i32,
    open: bool,
    status_label: String,
    resolution: String,
    /// What was typed when the decision was refused, and why.
    typed: String,
    error: String,
}

/// The customer and the text of the original message, when its payload reads as one.
fn customer_and_text(payload: &serde_json::Value) -> (String, String) {
    let name = payload["customer_name"].as_str().unwrap_or_default().trim();
    let phone = payload["customer_jid"]
        .as_str()
        .map(crate::phone::PhoneNumber::display)
        .unwrap_or_default();
    let customer = match (name.is_empty(), phone.is_empty()) {
        (false, false) => format!("{name} ({phone})"),
        (false, true) => name.to_owned(),
        _ => phone,
    };
    let text = match payload {
        serde_json::Value::String(raw) => raw.clone(),
        other => other["text"].as_str().unwrap_or_default().to_owned(),
    };
    let text = if text.chars().count() > 500 {
        format!("{}…", text.chars().take(500).collect::<String>())
    } else {
        text
    };
    (customer, text)
}

fn status_label(lang: Lang, status: DeadLetterStatus) -> String {
    match status {
        DeadLetterStatus::Replayed => lang.t("admin.dead.replayed"),
        DeadLetterStatus::Discarded => lang.t("admin.dead.discarded"),
        DeadLetterStatus::Open => lang.t("admin.dead.open"),
    }
    .into_owned()
}

fn row(lang: Lang, d: &AdminDeadLetter, refused: Option<&Refused>) -> Row {
    let refused = refused.filter(|r| r.dead_letter_id == d.dead_letter_id);
    let (customer, text) = customer_and_text(&d.payload);
    Row {
        id: d.dead_letter_id.to_string(),
        tenant_id: d.tenant_id.to_string(),
        shop: d.tenant_name.clone(),
        at: lang.datetime(d.created_at),
        customer,
        text,
        reason: d.reason.clone(),
        deliveries: d.deliveries,
        open: d.status == DeadLetterStatus::Open,
        status_label: status_label(lang, d.status),
        resolution: if d.status == DeadLetterStatus::Open {
            String::new()
        } else {
            let note = if d.resolution_note.is_empty() {
                String::new()
            } else {
                format!(" : « {} »", d.resolution_note)
            };
            format!("{}{note}", datetime(lang, d.resolved_at))
        },
        typed: refused.map(|r| r.reason.clone()).unwrap_or_default(),
        error: refused
            .map(|r| r.errors.of("reason").to_owned())
            .unwrap_or_default(),
    }
}

struct Refused {
    dead_letter_id: Uuid,
    reason: String,
    errors: FieldErrors,
}

#[derive(askama::Template)]
#[template(path = "admin_dead_letters.html")]
struct ListTemplate {
    chrome: AdminChrome,
    status: String,
    statuses: Vec<(&'static str, String)>,
    rows: Vec<Row>,
    page: i64,
    has_more: bool,
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    status: String,
    page: Option<i64>,
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
    let status = match query.status.as_str() {
        "replayed" | "discarded" | "all" => query.status.clone(),
        _ => "open".to_owned(),
    };
    let mut list = crate::admin::dead_letters::list_dead_letters(
        state,
        &session.user,
        &DeadLetterQuery {
            status: Some(status.clone()),
            tenant_id: None,
            limit: Some(PER_PAGE + 1),
            offset: Some((page - 1) * PER_PAGE),
        },
    )
    .await?;
    let has_more = list.len() > usize::try_from(PER_PAGE).unwrap_or(usize::MAX);
    list.truncate(usize::try_from(PER_PAGE).unwrap_or(usize::MAX));
    let code = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let chrome = AdminChrome::new(
        session,
        "dead_letters",
        lang.t("admin.dead.title").into_owned(),
        flash,
    );
    let body = render(&ListTemplate {
        rows: list
            .iter()
            .map(|d| row(lang, d, refused.as_ref()))
            .collect(),
        statuses: DeadLetterStatus::ALL
            .iter()
            .map(|&s| (s.as_str(), status_label(lang, s)))
            .chain([("all", lang.t("common.all").into_owned())])
            .collect(),
        status,
        page,
        has_more,
        chrome,
    })?;
    Ok((code, body).into_response())
}

/// The messages the pipeline gave up on, in every shop.
#[utoipa::path(get, path = "/admin/dead-letters", operation_id = "adminDeadLettersPage", tag = "pages",
    params(("status" = Option<String>, Query, description = "`open` (the default), `replayed`, `discarded` or `all`"),
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
struct DecisionForm {
    #[serde(default)]
    reason: String,
}

async fn decide(
    state: &AppState,
    id: &str,
    posted: Posted<DecisionForm>,
    action: Action,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_admin(&session)?;
    let id = parse_id(id, NOT_FOUND)?;
    let decision = DeadLetterDecision {
        reason: form.reason.clone(),
    };
    match crate::admin::dead_letters::resolve_dead_letter(
        state,
        &session.user,
        id,
        action,
        &decision,
    )
    .await
    {
        Ok(resolved) => {
            let done = match (resolved.changed, action) {
                (false, _) => "unchanged",
                (true, Action::Replay) => "replayed",
                (true, Action::Discard) => "discarded",
            };
            Ok(Redirect::to(&format!("/admin/dead-letters?done={done}")).into_response())
        }
        Err(e) => {
            let errors = field_errors(e)?;
            let refused = Refused {
                dead_letter_id: id,
                reason: form.reason,
                errors,
            };
            list_page(
                state,
                &session,
                ListQuery::default(),
                AdminFlash::default(),
                Some(refused),
            )
            .await
        }
    }
}

async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<DecisionForm>,
) -> WebResult<Response> {
    decide(&state, &id, posted, Action::Replay).await
}

async fn discard(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<DecisionForm>,
) -> WebResult<Response> {
    decide(&state, &id, posted, Action::Discard).await
}
