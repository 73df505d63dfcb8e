//! The WhatsApp connection status of a tenant, as the ingress last recorded it (read side for the api).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Result, TenantTx};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaConnection {
    /// `disconnected`, `waiting_for_scan`, `connecting`, `connected`, `logged_out` or `banned`.
    pub status: String,
    /// The linked number, once connected.
    pub phone_number: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The tenant's connection; `disconnected` when it never linked a number.
pub async fn get(tx: &mut TenantTx<'_>) -> Result<WaConnection> {
    let row = sqlx::query_as::<_, WaConnection>(
        "select status, phone_number, last_seen_at, updated_at from whatsapp_session where tenant_id = $1",
    )
    .bind(tx.tenant_id())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.unwrap_or(WaConnection {
        status: "disconnected".into(),
        phone_number: None,
        last_seen_at: None,
        updated_at: None,
    }))
}
