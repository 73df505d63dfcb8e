//! The transactional outbox: what must reach NATS once a transaction commits (replies, domain events).

use std::time::Duration;

use chrono::Utc;
use schemas::{Event, EventData, Subjects};
use serde_json::Value;
use uuid::Uuid;

use crate::{PlatformTx, Result, TenantTx};

#[derive(Debug, Clone)]
pub struct Entry {
    pub tenant_id: uuid::Uuid,
    pub outbox_id: i64,
    pub subject: String,
    /// The JetStream dedup id (`Nats-Msg-Id`).
    pub msg_id: String,
    pub payload: Value,
}

/// Queues an entry, published after commit. `chat_id`: the chat whose turn or message caused it, so the
/// worker can publish the chat's entries in order right after its commit (see [`unpublished_of_chat`]).
pub async fn push(
    tx: &mut TenantTx<'_>,
    chat_id: Option<Uuid>,
    subject: &str,
    msg_id: &str,
    payload: &Value,
) -> Result<()> {
    sqlx::query!(
        "insert into outbox (tenant_id, chat_id, subject, msg_id, payload) values ($1, $2, $3, $4, $5)",
        tx.tenant_id(),
        chat_id,
        subject,
        msg_id,
        payload,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes a domain event of the transaction's tenant to the outbox; it is published after commit.
pub async fn push_event(
    tx: &mut TenantTx<'_>,
    subjects: &Subjects,
    chat_id: Option<Uuid>,
    data: EventData,
) -> Result<()> {
    let event = Event {
        event_id: Uuid::new_v4(),
        tenant_id: tx.tenant_id(),
        occurred_at: Utc::now(),
        data,
    };
    let subject = subjects.event(tx.tenant_id(), event.data.kind());
    let payload = serde_json::to_value(&event).map_err(|e| crate::Error::Internal(e.into()))?;
    push(tx, chat_id, &subject, &event.event_id.to_string(), &payload).await
}

/// The chat's unpublished entries, oldest first: what the transaction queued for it, after any earlier one
/// not published yet (its worker died between commit and publish), which must reach NATS first.
pub async fn unpublished_of_chat(tx: &mut TenantTx<'_>, chat_id: Uuid) -> Result<Vec<Entry>> {
    Ok(sqlx::query_as!(
        Entry,
        "select tenant_id, outbox_id, subject, msg_id, payload from outbox
         where tenant_id = $1 and chat_id = $2 and published_at is null
         order by outbox_id limit 100",
        tx.tenant_id(),
        chat_id,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Marks entries of any shops published, in one statement (the workers batch their marks).
pub async fn mark_published_batch(tx: &mut PlatformTx, entries: &[(Uuid, i64)]) -> Result<u64> {
    let (tenants, ids): (Vec<Uuid>, Vec<i64>) = entries.iter().copied().unzip();
    Ok(sqlx::query!(
        "update outbox set published_at = now()
         where (tenant_id, outbox_id) in (select * from unnest($1::uuid[], $2::bigint[]))
           and published_at is null",
        &tenants,
        &ids,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Unpublished entries of the transaction's tenant, oldest first. One publisher per shop at a time (a
/// per-shop advisory lock held until the transaction ends; the next one waits, then finds what is left):
/// with `skip locked` two publishers could each take a different entry and send a chat's second reply before
/// its first.
pub async fn claim_unpublished(tx: &mut TenantTx<'_>, limit: i64) -> Result<Vec<Entry>> {
    let tenant_id = tx.tenant_id();
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended($1::text, 13)) as locked",
        tenant_id.to_string(),
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(sqlx::query_as!(
        Entry,
        "select tenant_id, outbox_id, subject, msg_id, payload from outbox
         where tenant_id = $1 and published_at is null
         order by outbox_id limit $2",
        tenant_id,
        limit,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Deletes entries published more than `older_than` ago, at most `limit` of them (the caller repeats):
/// once published, JetStream holds them, and the dedup window they served is long past.
pub async fn prune_published(tx: &mut PlatformTx, older_than: Duration, limit: i64) -> Result<u64> {
    Ok(sqlx::query!(
        "delete from outbox where (tenant_id, outbox_id) in (
           select tenant_id, outbox_id from outbox
           where published_at < now() - make_interval(secs => $1) limit $2)",
        older_than.as_secs_f64(),
        limit,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

pub async fn mark_published(tx: &mut TenantTx<'_>, ids: &[i64]) -> Result<()> {
    sqlx::query!(
        "update outbox set published_at = now() where tenant_id = $1 and outbox_id = any($2)",
        tx.tenant_id(),
        ids,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Tenants with entries left unpublished for a while (a publisher died between commit and publish).
pub async fn tenants_with_backlog(
    tx: &mut PlatformTx,
    older_than_secs: f64,
) -> Result<Vec<uuid::Uuid>> {
    Ok(sqlx::query_scalar!(
        "select distinct tenant_id from outbox
         where published_at is null and created_at < now() - make_interval(secs => $1)",
        older_than_secs,
    )
    .fetch_all(&mut **tx)
    .await?)
}
