//! The safety net: chats whose pending messages nobody is answering (a worker died, a turn failed and its
//! backoff passed, a shop was at its turn cap) are picked up again, outbox entries left unpublished are
//! published, and published ones are pruned; the shops' usage deltas are folded into their monthly rows, and
//! customer media past their retention lose their bytes.

use std::sync::Arc;
use std::time::Duration;

use store::TenantCtx;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Pipeline;
use super::claim::Start;

/// Chats taken per sweep: the oldest waiting one of each shop first, then each shop's next (see
/// `store::chats::stranded`).
const SWEEP_CHATS: i64 = 200;
/// Published outbox entries are kept this long (for diagnosis), then deleted.
const OUTBOX_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// Outbox rows deleted per sweep at most, so one sweep stays short after a long pause.
const PRUNE_BATCH: i64 = 5_000;
/// Usage deltas folded per sweep at most (the rest at the next one; readers count them either way).
const FOLD_BATCH: i64 = 20_000;
/// Customer media expired per sweep at most.
const EXPIRE_BATCH: i64 = 1_000;

impl Pipeline {
    /// Sweeps every `sweep_secs` until `shutdown`, its turns taking the same slots as the consumer's, so a
    /// worker never runs more turns at once than its concurrency.
    pub(super) async fn sweep_forever(self, slots: Arc<Semaphore>, shutdown: CancellationToken) {
        let mut tick =
            tokio::time::interval(Duration::from_secs(self.inner.config.sweep_secs.max(1)));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.sweep(&slots) => {}
            }
        }
    }

    /// One sweep, on slots of its own: for tests.
    pub async fn sweep_once(&self) {
        let slots = Arc::new(Semaphore::new(self.inner.config.concurrency.max(1)));
        self.sweep(&slots).await;
    }

    /// One sweep: publishes outbox backlogs, answers stranded chats (several at once, as slots allow; each
    /// still within its shop's turn cap and past its backoff), prunes the outbox.
    async fn sweep(&self, slots: &Arc<Semaphore>) {
        let inner = &self.inner;
        let found = async {
            let mut tx = inner.db.platform().await?;
            let stranded = store::chats::stranded(
                &mut tx,
                Duration::from_secs(inner.config.stranded_after_secs),
                SWEEP_CHATS,
            )
            .await?;
            let backlog = store::outbox::tenants_with_backlog(&mut tx, 2.0).await?;
            tx.commit().await?;
            Ok::<_, store::Error>((stranded, backlog))
        }
        .await;
        let (stranded, backlog) = match found {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "sweep query failed");
                return;
            }
        };
        for tenant_id in backlog {
            self.publish_outbox(TenantCtx::new(tenant_id)).await;
        }
        let mut turns = JoinSet::new();
        for (tenant_id, chat_id) in stranded {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let pipeline = self.clone();
            turns.spawn(async move {
                metrics::counter!("pipeline_swept_chats_total").increment(1);
                if let Err(e) = pipeline
                    .answer_chat(TenantCtx::new(tenant_id), chat_id, Start::ToClaim)
                    .await
                {
                    tracing::warn!(%tenant_id, %chat_id, error = ?e, "sweeper could not answer a stranded chat");
                }
                drop(slot);
            });
        }
        while turns.join_next().await.is_some() {}
        self.prune_outbox().await;
        self.fold_usage().await;
        self.expire_media().await;
    }

    /// Drops the bytes of customer media past their retention (the row stays, so the conversation says a
    /// voice note or photo was there and shows its transcript).
    async fn expire_media(&self) {
        let expired = async {
            let mut tx = self.inner.db.platform().await?;
            let expired = store::media::expire(&mut tx, chrono::Utc::now(), EXPIRE_BATCH).await?;
            tx.commit().await?;
            Ok::<_, store::Error>(expired)
        }
        .await;
        match expired {
            Ok(0) => {}
            Ok(expired) => tracing::debug!(expired, "expired customer media"),
            Err(e) => tracing::warn!(error = %e, "expiring customer media failed"),
        }
    }

    async fn fold_usage(&self) {
        let folded = async {
            let mut tx = self.inner.db.platform().await?;
            let folded = store::billing::fold_usage(&mut tx, FOLD_BATCH).await?;
            tx.commit().await?;
            Ok::<_, store::Error>(folded)
        }
        .await;
        match folded {
            Ok(0) => {}
            Ok(folded) => tracing::debug!(folded, "folded usage deltas"),
            Err(e) => tracing::warn!(error = %e, "folding usage deltas failed"),
        }
    }

    async fn prune_outbox(&self) {
        let pruned = async {
            let mut tx = self.inner.db.platform().await?;
            let pruned =
                store::outbox::prune_published(&mut tx, OUTBOX_RETENTION, PRUNE_BATCH).await?;
            tx.commit().await?;
            Ok::<_, store::Error>(pruned)
        }
        .await;
        match pruned {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "pruned published outbox entries"),
            Err(e) => tracing::warn!(error = %e, "outbox pruning failed"),
        }
    }
}
