//! Publishing the outbox to JetStream after commit, with each entry's id as `Nats-Msg-Id` so a re-publish
//! (after a crash between publish and mark) is dropped by the stream's dedup window.

use async_nats::HeaderMap;
use chrono::Utc;
use schemas::{Event, EventData, Subjects};
use store::{Db, TenantCtx, TenantTx, outbox};
use uuid::Uuid;

const BATCH: i64 = 100;

/// Writes a domain event to the outbox of the transaction's tenant.
pub(crate) async fn push_event(tx: &mut TenantTx<'_>, subjects: &Subjects, data: EventData) -> store::Result<()> {
    let event = Event { event_id: Uuid::new_v4(), tenant_id: tx.tenant_id(), occurred_at: Utc::now(), data };
    let subject = subjects.event(tx.tenant_id(), event.data.kind());
    let payload = serde_json::to_value(&event).map_err(|e| store::Error::Internal(e.into()))?;
    outbox::push(tx, &subject, &event.event_id.to_string(), &payload).await
}

/// Publishes the tenant's unpublished outbox entries. Failures are logged: the entries stay and the sweeper
/// retries them.
pub async fn publish_outbox(db: &Db, nats: &async_nats::Client, ctx: TenantCtx) {
    if let Err(e) = try_publish(db, nats, ctx).await {
        tracing::warn!(tenant_id = %ctx.tenant_id, error = %e, "outbox publish failed; will retry");
    }
}

async fn try_publish(db: &Db, nats: &async_nats::Client, ctx: TenantCtx) -> anyhow::Result<()> {
    let js = async_nats::jetstream::new(nats.clone());
    loop {
        let mut tx = db.tenant(ctx).await?;
        let entries = outbox::claim_unpublished(&mut tx, BATCH).await?;
        if entries.is_empty() {
            return Ok(());
        }
        let mut published = Vec::with_capacity(entries.len());
        for entry in &entries {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", entry.msg_id.as_str());
            let payload = serde_json::to_vec(&entry.payload)?;
            let ack = js.publish_with_headers(entry.subject.clone(), headers, payload.into()).await;
            match ack {
                Ok(future) => match future.await {
                    Ok(_) => published.push(entry.outbox_id),
                    Err(e) => {
                        tracing::warn!(error = %e, subject = %entry.subject, "no JetStream ack for an outbox entry");
                        break;
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, subject = %entry.subject, "outbox publish failed");
                    break;
                }
            }
        }
        outbox::mark_published(&mut tx, &published).await?;
        tx.commit().await?;
        if published.len() < entries.len() || entries.len() < BATCH as usize {
            return Ok(());
        }
    }
}
