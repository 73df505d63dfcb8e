//! `GET /api/v1/conversations`, `GET /api/v1/conversations/{chat}/messages`, and
//! `PUT /api/v1/conversations/{chat}/bot` (pause the bot to answer by hand).
//!
//! `{chat}` is the conversation's `chat_id` (from the list) or its chat key (`sim_2250700000000`, as the
//! simulator answers; `wa_…` for WhatsApp): see [`ChatRef`].

use axum::extract::{Path, Query, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use schemas::Channel;
use serde::{Deserialize, Serialize};
use store::chats::{self, Chat, ChatSummary};
use store::messages::{self, Message};
use store::{TenantTx, audit};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::pagination::{Page, bad_query};
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

/// A conversation as a `{chat}` path segment names it: its id, or its chat key (the NATS subject token:
/// `sim_2250700000000`, `wa_2250700000000`). Whatever does not name a conversation of the caller's shop —
/// malformed, unknown, another shop's — answers the same 404.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatRef {
    Id(Uuid),
    Key { channel: Channel, user: String },
}

impl ChatRef {
    pub fn parse(segment: &str) -> Result<Self> {
        if let Ok(id) = Uuid::parse_str(segment) {
            return Ok(ChatRef::Id(id));
        }
        match Channel::parse_chat_key(segment) {
            Some((channel, user)) => Ok(ChatRef::Key {
                channel,
                user: user.to_owned(),
            }),
            None => Err(NOT_FOUND),
        }
    }

    /// The conversation, in the caller's tenant transaction.
    async fn resolve(&self, tx: &mut TenantTx<'_>) -> Result<Chat> {
        match self {
            ChatRef::Id(id) => chats::get(tx, *id).await,
            ChatRef::Key { channel, user } => chats::find_by_key(tx, channel.as_str(), user).await,
        }
        .map_err(not_found)
    }
}

impl From<Uuid> for ChatRef {
    fn from(id: Uuid) -> Self {
        ChatRef::Id(id)
    }
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
#[utoipa::path(get, path = "/api/v1/conversations/{chat}/messages", tag = "conversations", params(("chat" = String, Path, description = "The chat_id, or the chat key (sim_2250700000000) the simulator answers"), Page),
    security(("bearer" = [])), responses((status = 200, body = Vec<Message>), (status = 404)))]
async fn chat_messages(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat): Path<String>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Message>>> {
    let chat = ChatRef::parse(&chat)?;
    let Query(page) = page.map_err(bad_query)?;
    Ok(Json(
        chat_thread(&state, &user, &chat, page).await?.messages,
    ))
}

/// One conversation of the shop and a page of its messages (another shop's chat answers 404).
pub(crate) async fn chat_thread(
    state: &AppState,
    user: &AuthUser,
    chat: &ChatRef,
    page: Page,
) -> Result<ChatThread> {
    let (limit, offset) = page.bounds()?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    let chat = chat.resolve(&mut tx).await?;
    let messages = messages::list(&mut tx, chat.chat_id, limit, offset).await?;
    tx.commit().await?;
    Ok(ChatThread { chat, messages })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotPause {
    /// The bot stays silent in this conversation until then (in the future, at most 30 days ahead); null
    /// gives it back the conversation now.
    pub paused_until: Option<DateTime<Utc>>,
}

/// Takes a conversation over by hand (the bot stays silent until `paused_until`), or gives it back.
#[utoipa::path(put, path = "/api/v1/conversations/{chat}/bot", tag = "conversations", request_body = BotPause,
    params(("chat" = String, Path, description = "The chat_id, or the chat key (sim_2250700000000) the simulator answers")), security(("bearer" = [])),
    responses((status = 200, body = Chat), (status = 404), (status = 422)))]
async fn set_bot(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat): Path<String>,
    ApiJson(body): ApiJson<BotPause>,
) -> Result<Json<Chat>> {
    let chat = ChatRef::parse(&chat)?;
    Ok(Json(set_bot_pause(&state, &user, &chat, body).await?))
}

/// Pauses the bot in a conversation until `paused_until` (in the future, at most 30 days ahead), or with
/// `None` gives the conversation back to the bot now.
pub(crate) async fn set_bot_pause(
    state: &AppState,
    user: &AuthUser,
    chat: &ChatRef,
    pause: BotPause,
) -> Result<Chat> {
    if let Some(until) = pause.paused_until {
        let now = Utc::now();
        let mut check = Check::default();
        if until <= now {
            check.fail(
                "paused_until",
                "La fin de la pause doit être dans le futur. Pour rendre la conversation au bot, envoyez null.",
            );
        } else if until > now + chrono::Duration::days(30) {
            check.fail("paused_until", "La pause ne peut pas dépasser 30 jours.");
        }
        check.finish()?;
    }
    let mut tx = state.db.tenant(user.ctx()).await?;
    let chat_id = chat.resolve(&mut tx).await?.chat_id;
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
