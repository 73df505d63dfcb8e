//! Periodic clean-up run by every API process (safe concurrently): expired browser sessions, stale password
//! reset links and old invitations (plain deletes of rows nothing reads any more), and bot orders nobody
//! confirmed in time — each cancelled in its shop's transaction, its stock put back, the shop's integrations
//! and the customer told (the same path as a cancellation by the shop). Payment links and refunds, which need
//! the providers, have their own pass (`order_pay::periodic`).

use schemas::commerce::OrderStatus;
use schemas::{EventData, Subjects};
use store::{Db, TenantCtx, orders, outbox};

/// Expired holds handled per pass; the rest wait for the next pass.
const EXPIRED_PER_PASS: i64 = 200;

/// One pass; failures are logged and retried at the next pass.
pub async fn run(db: &Db, nats: &async_nats::Client, subjects: &Subjects) {
    let now = chrono::Utc::now();
    let purged = async {
        let mut tx = db.platform().await?;
        let sessions = store::web_sessions::purge_expired(&mut tx).await?;
        let resets = store::password_resets::purge_stale(&mut tx).await?;
        let invitations = store::invitations::purge_stale(&mut tx).await?;
        let expired = orders::expired_holds(&mut tx, now, EXPIRED_PER_PASS).await?;
        tx.commit().await?;
        Ok::<_, store::Error>((sessions, resets, invitations, expired))
    }
    .await;
    let (sessions, resets, invitations, expired) = match purged {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error.message = %e, "housekeeping failed");
            return;
        }
    };
    if sessions + resets + invitations > 0 {
        tracing::debug!(sessions, resets, invitations, "stale rows purged");
    }
    let mut cancelled = 0u32;
    for (tenant_id, order_id) in expired {
        let ctx = TenantCtx::new(tenant_id);
        match cancel_expired(db, subjects, ctx, order_id, now).await {
            Ok(true) => {
                cancelled += 1;
                tdj_nats::publish_outbox(db, nats, ctx).await;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(%tenant_id, %order_id, error.message = %e, "cannot cancel an expired order");
            }
        }
    }
    if cancelled > 0 {
        tracing::info!(
            cancelled,
            "unconfirmed bot orders cancelled, stock put back"
        );
    }
}

/// Cancels one expired order in its shop's transaction, with its event and the customer's message.
async fn cancel_expired(
    db: &Db,
    subjects: &Subjects,
    ctx: TenantCtx,
    order_id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::Result<bool> {
    let mut tx = db.tenant(ctx).await?;
    let Some(order) = orders::expire_hold(&mut tx, order_id, now).await? else {
        return Ok(false);
    };
    outbox::push_event(
        &mut tx,
        subjects,
        order.chat_id,
        EventData::OrderStatusChanged {
            order_id,
            order_ref: order.order_ref.clone(),
            from: OrderStatus::New,
            to: OrderStatus::Cancelled,
        },
    )
    .await?;
    crate::order_notices::notify(&mut tx, subjects, &order, OrderStatus::Cancelled).await?;
    tx.commit().await?;
    Ok(true)
}
