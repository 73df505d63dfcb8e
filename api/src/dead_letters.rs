//! Messages the pipeline could not process after every retry, with the reason: `GET /api/v1/dead-letters`, and
//! for the shop's owner `POST /api/v1/dead-letters/{id}/replay` (the message goes back into the pipeline and
//! is answered once) and `POST /api/v1/dead-letters/{id}/discard`. The operator does the same across shops
//! through [`resolve`] (`crate::admin`).

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use schemas::InboundMessage;
use schemas::commerce::DeadLetterStatus;
use serde::Serialize;
use store::TenantCtx;
use store::dead_letters::{self, DeadLetter, Resolution};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::pagination::{Page, bad_query, parse_id};
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/dead-letters", get(list))
        .route("/api/v1/dead-letters/{id}/replay", post(replay))
        .route("/api/v1/dead-letters/{id}/discard", post(discard))
}

/// Messages set aside after repeated failures (open, replayed or discarded), newest first.
#[utoipa::path(get, path = "/api/v1/dead-letters", operation_id = "listDeadLetters",
    tag = "conversations", params(Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<DeadLetter>)))]
pub(crate) async fn list(
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

pub(crate) const NOT_FOUND: Error = Error::NotFound("Message introuvable.");

/// What to do with a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Put the original message back into the pipeline.
    Replay,
    /// Set it aside for good (the customer may be answered by hand).
    Discard,
}

impl Action {
    /// The dead letter's status once the action is done.
    fn status(self) -> DeadLetterStatus {
        match self {
            Action::Replay => DeadLetterStatus::Replayed,
            Action::Discard => DeadLetterStatus::Discarded,
        }
    }
}

/// A dead letter after a replay or discard.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resolved {
    pub dead_letter_id: Uuid,
    /// `replayed` or `discarded`.
    pub status: DeadLetterStatus,
    /// False when it had already been resolved that way: nothing was done again (a double click).
    pub changed: bool,
}

/// Replays or discards a dead letter of the `ctx` shop, once, audited with `actor_user_id` and `note` (the
/// operator's reason; empty for the shop's owner).
///
/// A replay re-publishes the original `InboundMessage` on its subject, through the outbox (so it is published
/// even if NATS is briefly away), with its own `Nats-Msg-Id`, and makes the stored customer message pending
/// again: the pipeline answers it exactly once, whoever gets there first. A second replay of the same dead
/// letter changes nothing; replaying a discarded one (or the reverse) is refused.
pub(crate) async fn resolve(
    state: &AppState,
    ctx: TenantCtx,
    dead_letter_id: Uuid,
    action: Action,
    actor_user_id: Uuid,
    note: &str,
) -> Result<Resolved> {
    let mut tx = state.db.tenant(ctx).await?;
    let dead = dead_letters::lock(&mut tx, dead_letter_id)
        .await
        .map_err(Error::not_found_as("Message introuvable."))?;
    if dead.status != DeadLetterStatus::Open {
        tx.commit().await?;
        if dead.status == action.status() {
            return Ok(Resolved {
                dead_letter_id,
                status: dead.status,
                changed: false,
            });
        }
        return Err(Error::Conflict {
            code: "dead_letter_resolved",
            message: if dead.status == DeadLetterStatus::Replayed {
                "Ce message a déjà été remis dans le circuit : il ne peut plus être écarté.".into()
            } else {
                "Ce message a déjà été écarté : il ne peut plus être rejoué.".into()
            },
        });
    }
    if action == Action::Replay {
        let inbound = serde_json::from_value::<InboundMessage>(dead.payload.clone())
            .ok()
            .filter(|m| m.tenant_id == ctx.tenant_id)
            .ok_or_else(|| Error::Rejected {
                code: "dead_letter_unreadable",
                message: "Ce message est illisible : il ne peut pas être rejoué. Écartez-le et répondez au \
                          client à la main si besoin."
                    .into(),
                details: serde_json::Value::Null,
            })?;
        let payload = serde_json::to_value(&inbound).map_err(anyhow::Error::from)?;
        store::outbox::push(
            &mut tx,
            None,
            &state.subjects.inbound(ctx.tenant_id, inbound.chat_key()),
            &format!("{}:replay:{dead_letter_id}", inbound.msg_id()),
            &payload,
        )
        .await?;
    }
    dead_letters::resolve(
        &mut tx,
        &dead,
        &Resolution {
            status: action.status(),
            actor_user_id,
            note,
            now: Utc::now(),
        },
    )
    .await?;
    tx.commit().await?;
    if action == Action::Replay {
        tdj_nats::publish_outbox(&state.db, &state.nats, ctx).await;
    }
    tracing::info!(tenant_id = %ctx.tenant_id, %dead_letter_id, status = %action.status(), "dead letter resolved");
    Ok(Resolved {
        dead_letter_id,
        status: action.status(),
        changed: true,
    })
}

/// Puts a message that could not be processed back into the pipeline; the customer is answered once, even if
/// this is called twice. Owner only.
#[utoipa::path(post, path = "/api/v1/dead-letters/{id}/replay", operation_id = "replayDeadLetter",
    tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Resolved), (status = 403), (status = 404),
              (status = 409, description = "Already discarded"), (status = 422, description = "Unreadable message")))]
pub(crate) async fn replay(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Resolved>> {
    user.require_owner()?;
    let id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(
        resolve(&state, user.ctx(), id, Action::Replay, user.user_id, "").await?,
    ))
}

/// Sets a message that could not be processed aside for good. Owner only.
#[utoipa::path(post, path = "/api/v1/dead-letters/{id}/discard", operation_id = "discardDeadLetter",
    tag = "conversations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Resolved), (status = 403), (status = 404),
              (status = 409, description = "Already replayed")))]
pub(crate) async fn discard(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Resolved>> {
    user.require_owner()?;
    let id = parse_id(&id, NOT_FOUND)?;
    Ok(Json(
        resolve(&state, user.ctx(), id, Action::Discard, user.user_id, "").await?,
    ))
}
