//! Publishing the transactional outbox to JetStream after commit, with each entry's id as `Nats-Msg-Id`, so
//! a re-publish (after a crash between publish and mark) is dropped by the stream's dedup window.

use async_nats::HeaderMap;
use store::{Db, TenantCtx, outbox};

const BATCH: i64 = 100;

/// Publishes the tenant's unpublished outbox entries. Failures are logged: the entries stay and the sweeper
/// retries them.
pub async fn publish_outbox(db: &Db, nats: &async_nats::Client, ctx: TenantCtx) {
    if let Err(e) = try_publish(db, nats, ctx).await {
        tracing::warn!(tenant_id = %ctx.tenant_id, error = %e, "outbox publish failed; will retry");
    }
}

async fn try_publish(
    db: &Db,
    nats: &async_nats::Client,
    ctx: TenantCtx,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
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
            let ack = js
                .publish_with_headers(entry.subject.clone(), headers, payload.into())
                .await;
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
