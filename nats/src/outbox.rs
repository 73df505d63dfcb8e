//! Publishing the transactional outbox to JetStream after commit, with each entry's id as `Nats-Msg-Id`, so
//! a re-publish (after a crash between publish and mark) is dropped by the stream's dedup window.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::Context;
use store::{Db, TenantCtx, outbox};
use tokio::sync::mpsc;
use uuid::Uuid;

const BATCH: i64 = 100;

/// Publishes the tenant's unpublished outbox entries. Failures are logged: the entries stay and the sweeper
/// retries them.
pub async fn publish_outbox(db: &Db, nats: &async_nats::Client, ctx: TenantCtx) {
    if let Err(e) = try_publish(db, nats, ctx).await {
        tracing::warn!(tenant_id = %ctx.tenant_id, error = %e, "outbox publish failed; will retry");
    }
}

/// Publishes entries a transaction just committed (see `store::outbox::unpublished_of_chat`), in order, and
/// hands the published ones to `marks`. Stops at the first failure, so a later entry never overtakes an earlier
/// one; what is left is published by the sweeper.
pub async fn publish_entries(
    nats: &async_nats::Client,
    marks: &PublishedMarks,
    entries: Vec<outbox::Entry>,
) {
    if entries.is_empty() {
        return;
    }
    let js = async_nats::jetstream::new(nats.clone());
    let mut published = Vec::with_capacity(entries.len());
    for entry in &entries {
        if let Err(e) = publish_one(&js, entry).await {
            tracing::warn!(error = %e, subject = %entry.subject, "outbox publish failed; the sweeper retries it");
            break;
        }
        published.push((entry.tenant_id, entry.outbox_id));
    }
    marks.record(published);
}

async fn publish_one(
    js: &Context,
    entry: &outbox::Entry,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", entry.msg_id.as_str());
    // Published right after the turn's commit, inside its message span: the reply continues that trace.
    crate::trace::inject_current(&mut headers);
    let payload = serde_json::to_vec(&entry.payload)?;
    js.publish_with_headers(entry.subject.clone(), headers, payload.into())
        .await?
        .await?;
    Ok(())
}

/// How long published entries wait to be marked together, at most.
const MARK_EVERY: Duration = Duration::from_millis(20);
/// Entries marked in one statement, at most.
const MARK_BATCH: usize = 1000;

/// Marks published outbox entries in batches: one statement for every entry published in the last few
/// milliseconds by this process, instead of a transaction per publish. A mark lost to a crash or an outage
/// only means a republish by the sweeper, which JetStream's dedup drops.
#[derive(Clone)]
pub struct PublishedMarks {
    db: Db,
    /// The marking task, started on first use (from within the runtime).
    sender: Arc<OnceLock<mpsc::UnboundedSender<(Uuid, i64)>>>,
}

impl PublishedMarks {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            sender: Arc::new(OnceLock::new()),
        }
    }

    /// Queues entries (tenant, outbox id) to be marked published.
    pub fn record(&self, published: Vec<(Uuid, i64)>) {
        if published.is_empty() {
            return;
        }
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(mark_batches(self.db.clone(), receiver));
            sender
        });
        for entry in published {
            // The task ends only once every sender is gone: a send cannot fail while `self` lives.
            let _ = sender.send(entry);
        }
    }
}

async fn mark_batches(db: Db, mut receiver: mpsc::UnboundedReceiver<(Uuid, i64)>) {
    let mut batch = Vec::with_capacity(MARK_BATCH);
    while let Some(first) = receiver.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + MARK_EVERY;
        while batch.len() < MARK_BATCH {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(entry)) => batch.push(entry),
                Ok(None) | Err(_) => break,
            }
        }
        let marked = async {
            let mut tx = db.platform().await?;
            outbox::mark_published_batch(&mut tx, &batch).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = marked {
            tracing::warn!(error = %e, entries = batch.len(), "could not mark outbox entries published; the sweeper republishes them (deduplicated)");
        }
        metrics::counter!("outbox_marked_total").increment(batch.len() as u64);
        batch.clear();
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
