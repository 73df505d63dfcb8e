//! The `whatsapp_session` row of each tenant: the connection status the dashboard shows and the ingress reads
//! to know which tenants want a connection. Only the ingress node holding a tenant's lease writes it.

use chrono::{DateTime, Utc};
use schemas::commerce::MessageStatus;
use schemas::whatsapp::WaStatus;
use serde::Serialize;
use uuid::Uuid;

use crate::{PlatformTx, Result, TenantTx};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatsappSession {
    pub tenant_id: Uuid,
    pub status: WaStatus,
    /// Why the session is in this state, in French, for the shop.
    pub status_detail: String,
    /// The linked number; `None` until linked and again after a logout.
    pub phone_number: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// States in which a tenant wants a live connection: an ingress node must hold its lease.
pub const WANTING: [WaStatus; 3] = [
    WaStatus::Connecting,
    WaStatus::Connected,
    WaStatus::WaitingForScan,
];

pub async fn get(tx: &mut TenantTx<'_>) -> Result<Option<WhatsappSession>> {
    Ok(sqlx::query_as!(
        WhatsappSession,
        r#"select tenant_id, status as "status: WaStatus", status_detail, phone_number, last_seen_at,
                  updated_at
           from whatsapp_session where tenant_id = $1"#,
        tx.tenant_id(),
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Records a state; `connected` also refreshes `last_seen_at`. The phone number is kept unless given.
pub async fn set_status(
    tx: &mut TenantTx<'_>,
    status: WaStatus,
    detail: &str,
    phone_number: Option<&str>,
) -> Result<()> {
    sqlx::query!(
        "insert into whatsapp_session (tenant_id, status, status_detail, phone_number, last_seen_at)
         values ($1, $2, $3, $4, case when $2 = 'connected' then now() end)
         on conflict (tenant_id) do update
           set status = excluded.status,
               status_detail = excluded.status_detail,
               phone_number = coalesce(excluded.phone_number, whatsapp_session.phone_number),
               last_seen_at = coalesce(excluded.last_seen_at, whatsapp_session.last_seen_at),
               updated_at = now()",
        tx.tenant_id(),
        status as _,
        detail,
        phone_number,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The number was unlinked: `logged_out`, and the number forgotten (a new link may be another number).
pub async fn set_logged_out(tx: &mut TenantTx<'_>, detail: &str) -> Result<()> {
    sqlx::query!(
        "insert into whatsapp_session (tenant_id, status, status_detail) values ($1, 'logged_out', $2)
         on conflict (tenant_id) do update
           set status = 'logged_out', status_detail = excluded.status_detail, phone_number = null,
               updated_at = now()",
        tx.tenant_id(),
        detail,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every tenant that wants a live connection (see [`WANTING`]), across tenants.
pub async fn wanting(tx: &mut PlatformTx) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        "select tenant_id from whatsapp_session where status = any($1) order by tenant_id",
        &WANTING.map(WaStatus::as_str)[..] as &[&str],
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// The delivery status of an outbound message (`queued`, `sent`, `failed`), by its outbound id: the ingress
/// skips a reply already sent (a redelivery after a crash or a lease hand-over).
pub async fn outbound_status(
    tx: &mut TenantTx<'_>,
    outbound_id: &str,
) -> Result<Option<MessageStatus>> {
    Ok(sqlx::query_scalar!(
        r#"select status as "status: MessageStatus" from message
           where tenant_id = $1 and wa_message_id = $2 and direction = 'outbound'"#,
        tx.tenant_id(),
        outbound_id,
    )
    .fetch_optional(&mut **tx)
    .await?)
}
