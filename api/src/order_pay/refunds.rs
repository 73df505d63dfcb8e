//! Refunds of cancelled orders the customer paid in the chat with Wave: the platform asks Wave to refund the
//! paid checkout session with the shop's own key (`POST /v1/checkout/sessions/:id/refund`, idempotent), right
//! after the shop cancels and from every API process's periodic pass ([`run`]) for the other ways an order is
//! cancelled or paid late. Wave unreachable: retried with backoff, [`MAX_ATTEMPTS`] times. Wave refusing (its
//! error code kept), or no Wave account any more: left to the shop, who refunds by hand and marks it done. An
//! Orange Money or sandbox payment has no refund API: always the shop's.
//!
//! One attempt holds the order's row lock during the (time-limited) call, so two processes never ask at once;
//! Wave's idempotency covers an answer lost after the refund was made.

use chrono::{DateTime, Utc};
use schemas::commerce::Author;
use store::order_payments::{self, AutomaticRefund};
use store::{TenantCtx, TenantTx, audit, chats, orders};
use uuid::Uuid;

use super::francs;
use crate::billing::providers::wave::RefundError;
use crate::conversations::{ToCustomer, send_to_customer};
use crate::{AppState, Result};

/// Refunds attempted per pass; the rest wait for the next pass.
const PER_PASS: i64 = 50;

/// Attempts while Wave cannot be reached (over about an hour and a half), then the refund is the shop's.
pub const MAX_ATTEMPTS: i32 = 8;

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Refunded,
    /// Wave refused (its error code), or the shop has no Wave account: the shop refunds by hand.
    LeftToShop(String),
    /// Wave could not be reached: asked again then.
    Retry(DateTime<Utc>),
    /// No automatic refund is due now (none owed, done, left to the shop, or not yet time to retry).
    NotDue,
}

/// 1, 2, 4 … minutes after the `attempts`-th failure.
fn retry_delay(attempts: i32) -> chrono::Duration {
    let exponent = u32::try_from(attempts.clamp(0, 6)).unwrap_or(6);
    chrono::Duration::minutes(2i64.pow(exponent))
}

/// One pass over the refunds due in every shop.
pub async fn run(state: &AppState) {
    let now = Utc::now();
    let due = async {
        let mut tx = state.db.platform().await?;
        let due = order_payments::refunds_due(&mut tx, now, PER_PASS).await?;
        tx.commit().await?;
        Ok::<_, store::Error>(due)
    }
    .await;
    let due = match due {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error.message = %e, "refund pass failed");
            return;
        }
    };
    for (tenant_id, order_id) in due {
        if let Err(e) = attempt(state, TenantCtx::new(tenant_id), order_id).await {
            tracing::warn!(%tenant_id, %order_id, error.cause_chain = ?e, error.message = %e,
                "refund attempt failed");
        }
    }
}

/// Asks Wave to refund order `order_id` of shop `ctx` if an automatic refund is due now.
pub async fn attempt(state: &AppState, ctx: TenantCtx, order_id: Uuid) -> Result<Attempt> {
    let outcome = attempt_now(state, ctx, order_id).await?;
    let label = match &outcome {
        Attempt::Refunded => "refunded",
        Attempt::LeftToShop(_) => "left_to_shop",
        Attempt::Retry(_) => "retry",
        Attempt::NotDue => return Ok(outcome),
    };
    metrics::counter!("order_refunds_total", "outcome" => label).increment(1);
    Ok(outcome)
}

async fn attempt_now(state: &AppState, ctx: TenantCtx, order_id: Uuid) -> Result<Attempt> {
    let now = Utc::now();
    let mut tx = state.db.tenant(ctx).await?;
    let Some(due) = order_payments::lock_refund(&mut tx, order_id, now).await? else {
        tx.commit().await?;
        return Ok(Attempt::NotDue);
    };
    let Some(wave) = super::clients::wave(state, ctx).await? else {
        let outcome = left_to_shop(&mut tx, &due, "no-wave-account").await?;
        tx.commit().await?;
        return Ok(outcome);
    };
    let outcome = match wave.refund(&due.session_id).await {
        Ok(()) => {
            order_payments::refunded_by_provider(&mut tx, order_id).await?;
            tell_customer(&mut tx, state, &due, now).await?;
            audit::record(
                &mut tx,
                None,
                "order.refunded",
                serde_json::json!({
                    "order_id": order_id, "order_payment_id": due.order_payment_id,
                    "provider": "wave", "amount_xof": due.amount_xof.get(),
                }),
            )
            .await?;
            tracing::info!(%order_id, "order refunded by Wave");
            Attempt::Refunded
        }
        Err(RefundError::Refused { status, code }) => {
            tracing::warn!(%order_id, status, code, "Wave refused the refund: left to the shop");
            left_to_shop(&mut tx, &due, &code).await?
        }
        Err(RefundError::Unavailable(e)) => {
            let attempts = due.attempts + 1;
            if attempts >= MAX_ATTEMPTS {
                tracing::warn!(%order_id, attempts, error.message = %e,
                    "Wave never answered the refund: left to the shop");
                left_to_shop(&mut tx, &due, "wave-unavailable").await?
            } else {
                let at = now + retry_delay(attempts);
                tracing::warn!(%order_id, attempts, error.message = %e, retry_at = %at,
                    "Wave did not answer the refund: retried later");
                order_payments::refund_failed(&mut tx, order_id, Some(at), e.kind()).await?;
                Attempt::Retry(at)
            }
        }
    };
    tx.commit().await?;
    if outcome == Attempt::Refunded {
        tdj_nats::publish_outbox(&state.db, &state.nats, ctx).await;
    }
    Ok(outcome)
}

async fn left_to_shop(tx: &mut TenantTx<'_>, due: &AutomaticRefund, code: &str) -> Result<Attempt> {
    order_payments::refund_failed(tx, due.order_id, None, code).await?;
    audit::record(
        tx,
        None,
        "order.refund_failed",
        serde_json::json!({ "order_id": due.order_id, "provider": "wave", "code": code }),
    )
    .await?;
    Ok(Attempt::LeftToShop(code.to_owned()))
}

/// Tells the customer, in the order's chat, that the money went back (once: a deterministic outbound id).
async fn tell_customer(
    tx: &mut TenantTx<'_>,
    state: &AppState,
    due: &AutomaticRefund,
    now: DateTime<Utc>,
) -> Result<()> {
    let order = orders::get(tx, due.order_id).await?;
    let Some(chat_id) = order.chat_id else {
        return Ok(());
    };
    let chat = chats::get(tx, chat_id).await?;
    let text = format!(
        "Votre paiement Wave de {} pour la commande {} vous a été remboursé : l'argent est de retour sur \
         votre compte Wave.",
        francs(due.amount_xof.get()),
        order.order_ref
    );
    let outbound_id = format!("refund-{}", due.order_id.simple());
    let message = ToCustomer {
        text: &text,
        outbound_id: &outbound_id,
        author: Author::Bot,
        in_reply_to: &[],
    };
    send_to_customer(tx, &state.subjects, &chat, &message, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time() {
        let minutes: Vec<i64> = (1..MAX_ATTEMPTS)
            .map(|a| retry_delay(a).num_minutes())
            .collect();
        assert_eq!(minutes, [2, 4, 8, 16, 32, 64, 64]);
    }
}
