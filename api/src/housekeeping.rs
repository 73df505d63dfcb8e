//! Periodic clean-up run by every API process (safe concurrently): expired browser sessions, stale password
//! reset links and old invitations (plain deletes of rows nothing reads any more), and bot orders nobody
//! confirmed in time — each cancelled in its shop's transaction, its stock put back, the shop's integrations
//! and the customer told (the same path as a cancellation by the shop); and unpaid payment links past their
//! validity, expired (with their unconfirmed order, for shops that want it).

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
    expire_payment_links(db, nats, subjects, now).await;
}

/// Unpaid payment links past their validity expire (the customer asks the bot for a new one); for shops that
/// want it, an unconfirmed order left with no open link is cancelled and its stock sold again.
async fn expire_payment_links(
    db: &Db,
    nats: &async_nats::Client,
    subjects: &Subjects,
    now: chrono::DateTime<chrono::Utc>,
) {
    let due = async {
        let mut tx = db.platform().await?;
        let due = store::order_payments::expired_links(&mut tx, now, EXPIRED_PER_PASS).await?;
        tx.commit().await?;
        Ok::<_, store::Error>(due)
    }
    .await;
    let due = match due {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error.message = %e, "payment link expiry failed");
            return;
        }
    };
    for (tenant_id, payment_id) in due {
        let ctx = TenantCtx::new(tenant_id);
        match expire_link(db, subjects, ctx, payment_id, now).await {
            Ok(true) => tdj_nats::publish_outbox(db, nats, ctx).await,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(%tenant_id, %payment_id, error.message = %e, "cannot expire a payment link");
            }
        }
    }
}

/// Expires one link; `true` when its order was cancelled too (with its event and the customer's message).
async fn expire_link(
    db: &Db,
    subjects: &Subjects,
    ctx: TenantCtx,
    payment_id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::Result<bool> {
    use store::order_payments;
    let mut tx = db.tenant(ctx).await?;
    let Some(expired) = order_payments::expire(&mut tx, payment_id, now).await? else {
        return Ok(false);
    };
    let release = store::shop_payments::settings(&mut tx)
        .await?
        .release_on_link_expiry;
    let order = orders::get(&mut tx, expired.order_id).await?;
    let still_open = order_payments::of_order(&mut tx, order.order_id)
        .await?
        .iter()
        .any(|p| p.status == schemas::billing::OrderPaymentStatus::Pending && p.expires_at > now);
    if !release || order.status != OrderStatus::New || order.paid_at.is_some() || still_open {
        tx.commit().await?;
        return Ok(false);
    }
    let (order, from) = orders::set_status(&mut tx, order.order_id, OrderStatus::Cancelled).await?;
    outbox::push_event(
        &mut tx,
        subjects,
        order.chat_id,
        EventData::OrderStatusChanged {
            order_id: order.order_id,
            order_ref: order.order_ref.clone(),
            from,
            to: OrderStatus::Cancelled,
        },
    )
    .await?;
    crate::order_notices::notify(&mut tx, subjects, &order, OrderStatus::Cancelled).await?;
    tx.commit().await?;
    Ok(true)
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
