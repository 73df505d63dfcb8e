//! Messages the pipeline gave up on: kept with the reason, listed to the shop and the operator, then replayed
//! (put back into the pipeline) or discarded — once.

use chrono::{DateTime, Utc};
use schemas::commerce::DeadLetterStatus;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{Result, TenantTx, audit};

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    pub dead_letter_id: Uuid,
    pub subject: String,
    pub wa_message_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
    pub reason: String,
    pub deliveries: i32,
    pub status: DeadLetterStatus,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A compile-checked query returning [`DeadLetter`]s: `$head`, the columns of `dead_letter`, then `$tail`.
macro_rules! dead_letter_row {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            DeadLetter,
            $head
                + r#"dead_letter_id, subject, wa_message_id, payload, reason, deliveries,
                     status as "status: DeadLetterStatus", resolved_at, created_at"#
                + $tail
            $(, $arg)*
        )
    };
}

pub async fn insert(
    tx: &mut TenantTx<'_>,
    subject: &str,
    wa_message_id: &str,
    payload: &Value,
    reason: &str,
    deliveries: i32,
) -> Result<Uuid> {
    Ok(sqlx::query_scalar!(
        "insert into dead_letter (tenant_id, subject, wa_message_id, payload, reason, deliveries)
         values ($1, $2, $3, $4, $5, $6) returning dead_letter_id",
        tx.tenant_id(),
        subject,
        wa_message_id,
        payload,
        reason,
        deliveries,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Every dead letter of the shop (open or resolved), newest first.
pub async fn list(tx: &mut TenantTx<'_>, limit: i64, offset: i64) -> Result<Vec<DeadLetter>> {
    let tenant_id = tx.tenant_id();
    Ok(dead_letter_row!(
        "select ",
        " from dead_letter where tenant_id = $1 order by created_at desc limit $2 offset $3",
        tenant_id,
        limit,
        offset,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// The shop's dead letters nobody has replayed or discarded yet, newest first.
pub async fn list_open(tx: &mut TenantTx<'_>, limit: i64) -> Result<Vec<DeadLetter>> {
    let tenant_id = tx.tenant_id();
    Ok(dead_letter_row!(
        "select ",
        " from dead_letter where tenant_id = $1 and status = 'open' order by created_at desc limit $2",
        tenant_id,
        limit,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// One dead letter of the shop, locked until the transaction ends (replay and discard run one at a time).
pub async fn lock(tx: &mut TenantTx<'_>, dead_letter_id: Uuid) -> Result<DeadLetter> {
    let tenant_id = tx.tenant_id();
    dead_letter_row!(
        "select ",
        " from dead_letter where tenant_id = $1 and dead_letter_id = $2 for update",
        tenant_id,
        dead_letter_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// How a dead letter was resolved, by whom and why (audited).
#[derive(Debug, Clone, Copy)]
pub struct Resolution<'a> {
    /// `Replayed` or `Discarded`.
    pub status: DeadLetterStatus,
    pub actor_user_id: Uuid,
    /// The operator's reason, or empty for the shop's owner.
    pub note: &'a str,
    pub now: DateTime<Utc>,
}

/// Resolves an open dead letter (locked by [`lock`]). For a replay, the customer's stored message, which the
/// pipeline settled as skipped when it gave up, is made pending again, so the next turn of its chat answers
/// it — once, whoever (a worker, the sweeper) gets there first.
pub async fn resolve(
    tx: &mut TenantTx<'_>,
    dead_letter: &DeadLetter,
    resolution: &Resolution<'_>,
) -> Result<()> {
    sqlx::query!(
        "update dead_letter set status = $3, resolved_at = $4, resolved_by = $5, resolution_note = $6
         where tenant_id = $1 and dead_letter_id = $2 and status = 'open'",
        tx.tenant_id(),
        dead_letter.dead_letter_id,
        resolution.status.as_str(),
        resolution.now,
        resolution.actor_user_id,
        resolution.note,
    )
    .execute(&mut **tx)
    .await?;
    if resolution.status == DeadLetterStatus::Replayed && !dead_letter.wa_message_id.is_empty() {
        sqlx::query!(
            "update message set status = 'pending', status_detail = ''
             where tenant_id = $1 and wa_message_id = $2 and direction = 'inbound' and status = 'skipped'",
            tx.tenant_id(),
            dead_letter.wa_message_id,
        )
        .execute(&mut **tx)
        .await?;
    }
    let mut detail = json!({
        "dead_letter_id": dead_letter.dead_letter_id,
        "wa_message_id": dead_letter.wa_message_id,
    });
    if !resolution.note.is_empty() {
        detail["reason"] = json!(resolution.note);
    }
    audit::record(
        tx,
        Some(resolution.actor_user_id),
        &format!("dead_letter.{}", resolution.status),
        detail,
    )
    .await?;
    Ok(())
}

/// The stored messages with this WhatsApp id still waiting for an answer: when the pipeline gives up on an
/// inbound message, it settles them as skipped so the shop sees why they were not answered.
pub async fn pending_message_ids(tx: &mut TenantTx<'_>, wa_message_id: &str) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        "select message_id from message where tenant_id = $1 and wa_message_id = $2 and status = 'pending'",
        tx.tenant_id(),
        wa_message_id,
    )
    .fetch_all(&mut **tx)
    .await?)
}
