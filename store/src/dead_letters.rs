//! Messages the pipeline gave up on: kept with the reason, listed to the shop and the operator.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{Result, TenantTx};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    pub dead_letter_id: Uuid,
    pub subject: String,
    pub wa_message_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
    pub reason: String,
    pub deliveries: i32,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(
    tx: &mut TenantTx<'_>,
    subject: &str,
    wa_message_id: &str,
    payload: &Value,
    reason: &str,
    deliveries: i32,
) -> Result<Uuid> {
    Ok(sqlx::query_scalar(
        "insert into dead_letter (tenant_id, subject, wa_message_id, payload, reason, deliveries)
         values ($1, $2, $3, $4, $5, $6) returning dead_letter_id",
    )
    .bind(tx.tenant_id())
    .bind(subject)
    .bind(wa_message_id)
    .bind(payload)
    .bind(reason)
    .bind(deliveries)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn list(tx: &mut TenantTx<'_>, limit: i64, offset: i64) -> Result<Vec<DeadLetter>> {
    Ok(sqlx::query_as::<_, DeadLetter>(
        "select dead_letter_id, subject, wa_message_id, payload, reason, deliveries, created_at from dead_letter
         where tenant_id = $1 order by created_at desc limit $2 offset $3",
    )
    .bind(tx.tenant_id())
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut **tx)
    .await?)
}
