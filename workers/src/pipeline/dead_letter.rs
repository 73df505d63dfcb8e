//! Dead letters: a message the pipeline gives up on is kept with the reason (for the shop and the operator to
//! replay or discard), its stored copy is marked skipped with that reason, and a `message.dead_lettered`
//! event is published. Giving up is durable or it does not happen: the message is acked only once its dead
//! letter is committed.

use schemas::EventData;
use schemas::commerce::MessageStatus;
use serde_json::Value;
use store::{TenantCtx, TenantTx, messages};

use super::{Pipeline, ingest};

impl Pipeline {
    /// Records the `delivered`-th delivery of `payload` on `subject` as a dead letter. A subject without a
    /// tenant cannot be stored anywhere: it is logged and counted as recorded.
    pub(super) async fn record_dead_letter(
        &self,
        subject: &str,
        payload: &[u8],
        reason: &str,
        delivered: i64,
    ) -> store::Result<()> {
        let Some(tenant_id) = ingest::tenant_of(&self.inner.subjects, subject) else {
            tracing::error!(%subject, %reason, "dead letter without a tenant: dropped after logging");
            metrics::counter!("pipeline_dead_letters_total", "reason" => "invalid").increment(1);
            return Ok(());
        };
        let raw = String::from_utf8_lossy(payload).into_owned();
        let parsed: Value =
            serde_json::from_slice(payload).unwrap_or_else(|_| Value::String(raw.clone()));
        let ctx = TenantCtx::new(tenant_id);
        let deliveries = i32::try_from(delivered).unwrap_or(i32::MAX);
        let stored = self
            .try_dead_letter(ctx, subject, &parsed, reason, deliveries)
            .await;
        match stored {
            Err(e) if !e.is_unavailable() => {
                // The payload itself is refused (a NUL byte in JSON, say): keep what can be kept.
                tracing::warn!(error = %e, "dead letter refused; storing its payload as sanitised text");
                let sanitised = Value::String(raw.replace('\0', ""));
                if let Err(e) = self
                    .try_dead_letter(ctx, subject, &sanitised, reason, deliveries)
                    .await
                {
                    if e.is_unavailable() {
                        return Err(e);
                    }
                    // Nothing of it can be stored (the shop was deleted meanwhile, say).
                    tracing::error!(%tenant_id, %reason, error = %e, "dead letter cannot be stored: dropped after logging");
                    return Ok(());
                }
            }
            other => other?,
        }
        tracing::warn!(%tenant_id, %reason, "message dead-lettered");
        self.publish_outbox(ctx).await;
        Ok(())
    }

    async fn try_dead_letter(
        &self,
        ctx: TenantCtx,
        subject: &str,
        payload: &Value,
        reason: &str,
        deliveries: i32,
    ) -> store::Result<()> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        self.store_dead_letter(&mut tx, subject, payload, reason, deliveries)
            .await?;
        tx.commit().await
    }

    /// Writes one dead letter in `tx`: the row, the stored message settled as skipped with the reason, and
    /// the `message.dead_lettered` event.
    pub(super) async fn store_dead_letter(
        &self,
        tx: &mut TenantTx<'_>,
        subject: &str,
        payload: &Value,
        reason: &str,
        attempts: i32,
    ) -> store::Result<()> {
        // Given up at once (unreadable, or retrying cannot help) or after every retry failed.
        let why = if attempts <= 1 {
            "invalid"
        } else {
            "exhausted"
        };
        metrics::counter!("pipeline_dead_letters_total", "reason" => why).increment(1);
        let wa_message_id = payload["wa_message_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        store::dead_letters::insert(tx, subject, &wa_message_id, payload, reason, attempts).await?;
        if !wa_message_id.is_empty() {
            let ids = store::dead_letters::pending_message_ids(tx, &wa_message_id).await?;
            messages::settle(
                tx,
                &ids,
                MessageStatus::Skipped,
                &format!("Non traité : {reason}"),
            )
            .await?;
        }
        self.queue_event(
            tx,
            None,
            EventData::MessageDeadLettered {
                wa_message_id,
                reason: reason.to_owned(),
            },
        )
        .await
    }
}
