//! Dead letters across shops: `GET /api/v1/admin/dead-letters`, and `POST /api/v1/admin/dead-letters/{id}/replay`
//! or `/discard` with a required reason — the same resolution as the shop's own ([`crate::dead_letters`]),
//! audited with the operator's id.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use schemas::commerce::DeadLetterStatus;
use serde::Deserialize;
use store::TenantCtx;
use store::admin::{self, AdminDeadLetter, DeadLetterFilter};
use uuid::Uuid;

use super::{PlatformAdmin, one_of, reason};
use crate::auth::AuthUser;
use crate::dead_letters::{Action, NOT_FOUND, Resolved, resolve};
use crate::extract::ApiJson;
use crate::pagination::{Page, bad_query, parse_id};
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/dead-letters", get(list))
        .route("/api/v1/admin/dead-letters/{id}/replay", post(replay))
        .route("/api/v1/admin/dead-letters/{id}/discard", post(discard))
}

/// A dead letter's statuses, and `all`.
pub(crate) const STATUSES: [&str; 4] = ["open", "replayed", "discarded", "all"];

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// `open` (the default: still to handle), `replayed`, `discarded` or `all`.
    pub status: Option<String>,
    /// One shop's dead letters.
    pub tenant_id: Option<Uuid>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

pub(crate) async fn list_dead_letters(
    state: &AppState,
    admin: &AuthUser,
    query: &DeadLetterQuery,
) -> Result<Vec<AdminDeadLetter>> {
    admin.require_platform_admin()?;
    let (limit, offset) = Page {
        limit: query.limit,
        offset: query.offset,
    }
    .bounds()?;
    let mut check = Check::default();
    let status = one_of(&mut check, "status", query.status.as_deref(), &STATUSES)
        .unwrap_or_else(|| "open".into());
    check.finish()?;
    let filter = DeadLetterFilter {
        // `all` names no status: no filter.
        status: DeadLetterStatus::parse(&status),
        tenant_id: query.tenant_id,
    };
    let mut tx = state.db.platform().await?;
    let list = admin::list_dead_letters(&mut tx, &filter, limit, offset).await?;
    tx.commit().await?;
    Ok(list)
}

/// Messages the pipeline gave up on, across shops, newest first (the open ones by default).
#[utoipa::path(get, path = "/api/v1/admin/dead-letters", operation_id = "adminListDeadLetters",
    tag = "admin", security(("bearer" = [])),
    params(DeadLetterQuery), responses((status = 200, body = Vec<AdminDeadLetter>), (status = 403), (status = 422)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    query: Result<Query<DeadLetterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<AdminDeadLetter>>> {
    let query = query.map_err(bad_query)?.0;
    Ok(Json(list_dead_letters(&state, &user, &query).await?))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterDecision {
    /// Why, 3 to 500 characters (kept in the shop's audit log).
    pub reason: String,
}

/// Replays or discards any shop's dead letter, with the operator's reason.
pub(crate) async fn resolve_dead_letter(
    state: &AppState,
    admin: &AuthUser,
    dead_letter_id: Uuid,
    action: Action,
    decision: &DeadLetterDecision,
) -> Result<Resolved> {
    admin.require_platform_admin()?;
    let mut check = Check::default();
    let reason = reason(&mut check, "reason", &decision.reason);
    check.finish()?;
    let mut tx = state.db.platform().await?;
    let tenant_id = admin::dead_letter_tenant(&mut tx, dead_letter_id)
        .await
        .map_err(Error::not_found_as("Message introuvable."))?;
    tx.commit().await?;
    resolve(
        state,
        TenantCtx::new(tenant_id),
        dead_letter_id,
        action,
        admin.user_id,
        &reason,
    )
    .await
}

/// Puts a shop's dead letter back into the pipeline (answered once, even if replayed twice); audited.
#[utoipa::path(post, path = "/api/v1/admin/dead-letters/{id}/replay", operation_id = "adminReplayDeadLetter",
    tag = "admin",
    request_body = DeadLetterDecision, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Resolved), (status = 403), (status = 404),
              (status = 409, description = "Already discarded"), (status = 422)))]
pub(crate) async fn replay(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    Path(id): Path<String>,
    ApiJson(decision): ApiJson<DeadLetterDecision>,
) -> Result<Json<Resolved>> {
    let id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(
        resolve_dead_letter(&state, &user, id, Action::Replay, &decision).await?,
    ))
}

/// Sets a shop's dead letter aside for good; audited.
#[utoipa::path(post, path = "/api/v1/admin/dead-letters/{id}/discard", operation_id = "adminDiscardDeadLetter",
    tag = "admin",
    request_body = DeadLetterDecision, security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Resolved), (status = 403), (status = 404),
              (status = 409, description = "Already replayed"), (status = 422)))]
pub(crate) async fn discard(
    State(state): State<AppState>,
    PlatformAdmin(user): PlatformAdmin,
    Path(id): Path<String>,
    ApiJson(decision): ApiJson<DeadLetterDecision>,
) -> Result<Json<Resolved>> {
    let id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(
        resolve_dead_letter(&state, &user, id, Action::Discard, &decision).await?,
    ))
}
