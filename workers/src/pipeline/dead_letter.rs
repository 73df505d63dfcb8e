//! Dead letters: a message the pipeline gives up on is kept with the reason (for the shop and the operator to
//! replay or discard), its stored copy is marked skipped with that reason, and a `message.dead_lettered`
//! event is published.

use schemas::EventData;
use schemas::commerce::MessageStatus;
use store::{TenantCtx, messages};

use super::{Pipeline, ingest};

impl Pipeline {
    /// Records the `delivered`-th delivery of `payload` on `subject` as a dead letter. Never fails: a message
    /// whose tenant cannot be read, or a database error, is logged instead.
    pub(super) async fn record_dead_letter(
        &self,
        subject: &str,
        payload: &[u8],
        reason: &str,
        delivered: i64,
    ) {
        metrics::counter!("pipeline_dead_letters_total").increment(1);
        let Some(tenant_id) = ingest::tenant_of(&self.inner.subjects, subject) else {
            tracing::error!(%subject, %reason, "dead letter without a tenant: dropped after logging");
            return;
        };
        let payload: serde_json::Value = serde_json::from_slice(payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(payload).into_owned())
        });
        let wa_message_id = payload["wa_message_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let ctx = TenantCtx::new(tenant_id);
        let result: Result<(), store::Error> = async {
            let mut tx = self.inner.db.tenant(ctx).await?;
            let deliveries = i32::try_from(delivered).unwrap_or(i32::MAX);
            store::dead_letters::insert(
                &mut tx,
                subject,
                &wa_message_id,
                &payload,
                reason,
                deliveries,
            )
            .await?;
            if !wa_message_id.is_empty() {
                let ids = store::dead_letters::pending_message_ids(&mut tx, &wa_message_id).await?;
                messages::settle(
                    &mut tx,
                    &ids,
                    MessageStatus::Skipped,
                    &format!("Non traité : {reason}"),
                )
                .await?;
            }
            self.queue_event(
                &mut tx,
                EventData::MessageDeadLettered {
                    wa_message_id,
                    reason: reason.to_owned(),
                },
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                tracing::warn!(%tenant_id, %reason, "message dead-lettered");
                self.publish_outbox(ctx).await;
            }
            Err(e) => {
                tracing::error!(%tenant_id, %reason, error = %e, "could not record a dead letter")
            }
        }
    }
}
