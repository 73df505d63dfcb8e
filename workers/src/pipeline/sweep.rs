//! The safety net: chats whose pending messages nobody is answering (a worker died, a claim was lost, a shop
//! was throttled) are picked up again, and outbox entries left unpublished are published.

use std::time::Duration;

use store::TenantCtx;
use tokio_util::sync::CancellationToken;

use super::Pipeline;

impl Pipeline {
    /// Sweeps every `sweep_secs` until `shutdown`.
    pub(super) async fn sweep_forever(self, shutdown: CancellationToken) {
        let mut tick =
            tokio::time::interval(Duration::from_secs(self.inner.config.sweep_secs.max(1)));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            self.sweep_once().await;
        }
    }

    /// One sweep: publishes outbox backlogs, then answers stranded chats (within each shop's turn rate).
    /// Exposed for tests.
    pub async fn sweep_once(&self) {
        let inner = &self.inner;
        let found = async {
            let mut tx = inner.db.platform().await?;
            let stranded = store::chats::stranded(
                &mut tx,
                Duration::from_secs(inner.config.stranded_after_secs),
                50,
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
        for (tenant_id, chat_id) in stranded {
            if !self.admit_turn(tenant_id) {
                continue;
            }
            metrics::counter!("pipeline_swept_chats_total").increment(1);
            if let Err(e) = self.answer_chat(TenantCtx::new(tenant_id), chat_id).await {
                tracing::warn!(%tenant_id, %chat_id, error = ?e, "sweeper could not answer a stranded chat");
            }
        }
    }
}
