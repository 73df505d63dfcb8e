//! `GET /api/v1/dead-letters`: messages the pipeline could not process after every retry, with the reason.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use store::dead_letters::{self, DeadLetter};

use crate::auth::AuthUser;
use crate::pagination::{Page, bad_query};
use crate::{AppState, Result};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/dead-letters", get(list))
}

/// Messages set aside after repeated failures, newest first.
#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "conversations", params(Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<DeadLetter>)))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DeadLetter>>> {
    let (limit, offset) = page.map_err(bad_query)?.0.bounds()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let list = dead_letters::list(&mut tx, limit, offset).await?;
    tx.commit().await?;
    Ok(Json(list))
}
