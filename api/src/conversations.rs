//! `GET /api/v1/conversations`, `GET|POST /api/v1/conversations/{chat}/messages` (read; answer the customer
//! by hand), and `PUT /api/v1/conversations/{chat}/bot` (pause the bot, or give the conversation back).
//!
//! `{chat}` is the conversation's `chat_id` (from the list) or its chat key (`sim_2250700000000`, as the
//! simulator answers; `wa_…` for WhatsApp): see [`ChatRef`].

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use schemas::commerce::{Author, MessageStatus};
use schemas::{Channel, EventData, OutboundReply, Subjects};
use serde::{Deserialize, Serialize};
use store::chats::{self, Chat, ChatSummary};
use store::messages::{self, Message};
use store::{TenantTx, audit, outbox};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::pagination::{Page, bad_query};
use crate::validate::Check;
use crate::{AppState, Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations", get(list))
        .route(
            "/api/v1/conversations/{chat}/messages",
            get(chat_messages).post(reply),
        )
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
            ChatRef::Key { channel, user } => chats::find_by_key(tx, *channel, user).await,
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
#[utoipa::path(get, path = "/api/v1/conversations", operation_id = "listConversations",
    tag = "conversations", params(Page), security(("bearer" = [])),
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
#[utoipa::path(get, path = "/api/v1/conversations/{chat}/messages", operation_id = "listChatMessages",
    tag = "conversations", params(("chat" = String, Path, description = "The chat_id, or the chat key (sim_2250700000000) the simulator answers"), Page),
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
#[utoipa::path(put, path = "/api/v1/conversations/{chat}/bot", operation_id = "setChatBot",
    tag = "conversations", request_body = BotPause,
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

/// `POST /api/v1/conversations/{chat}/messages`: the owner's own message to the customer.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandReply {
    /// 1 to 4000 characters, sent as is.
    pub text: String,
    /// Optional client id (letters, digits, `-`, `_`; 64 at most): sending the same id twice in this
    /// conversation stores and sends the message once.
    #[serde(default)]
    pub client_message_id: Option<String>,
}

/// The stored hand reply.
#[derive(Debug, Clone)]
pub struct HandReplySent {
    pub message: Message,
    /// False when the same `client_message_id` was sent before: `message` is that earlier one.
    pub created: bool,
}

/// Answers the customer by hand: the message goes out like the bot's, and the bot pauses in this
/// conversation (`HUMAN_TAKEOVER_MINUTES`).
#[utoipa::path(post, path = "/api/v1/conversations/{chat}/messages", operation_id = "replyToChat",
    tag = "conversations", request_body = HandReply,
    params(("chat" = String, Path, description = "The chat_id, or the chat key (sim_2250700000000) the simulator answers")),
    security(("bearer" = [])),
    responses((status = 201, body = Message, description = "Stored and queued for the customer (author `owner`)"),
              (status = 200, body = Message, description = "Same client_message_id sent before: that message"),
              (status = 404), (status = 422)))]
async fn reply(
    State(state): State<AppState>,
    user: AuthUser,
    Path(chat): Path<String>,
    ApiJson(body): ApiJson<HandReply>,
) -> Result<(StatusCode, Json<Message>)> {
    let chat = ChatRef::parse(&chat)?;
    let sent = reply_by_hand(&state, &user, &chat, body).await?;
    let status = if sent.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(sent.message)))
}

/// Sends the owner's message to the customer through the bot's outbound path, in one transaction: the
/// outbound message (author `owner`; `queued` for WhatsApp, `sent` in the simulator, which has no one to
/// deliver to), the [`OutboundReply`] for the ingress in the outbox (WhatsApp only), a `message.sent`
/// event, the customer messages still waiting marked answered (so a bot turn already under way drops its
/// answer), and the bot paused in the chat for `HUMAN_TAKEOVER_MINUTES` at least. The outbox is published
/// after commit. Idempotent with `client_message_id`.
pub(crate) async fn reply_by_hand(
    state: &AppState,
    user: &AuthUser,
    chat: &ChatRef,
    reply: HandReply,
) -> Result<HandReplySent> {
    let mut check = Check::default();
    let text = check.text("text", &reply.text, 1, 4000);
    let client_id = crate::validate::client_message_id(
        &mut check,
        "client_message_id",
        reply.client_message_id.as_deref(),
    );
    check.finish()?;

    let mut tx = state.db.tenant(user.ctx()).await?;
    let chat = chat.resolve(&mut tx).await?;
    // The chat is part of the id, so a client id is scoped to its conversation.
    let outbound_id = match &client_id {
        Some(id) => format!("own-{}-{id}", chat.chat_id.simple()),
        None => format!("own-{}", Uuid::new_v4().simple()),
    };
    let waiting = messages::pending(&mut tx, chat.chat_id, chat.ingested_seq).await?;
    let now = Utc::now();
    let (message, created) = send_to_customer(
        &mut tx,
        &state.subjects,
        &chat,
        &ToCustomer {
            text: &text,
            outbound_id: &outbound_id,
            author: Author::Owner,
            in_reply_to: &waiting,
        },
        now,
    )
    .await?;
    if !created {
        tx.commit().await?;
        return Ok(HandReplySent { message, created });
    }
    let waiting_ids: Vec<Uuid> = waiting.iter().map(|m| m.message_id).collect();
    messages::settle(
        &mut tx,
        &waiting_ids,
        MessageStatus::Answered,
        "Répondu à la main.",
    )
    .await?;
    let pause = chrono::Duration::minutes(state.config.human_takeover_minutes.max(0));
    chats::pause_at_least(&mut tx, chat.chat_id, now + pause).await?;
    chats::clear_attention(&mut tx, chat.chat_id).await?;
    chats::touch(&mut tx, chat.chat_id, now).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "conversation.replied_by_hand",
        serde_json::json!({ "chat_id": chat.chat_id, "message_id": message.message_id }),
    )
    .await?;
    tx.commit().await?;
    tdj_nats::publish_outbox(&state.db, &state.nats, user.ctx()).await;
    Ok(HandReplySent { message, created })
}

/// A message from the shop (the owner's hand or an automatic notice) to one customer.
pub(crate) struct ToCustomer<'a> {
    pub text: &'a str,
    /// Deterministic: storing and sending the same message twice is a no-op.
    pub outbound_id: &'a str,
    pub author: Author,
    /// The customer messages it answers (none for a notice).
    pub in_reply_to: &'a [messages::Message],
}

/// Stores `message` in the chat and queues it, in `tx`: the outbound row (`queued` for WhatsApp, `sent` in the
/// simulator, which has no one to deliver to), the reply for the ingress (WhatsApp only) and a `message.sent`
/// event. `created` is false when this id was stored before (then nothing else is queued). The caller
/// publishes the outbox after commit.
pub(crate) async fn send_to_customer(
    tx: &mut TenantTx<'_>,
    subjects: &Subjects,
    chat: &Chat,
    message: &ToCustomer<'_>,
    now: DateTime<Utc>,
) -> Result<(messages::Message, bool)> {
    let (stored, created) = messages::insert_outbound(
        tx,
        &messages::NewOutbound {
            chat_id: chat.chat_id,
            outbound_id: message.outbound_id,
            body: message.text,
            author: message.author,
            status: if chat.channel == Channel::Simulator {
                MessageStatus::Sent
            } else {
                MessageStatus::Queued
            },
            in_reply_to: message.in_reply_to.last().map(|m| m.message_id),
            sent_at: now,
            turn: None,
            attachment: None,
        },
    )
    .await?;
    if !created {
        return Ok((stored, false));
    }
    let tenant_id = tx.tenant_id();
    if chat.channel == Channel::Whatsapp {
        let outbound = OutboundReply {
            tenant_id,
            chat_id: chat.chat_id,
            customer_jid: chat.customer_jid.clone(),
            text: message.text.to_owned(),
            outbound_id: message.outbound_id.to_owned(),
            in_reply_to: message
                .in_reply_to
                .iter()
                .map(|m| m.wa_message_id.clone())
                .collect(),
            created_at: now,
            received_at: None,
            image: None,
        };
        let payload = serde_json::to_value(&outbound).map_err(anyhow::Error::from)?;
        outbox::push(
            tx,
            Some(chat.chat_id),
            &subjects.outbound(tenant_id),
            message.outbound_id,
            &payload,
        )
        .await?;
    }
    let with_text = store::bot_settings::events_include_text(tx).await?;
    outbox::push_event(
        tx,
        subjects,
        Some(chat.chat_id),
        EventData::MessageSent {
            chat_id: chat.chat_id,
            message_id: stored.message_id,
            channel: chat.channel,
            text: with_text.then(|| message.text.to_owned()),
            author: message.author,
        },
    )
    .await?;
    Ok((stored, true))
}
