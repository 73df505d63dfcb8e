//! Unpaid payment links past their validity expire (the customer asks the bot for a new one); for shops that
//! want it, an unconfirmed order left with no open link is cancelled and its stock sold again.
//!
//! A link whose checkout the customer opened is not expired on our clock alone: the provider is asked first
//! ([`super::check::Asker`]), since Orange Money never repeats a lost notification. Paid there, it is settled
//! instead; the provider unreachable, the expiry waits for a later pass (for at most [`UNSURE_FOR`], after
//! which a late confirmation still settles the link and a cancelled order is refunded). An expired link's Wave
//! session is expired at Wave too, so it can no longer be paid.

use chrono::{DateTime, Utc};
use schemas::EventData;
use schemas::billing::Provider;
use schemas::commerce::OrderStatus;
use store::order_payments::{self, OrderPayment};
use store::{TenantCtx, orders, outbox};
use uuid::Uuid;

use super::check::{Asker, LinkState};
use crate::{AppState, Result};

/// Links handled per pass; the rest wait for the next pass.
const PER_PASS: i64 = 200;

/// How long past its expiry a link waits for a provider that cannot be asked.
const UNSURE_FOR: chrono::Duration = chrono::Duration::hours(1);

/// One pass; failures are logged and retried at the next pass.
pub async fn run(state: &AppState) {
    let now = Utc::now();
    let due = async {
        let mut tx = state.db.platform().await?;
        let due = order_payments::expired_links(&mut tx, now, PER_PASS).await?;
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
        if let Err(e) = expire_one(state, ctx, payment_id, now).await {
            tracing::warn!(%tenant_id, %payment_id, error.cause_chain = ?e, error.message = %e,
                "cannot expire a payment link");
        }
    }
}

/// Asks the provider about an opened checkout, then expires the link if it is still unpaid.
async fn expire_one(
    state: &AppState,
    ctx: TenantCtx,
    payment_id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    let link = {
        let mut tx = state.db.tenant(ctx).await?;
        let link = order_payments::lock(&mut tx, payment_id).await?;
        tx.commit().await?;
        link
    };
    let mut asker = Asker::new(state, ctx);
    if link.provider_ref.is_some() {
        match asker.ask(&link).await? {
            LinkState::Paid => return Ok(()),
            LinkState::Unknown if now - link.expires_at < UNSURE_FOR => {
                tracing::info!(%payment_id, "payment link past its expiry: the provider will be asked again");
                return Ok(());
            }
            LinkState::Pending | LinkState::Closed | LinkState::Unknown => {}
        }
    }
    let Some(expired) = expire_link(state, ctx, payment_id, now).await? else {
        return Ok(());
    };
    if expired.provider == Provider::Wave
        && let Some(session_id) = expired.provider_ref.as_deref()
        && let Some(wave) = asker.wave().await?
        && let Err(e) = wave.expire(session_id).await
    {
        // Best effort: paid meanwhile, Wave's webhook still settles it (and a cancelled order is refunded).
        tracing::info!(%payment_id, error.message = %e, "Wave session not expired");
    }
    Ok(())
}

/// Expires one link, and for shops that want it cancels its unconfirmed order left with no open link (with
/// its event and the customer's message). The expired link, when it expired.
async fn expire_link(
    state: &AppState,
    ctx: TenantCtx,
    payment_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<OrderPayment>> {
    let subjects = &state.subjects;
    let mut tx = state.db.tenant(ctx).await?;
    let Some(expired) = order_payments::expire(&mut tx, payment_id, now).await? else {
        return Ok(None);
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
        return Ok(Some(expired));
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
    tdj_nats::publish_outbox(&state.db, &state.nats, ctx).await;
    Ok(Some(expired))
}
