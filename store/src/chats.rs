//! Conversations: one chat per customer and channel, with the bot's pause (human takeover) and the worker
//! claim that makes a chat's turns strictly sequential.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use schemas::Channel;
use serde::Serialize;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{PlatformTx, Result, TenantTx};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Chat {
    pub chat_id: Uuid,
    pub channel: Channel,
    pub customer_jid: String,
    pub customer_name: String,
    /// The bot stays silent in this chat until then (the owner answers by hand).
    pub bot_paused_until: Option<DateTime<Utc>>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// What this customer may still get from the bot (internal, not shown): a token bucket against bursts
    /// (`reply_credit` replies as of `credit_at`, refilled over time; none yet: a full bucket) and the count
    /// of the replies of `replies_day` against a daily cap.
    #[serde(skip)]
    pub reply_credit: Option<f32>,
    #[serde(skip)]
    pub credit_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub replies_day: Option<NaiveDate>,
    #[serde(skip)]
    pub replies_on_day: i32,
    /// Every inbound message of the chat up to this stream sequence is stored (internal).
    #[serde(skip)]
    pub ingested_seq: i64,
}

/// A chat in the conversation list, with its latest message.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatSummary {
    #[serde(flatten)]
    pub chat: Chat,
    pub last_message: Option<String>,
    /// Customer messages not answered yet.
    pub pending_count: i64,
    /// Why the bot handed this conversation over to the shop, until the shop answers by hand.
    pub attention_reason: Option<String>,
}

/// A compile-checked query returning [`Chat`]s: `$head`, the columns of `chat`, then `$tail`.
macro_rules! chat_row {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            Chat,
            $head
                + r#"chat_id, channel as "channel: Channel", customer_jid, customer_name, bot_paused_until,
                     last_message_at, created_at, reply_credit, credit_at, replies_day, replies_on_day,
                     ingested_seq"#
                + $tail
            $(, $arg)*
        )
    };
}

pub async fn get(tx: &mut TenantTx<'_>, chat_id: Uuid) -> Result<Chat> {
    let tenant_id = tx.tenant_id();
    chat_row!(
        "select ",
        " from chat where tenant_id = $1 and chat_id = $2",
        tenant_id,
        chat_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// The chat a chat key names (`Channel::chat_key`: the channel's prefix and the ASCII letters and digits
/// of the customer's JID before `@`), computed here the same way. Two JIDs with the same digits share
/// one NATS subject, so they share a key too; the most recently active one answers.
pub async fn find_by_key(tx: &mut TenantTx<'_>, channel: Channel, key_user: &str) -> Result<Chat> {
    let tenant_id = tx.tenant_id();
    chat_row!(
        "select ",
        " from chat where tenant_id = $1 and channel = $2
            and regexp_replace(split_part(customer_jid, '@', 1), '[^A-Za-z0-9]', '', 'g') = $3
          order by last_message_at desc nulls last, created_at desc limit 1",
        tenant_id,
        channel.as_str(),
        key_user,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Chats, most recent activity first.
pub async fn list(tx: &mut TenantTx<'_>, limit: i64, offset: i64) -> Result<Vec<ChatSummary>> {
    let rows = sqlx::query!(
        r#"select c.chat_id, c.channel as "channel: Channel", c.customer_jid, c.customer_name,
                c.bot_paused_until, c.last_message_at, c.created_at, c.ingested_seq,
                (select m.body from message m where m.tenant_id = c.tenant_id and m.chat_id = c.chat_id
                 order by m.sent_at desc, m.created_at desc limit 1) as last_message,
                (select count(*) from message m where m.tenant_id = c.tenant_id and m.chat_id = c.chat_id
                   and m.status = 'pending') as "pending_count!",
                c.attention_reason
         from chat c where c.tenant_id = $1
         order by c.last_message_at desc nulls last, c.created_at desc
         limit $2 offset $3"#,
        tx.tenant_id(),
        limit,
        offset,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ChatSummary {
            chat: Chat {
                chat_id: row.chat_id,
                channel: row.channel,
                customer_jid: row.customer_jid,
                customer_name: row.customer_name,
                bot_paused_until: row.bot_paused_until,
                last_message_at: row.last_message_at,
                created_at: row.created_at,
                // The list does not need the reply budget.
                reply_credit: None,
                credit_at: None,
                replies_day: None,
                replies_on_day: 0,
                ingested_seq: row.ingested_seq,
            },
            last_message: row.last_message,
            pending_count: row.pending_count,
            attention_reason: row.attention_reason,
        })
        .collect())
}

/// Marks the chat as handed over to the shop, with the reason. `true` when it was not already marked (the
/// shop is alerted once per hand-over, not once per message).
pub async fn flag_attention(
    tx: &mut TenantTx<'_>,
    chat_id: Uuid,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    let reason: String = reason.trim().chars().take(300).collect();
    let flagged = sqlx::query_scalar!(
        r#"update chat set attention_reason = $3, attention_at = coalesce(attention_at, $4)
           where tenant_id = $1 and chat_id = $2
           returning (attention_at = $4) as "newly!""#,
        tx.tenant_id(),
        chat_id,
        reason,
        at,
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(flagged.unwrap_or(false))
}

/// The shop answered: the conversation no longer waits for it.
pub async fn clear_attention(tx: &mut TenantTx<'_>, chat_id: Uuid) -> Result<()> {
    sqlx::query!(
        "update chat set attention_reason = null, attention_at = null
         where tenant_id = $1 and chat_id = $2 and attention_at is not null",
        tx.tenant_id(),
        chat_id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The chat of this customer on this channel for an incoming message at `at`: created on first contact, its
/// last activity moved to `at`, a non-empty display name refreshing the stored one; returns the chat and its
/// ingested sequence before this message (one statement on the hot path).
pub async fn upsert_for_message(
    tx: &mut TenantTx<'_>,
    channel: Channel,
    customer_jid: &str,
    customer_name: &str,
    at: DateTime<Utc>,
) -> Result<(Uuid, i64)> {
    let row = sqlx::query!(
        "insert into chat (tenant_id, channel, customer_jid, customer_name, last_message_at)
         values ($1, $2, $3, $4, $5)
         on conflict (tenant_id, channel, customer_jid) do update
           set customer_name = case when excluded.customer_name <> '' then excluded.customer_name
                                    else chat.customer_name end,
               last_message_at = greatest(coalesce(chat.last_message_at, excluded.last_message_at),
                                          excluded.last_message_at)
         returning chat_id, ingested_seq",
        tx.tenant_id(),
        channel.as_str(),
        customer_jid,
        customer_name,
        at,
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.chat_id, row.ingested_seq))
}

/// What a turn's commit records on its chat, in one statement: the last activity, the turn failures
/// cleared, and for a WhatsApp customer the reply budget left after this reply and the day's count.
pub async fn record_turn(
    tx: &mut TenantTx<'_>,
    chat_id: Uuid,
    at: DateTime<Utc>,
    credit_left: Option<f32>,
) -> Result<()> {
    sqlx::query!(
        "update chat set last_message_at = greatest(coalesce(last_message_at, $3), $3),
                failed_turns = 0, retry_at = null,
                reply_credit = coalesce($4, reply_credit),
                credit_at = case when $4::real is null then credit_at else $3 end,
                replies_on_day = case when $4::real is null then replies_on_day
                                      when replies_day = $5 then replies_on_day + 1 else 1 end,
                replies_day = case when $4::real is null then replies_day else $5 end
         where tenant_id = $1 and chat_id = $2",
        tx.tenant_id(),
        chat_id,
        at,
        credit_left,
        at.date_naive(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn touch(tx: &mut TenantTx<'_>, chat_id: Uuid, at: DateTime<Utc>) -> Result<()> {
    sqlx::query!(
        "update chat set last_message_at = greatest(coalesce(last_message_at, $3), $3)
         where tenant_id = $1 and chat_id = $2",
        tx.tenant_id(),
        chat_id,
        at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Raises the ingested stream sequence to `seq`, once every earlier message of the chat is stored.
pub async fn advance_ingested(tx: &mut TenantTx<'_>, chat_id: Uuid, seq: i64) -> Result<()> {
    sqlx::query!(
        "update chat set ingested_seq = greatest(ingested_seq, $3) where tenant_id = $1 and chat_id = $2",
        tx.tenant_id(),
        chat_id,
        seq,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Pauses (or with `None` resumes) the bot in a chat.
pub async fn set_paused_until(
    tx: &mut TenantTx<'_>,
    chat_id: Uuid,
    until: Option<DateTime<Utc>>,
) -> Result<Chat> {
    let tenant_id = tx.tenant_id();
    chat_row!(
        "update chat set bot_paused_until = $3 where tenant_id = $1 and chat_id = $2 returning ",
        "",
        tenant_id,
        chat_id,
        until,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Keeps the bot silent in the chat at least until `until` (a longer pause already set stays).
pub async fn pause_at_least(
    tx: &mut TenantTx<'_>,
    chat_id: Uuid,
    until: DateTime<Utc>,
) -> Result<Chat> {
    let tenant_id = tx.tenant_id();
    chat_row!(
        "update chat set bot_paused_until = greatest(coalesce(bot_paused_until, $3), $3)
         where tenant_id = $1 and chat_id = $2 returning ",
        "",
        tenant_id,
        chat_id,
        until,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// What [`try_claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed,
    /// Another worker holds a live claim on the chat: it re-checks for pending messages when it releases it.
    Held,
    /// The chat's last turn failed and its backoff has not passed (`retry_at`): the sweeper retries it.
    BackingOff,
    /// The shop already has `max_per_tenant` turns running: the chat waits for one of them to finish.
    TenantBusy,
}

/// Claims the chat for `worker` until `ttl` from now, unless another worker holds a live claim, the chat is
/// backing off after a failed turn, or the shop already runs `max_per_tenant` turns (across every worker:
/// the count is taken under a per-shop advisory lock, so two claims cannot both see room for one).
pub async fn try_claim(
    tx: &mut TenantTx<'_>,
    chat_id: Uuid,
    worker: &str,
    ttl: Duration,
    max_per_tenant: i64,
) -> Result<ClaimOutcome> {
    let tenant_id = tx.tenant_id();
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended($1::text, 12)) as locked",
        tenant_id.to_string(),
    )
    .fetch_one(&mut **tx)
    .await?;
    let state = sqlx::query!(
        r#"select
             coalesce(c.claim_expires_at >= now() and c.claimed_by <> $3, false) as "held!",
             (c.retry_at is not null and c.retry_at > now()) as "backing_off!",
             (select count(*) from chat o where o.tenant_id = $1 and o.chat_id <> $2
                and o.claim_expires_at >= now()) as "running!"
           from chat c where c.tenant_id = $1 and c.chat_id = $2"#,
        tenant_id,
        chat_id,
        worker,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()?;
    if state.held {
        return Ok(ClaimOutcome::Held);
    }
    if state.backing_off {
        return Ok(ClaimOutcome::BackingOff);
    }
    if state.running >= max_per_tenant.max(1) {
        return Ok(ClaimOutcome::TenantBusy);
    }
    sqlx::query!(
        "update chat set claimed_by = $3, claim_expires_at = now() + make_interval(secs => $4)
         where tenant_id = $1 and chat_id = $2",
        tenant_id,
        chat_id,
        worker,
        ttl.as_secs_f64(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(ClaimOutcome::Claimed)
}

/// Counts a failed turn of the chat; returns the consecutive failures so far.
pub async fn record_failed_turn(tx: &mut TenantTx<'_>, chat_id: Uuid) -> Result<i32> {
    Ok(sqlx::query_scalar!(
        "update chat set failed_turns = failed_turns + 1
         where tenant_id = $1 and chat_id = $2 returning failed_turns",
        tx.tenant_id(),
        chat_id,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Holds the chat back from every worker and the sweeper until `retry_at` (the backoff of a failed turn).
pub async fn record_retry_at(
    tx: &mut TenantTx<'_>,
    chat_id: Uuid,
    retry_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query!(
        "update chat set retry_at = $3 where tenant_id = $1 and chat_id = $2",
        tx.tenant_id(),
        chat_id,
        retry_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A turn succeeded (or its messages were given up on): the failure count starts again.
pub async fn clear_failures(tx: &mut TenantTx<'_>, chat_id: Uuid) -> Result<()> {
    sqlx::query!(
        "update chat set failed_turns = 0, retry_at = null
         where tenant_id = $1 and chat_id = $2 and (failed_turns <> 0 or retry_at is not null)",
        tx.tenant_id(),
        chat_id,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The chat, locked until the transaction ends, if `worker` still holds its claim (`None`: the claim is
/// lost). A turn's snapshot and commit start here: a delivery that advances the chat's sequence meanwhile is
/// either seen by what follows or waits for this transaction, then finds the claim released and claims the chat
/// itself, so no message is left behind by a release.
pub async fn lock_claimed(
    tx: &mut TenantTx<'_>,
    chat_id: Uuid,
    worker: &str,
) -> Result<Option<Chat>> {
    let tenant_id = tx.tenant_id();
    Ok(chat_row!(
        "select ",
        " from chat
         where tenant_id = $1 and chat_id = $2 and claimed_by = $3 and claim_expires_at > now()
         for update",
        tenant_id,
        chat_id,
        worker,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Whether `worker` still holds the claim (it may have expired during a slow turn and been taken over).
pub async fn holds_claim(tx: &mut TenantTx<'_>, chat_id: Uuid, worker: &str) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from chat where tenant_id = $1 and chat_id = $2 and claimed_by = $3
                          and claim_expires_at > now()) as "held!""#,
        tx.tenant_id(),
        chat_id,
        worker,
    )
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn release(tx: &mut TenantTx<'_>, chat_id: Uuid, worker: &str) -> Result<()> {
    sqlx::query!(
        "update chat set claimed_by = null, claim_expires_at = null
         where tenant_id = $1 and chat_id = $2 and claimed_by = $3",
        tx.tenant_id(),
        chat_id,
        worker,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Chats with customer messages waiting longer than `older_than`, no live claim and no backoff running: a
/// worker died mid-turn, its turn failed, or its shop was at its concurrent-turn cap. Fair: the oldest
/// waiting chat of each shop first, then each shop's second, and so on, so one busy shop cannot take the
/// whole sweep. Platform path: the sweeper looks across tenants.
pub async fn stranded(
    tx: &mut PlatformTx,
    older_than: Duration,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>> {
    let rows = sqlx::query!(
        r#"select tenant_id as "tenant_id!", chat_id as "chat_id!" from (
             select w.tenant_id, w.chat_id, w.oldest,
                    row_number() over (partition by w.tenant_id order by w.oldest) as rank
             from (
               select c.tenant_id, c.chat_id, min(m.created_at) as oldest from chat c
               join message m on m.tenant_id = c.tenant_id and m.chat_id = c.chat_id and m.status = 'pending'
                 and (m.stream_seq is null or m.stream_seq <= c.ingested_seq)
               where (c.claim_expires_at is null or c.claim_expires_at < now())
                 and (c.retry_at is null or c.retry_at <= now())
                 and m.created_at < now() - make_interval(secs => $1)
               group by c.tenant_id, c.chat_id
             ) w
           ) ranked
           order by rank, oldest
           limit $2"#,
        older_than.as_secs_f64(),
        limit,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.tenant_id, r.chat_id)).collect())
}

/// The shop's chat that has waited longest with answerable pending messages and nobody on it (no live
/// claim, no backoff): what a worker finishing a turn of this shop takes next, so a shop held at its
/// concurrent-turn cap does not wait for the sweeper.
pub async fn next_waiting(tx: &mut TenantTx<'_>) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        "select c.chat_id from chat c
         join message m on m.tenant_id = c.tenant_id and m.chat_id = c.chat_id and m.status = 'pending'
           and (m.stream_seq is null or m.stream_seq <= c.ingested_seq)
         where c.tenant_id = $1
           and (c.claim_expires_at is null or c.claim_expires_at < now())
           and (c.retry_at is null or c.retry_at <= now())
         group by c.chat_id
         order by min(m.created_at)
         limit 1",
        tx.tenant_id(),
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// The chat of this customer on this channel, if they ever wrote.
pub async fn find(
    tx: &mut TenantTx<'_>,
    channel: Channel,
    customer_jid: &str,
) -> Result<Option<Chat>> {
    let tenant_id = tx.tenant_id();
    Ok(chat_row!(
        "select ",
        " from chat where tenant_id = $1 and channel = $2 and customer_jid = $3",
        tenant_id,
        channel.as_str(),
        customer_jid,
    )
    .fetch_optional(&mut **tx)
    .await?)
}
