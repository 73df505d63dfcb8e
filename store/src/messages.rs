//! Messages of a chat: inbound customer messages (pending until a turn answers them) and outbound replies.

use chrono::{DateTime, Utc};
use schemas::commerce::{Author, Direction, MessageStatus};
use schemas::{Attachment, Location};
use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{Result, TenantTx};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub direction: Direction,
    /// `owner` when typed by hand, in the dashboard or on the linked phone.
    pub author: Author,
    pub wa_message_id: String,
    pub body: String,
    /// `pending`, `answered`, `skipped` (inbound); `queued`, `sent`, `failed` (outbound).
    pub status: MessageStatus,
    /// Why a message was skipped or failed, in French, for the dashboard.
    pub status_detail: String,
    pub in_reply_to: Option<Uuid>,
    pub sent_at: DateTime<Utc>,
    /// For a bot reply, what the bot did to write it (engine, tools, orders, hand-over, tokens).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub turn: Option<serde_json::Value>,
    /// A voice note, photo or other media the customer sent (`GET /api/v1/media/{media_id}` for the bytes).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schemas::Attachment>))]
    pub attachment: Option<Json<Attachment>>,
    /// A location the customer shared: a delivery address candidate.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<schemas::Location>))]
    pub location: Option<Json<Location>>,
    /// What the customer said in a voice note, as the model heard it.
    pub transcript: Option<String>,
}

/// A compile-checked query returning [`Message`]s: `$head`, the columns of `message`, then `$tail`.
macro_rules! message_row {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Message,
            $head
                + r#"message_id, chat_id, direction as "direction: Direction", author as "author: Author",
                     wa_message_id, body, status as "status: MessageStatus", status_detail, in_reply_to, sent_at,
                     turn, attachment as "attachment: Json<Attachment>", location as "location: Json<Location>",
                     transcript"#
                + $tail
            $(, $arg)*
        )
    };
}

/// A customer message to store.
pub struct NewInbound<'a> {
    pub chat_id: Uuid,
    pub wa_message_id: &'a str,
    pub body: &'a str,
    pub attachment: Option<&'a Attachment>,
    pub location: Option<&'a Location>,
    pub sent_at: DateTime<Utc>,
    pub stream_seq: Option<i64>,
}

/// Stores a customer message once: a second delivery of the same WhatsApp id is a no-op (`None`).
pub async fn insert_inbound(tx: &mut TenantTx<'_>, new: &NewInbound<'_>) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        r#"insert into message (tenant_id, chat_id, direction, author, wa_message_id, body, status, sent_at, stream_seq,
                              attachment, location)
         values ($1, $2, 'inbound', 'customer', $3, $4, 'pending', $5, $6, $7, $8)
         on conflict (tenant_id, wa_message_id) do nothing
         returning message_id"#,
        tx.tenant_id(),
        new.chat_id,
        new.wa_message_id,
        new.body,
        new.sent_at,
        new.stream_seq,
        new.attachment.map(Json) as Option<Json<&Attachment>>,
        new.location.map(Json) as Option<Json<&Location>>,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// What a new outbound message says and who wrote it.
pub struct NewOutbound<'a> {
    pub chat_id: Uuid,
    /// Deterministic id (the JetStream dedup id): storing the same reply twice is a no-op.
    pub outbound_id: &'a str,
    pub body: &'a str,
    pub author: Author,
    pub status: MessageStatus,
    pub in_reply_to: Option<Uuid>,
    pub sent_at: DateTime<Utc>,
    /// What the bot did to write it (bot replies only).
    pub turn: Option<&'a serde_json::Value>,
    /// A photo sent with it (its body is the caption).
    pub attachment: Option<&'a Attachment>,
}

/// Stores an outbound message; returns the stored row (the existing one if this id was stored before).
pub async fn insert_outbound(
    tx: &mut TenantTx<'_>,
    new: &NewOutbound<'_>,
) -> Result<(Message, bool)> {
    let tenant_id = tx.tenant_id();
    let inserted = message_row!(
        "insert into message (tenant_id, chat_id, direction, author, wa_message_id, body, status, in_reply_to,
                              sent_at, turn, attachment)
         values ($1, $2, 'outbound', $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (tenant_id, wa_message_id) do nothing
         returning ",
        "",
        tenant_id,
        new.chat_id,
        new.author.as_str(),
        new.outbound_id,
        new.body,
        new.status.as_str(),
        new.in_reply_to,
        new.sent_at,
        new.turn,
        new.attachment.map(Json) as Option<Json<&Attachment>>,
    )
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(message) = inserted {
        return Ok((message, true));
    }
    let existing = message_row!(
        "select ",
        " from message where tenant_id = $1 and wa_message_id = $2",
        tenant_id,
        new.outbound_id,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((existing, false))
}

/// Customer messages of the chat still waiting for an answer, in the order they were sent — only those up to
/// the stream sequence `up_to` (every earlier message of the chat is stored), so no gap is answered around.
pub async fn pending(tx: &mut TenantTx<'_>, chat_id: Uuid, up_to: i64) -> Result<Vec<Message>> {
    let tenant_id = tx.tenant_id();
    Ok(message_row!(
        "select ",
        " from message where tenant_id = $1 and chat_id = $2 and status = 'pending'
            and (stream_seq is null or stream_seq <= $3)
          order by sent_at, created_at, message_id",
        tenant_id,
        chat_id,
        up_to,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Whether the chat has a pending message ingested up to `up_to` (see [`pending`]).
pub async fn any_pending(tx: &mut TenantTx<'_>, chat_id: Uuid, up_to: i64) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from message where tenant_id = $1 and chat_id = $2 and status = 'pending'
                          and (stream_seq is null or stream_seq <= $3)) as "pending!""#,
        tx.tenant_id(),
        chat_id,
        up_to,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The last `limit` settled messages of the chat (the conversation memory), oldest first.
pub async fn history(tx: &mut TenantTx<'_>, chat_id: Uuid, limit: i64) -> Result<Vec<Message>> {
    let tenant_id = tx.tenant_id();
    let mut messages = message_row!(
        "select ",
        " from message where tenant_id = $1 and chat_id = $2 and status <> 'pending' and status <> 'failed'
          order by sent_at desc, created_at desc limit $3",
        tenant_id,
        chat_id,
        limit,
    )
    .fetch_all(&mut **tx)
    .await?;
    messages.reverse();
    Ok(messages)
}

/// A page of the chat's messages, oldest first.
pub async fn list(
    tx: &mut TenantTx<'_>,
    chat_id: Uuid,
    limit: i64,
    offset: i64,
) -> Result<Vec<Message>> {
    let tenant_id = tx.tenant_id();
    Ok(message_row!(
        "select ",
        " from message where tenant_id = $1 and chat_id = $2 order by sent_at, created_at, message_id
          limit $3 offset $4",
        tenant_id,
        chat_id,
        limit,
        offset,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Settles pending messages; returns how many were still pending (fewer means another turn got there first).
pub async fn settle(
    tx: &mut TenantTx<'_>,
    ids: &[Uuid],
    status: MessageStatus,
    detail: &str,
) -> Result<u64> {
    Ok(sqlx::query!(
        "update message set status = $3, status_detail = $4
         where tenant_id = $1 and message_id = any($2) and status = 'pending'",
        tx.tenant_id(),
        ids,
        status.as_str(),
        detail,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Records the delivery outcome of an outbound message (reported by the ingress).
pub async fn set_delivery(
    tx: &mut TenantTx<'_>,
    outbound_id: &str,
    status: MessageStatus,
    detail: &str,
) -> Result<bool> {
    Ok(sqlx::query!(
        "update message set status = $3, status_detail = $4
         where tenant_id = $1 and wa_message_id = $2 and direction = 'outbound'",
        tx.tenant_id(),
        outbound_id,
        status.as_str(),
        detail,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// The chat's last `limit` messages, oldest first (a transcript's latest page).
pub async fn latest(tx: &mut TenantTx<'_>, chat_id: Uuid, limit: i64) -> Result<Vec<Message>> {
    let tenant_id = tx.tenant_id();
    let mut messages = message_row!(
        "select ",
        " from message where tenant_id = $1 and chat_id = $2
          order by sent_at desc, created_at desc, message_id desc limit $3",
        tenant_id,
        chat_id,
        limit,
    )
    .fetch_all(&mut **tx)
    .await?;
    messages.reverse();
    Ok(messages)
}

/// Records what the model heard in a voice note.
pub async fn set_transcript(
    tx: &mut TenantTx<'_>,
    message_id: Uuid,
    transcript: &str,
) -> Result<()> {
    let transcript: String = transcript.chars().take(8000).collect();
    sqlx::query!(
        "update message set transcript = $3 where tenant_id = $1 and message_id = $2",
        tx.tenant_id(),
        message_id,
        transcript,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
