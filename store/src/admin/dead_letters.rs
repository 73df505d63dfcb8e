//! Dead letters across shops. Replaying or discarding one happens in its shop's own transaction
//! ([`crate::dead_letters`]); this module lists them and finds which shop one belongs to.

use chrono::{DateTime, Utc};
use schemas::commerce::DeadLetterStatus;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{PlatformTx, Result};

/// A dead letter as the operator sees it, with its shop.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminDeadLetter {
    pub dead_letter_id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub subject: String,
    pub wa_message_id: String,
    /// The message as it was delivered (the original `InboundMessage`, or the raw text if unreadable).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
    pub reason: String,
    pub deliveries: i32,
    pub status: DeadLetterStatus,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolution_note: String,
    pub created_at: DateTime<Utc>,
}

/// What the operator's list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    /// `None` for all.
    pub status: Option<DeadLetterStatus>,
    pub tenant_id: Option<Uuid>,
}

/// Dead letters matching `filter`, newest first.
pub async fn list_dead_letters(
    tx: &mut PlatformTx,
    filter: &DeadLetterFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<AdminDeadLetter>> {
    Ok(sqlx::query_as!(
        AdminDeadLetter,
        r#"select d.dead_letter_id, d.tenant_id, t.name as tenant_name, d.subject, d.wa_message_id,
                  d.payload, d.reason, d.deliveries, d.status as "status: DeadLetterStatus", d.resolved_at,
                  d.resolved_by, d.resolution_note, d.created_at
           from dead_letter d join tenant t on t.tenant_id = d.tenant_id
           where ($1::text is null or d.status = $1) and ($2::uuid is null or d.tenant_id = $2)
           order by d.created_at desc, d.dead_letter_id limit $3 offset $4"#,
        filter.status as _,
        filter.tenant_id,
        limit,
        offset,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// The shop a dead letter belongs to.
pub async fn dead_letter_tenant(tx: &mut PlatformTx, dead_letter_id: Uuid) -> Result<Uuid> {
    sqlx::query_scalar!(
        "select tenant_id from dead_letter where dead_letter_id = $1",
        dead_letter_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// How many dead letters, across shops, nobody has replayed or discarded yet.
pub async fn count_open_dead_letters(tx: &mut PlatformTx) -> Result<i64> {
    Ok(
        sqlx::query_scalar!(
            r#"select count(*) as "count!" from dead_letter where status = 'open'"#
        )
        .fetch_one(&mut **tx)
        .await?,
    )
}
