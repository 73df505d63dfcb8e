//! `GET /api/v1/conversations`, `GET /api/v1/conversations/{chat}/messages`, and
//! `PUT /api/v1/conversations/{chat}/bot` (pause the bot to answer by hand).

use axum::extract::{Path, Query, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::audit;
use store::chats::{self, Chat, ChatSummary};
use store::messages::{self, Message};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::pagination::{Page, bad_query, parse_id};
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations", get(list))
        .route("/api/v1/conversations/{chat}/messages", get(chat_messages))
        .route("/api/v1/conversations/{chat}/bot", put(set_bot))
}

const NOT_FOUND: Error = Error::NotFound("Conversation introuvable.");

fn not_found(e: store::Error) -> Error {
    Error::not_found_as("Conversation introuvable.")(e)
}

/// The shop's conversations, most recent first, with their last message and unanswered count.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(Page), security(("bearer" = [])),
    responses((status = 200, body = Vec<ChatSummary>)))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ChatSummary>>> {
    let Query(page) = page.map_err(bad_query)?;
    Ok(Json(list_chats(&state, &user, page).await?))
}

/// A page of the shop's conversations, most recent activity first.
pub(crate) async fn list_chats(
    state: &AppState,
    user: &AuthUser,
    page: Page,
) -> Result<Vec<ChatSummary>> {
    let (limit, offset) = page.bounds()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let chats = chats::list(&mut tx, limit, offset).await?;
    tx.commit().await?;
    Ok(chats)
}

/// A conversation and a page of its messages, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct ChatThread {
    pub chat: Chat,
    pub messages: Vec<Message>,
}

/// A conversation's messages, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{chat}/messages", tag = "conversations", params(("chat" = uuid::Uuid, Path), Page),
    security(("bearer" = [])), responses((status = 200, body = Vec<Message>), (status = 404)))]
async fn chat_messages(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat): Path<String>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Message>>> {
    let chat_id = parse_id(&chat, NOT_FOUND)?;
    let Query(page) = page.map_err(bad_query)?;
    Ok(Json(
        chat_thread(&state, &user, chat_id, page).await?.messages,
    ))
}

/// One conversation of the shop and a page of its messages (another shop's chat answers 404).
pub(crate) async fn chat_thread(
    state: &AppState,
    user: &AuthUser,
    chat_id: Uuid,
    page: Page,
) -> Result<ChatThread> {
    let (limit, offset) = page.bounds()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let chat = chats::get(&mut tx, chat_id).await.map_err(not_found)?;
    let messages = messages::list(&mut tx, chat_id, limit, offset).await?;
    tx.commit().await?;
    Ok(ChatThread { chat, messages })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotPause {
    /// The bot stays silent in this conversation until then; null gives it back the conversation now.
    pub paused_until: Option<DateTime<Utc>>,
}

/// Takes a conversation over by hand (the bot stays silent until `paused_until`), or gives it back.
#[utoipa::path(put, path = "/api/v1/conversations/{chat}/bot", tag = "conversations", request_body = BotPause,
    params(("chat" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = Chat), (status = 404), (status = 422)))]
async fn set_bot(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat): Path<String>,
    ApiJson(body): ApiJson<BotPause>,
) -> Result<Json<Chat>> {
    let chat_id = parse_id(&chat, NOT_FOUND)?;
    Ok(Json(set_bot_pause(&state, &user, chat_id, body).await?))
}

/// Pauses the bot in a conversation until `paused_until` (at most 30 days ahead), or with `None` gives the
/// conversation back to the bot now.
pub(crate) async fn set_bot_pause(
    state: &AppState,
    user: &AuthUser,
    chat_id: Uuid,
    pause: BotPause,
) -> Result<Chat> {
    if let Some(until) = pause.paused_until
        && until > Utc::now() + chrono::Duration::days(30)
    {
        let mut check = Check::default();
        check.fail("paused_until", "La pause ne peut pas dépasser 30 jours.");
        check.finish()?;
    }
    let mut tx = state.db.tenant(user.ctx()).await?;
    let chat = chats::set_paused_until(&mut tx, chat_id, pause.paused_until)
        .await
        .map_err(not_found)?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "conversation.bot_paused",
        serde_json::json!({ "chat_id": chat_id, "paused_until": pause.paused_until }),
    )
    .await?;
    tx.commit().await?;
    Ok(chat)
}
