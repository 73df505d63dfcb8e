//! Orange Money for orders (reference/external-apis.md §2.4–2.5): the status API is the truth. A notification
//! only says "ask now" (it carries no signature and no amount); the bot's "j'ai payé" asks too. Both ask
//! with the shop's own credentials about the link's own web payment (its order id, amount and pay token), and
//! conclude here the same way: paid once for the amount asked, or the failed web payment forgotten so the
//! customer's next tap opens a new one.

use chrono::Utc;
use schemas::billing::Provider;
use serde_json::Value;
use store::TenantCtx;
use store::order_payments::{self, OrderPayment, Settled};

use super::settle;
use crate::billing::providers::orange_money::OrangeMoney;
use crate::{AppState, Result};

/// What Orange's status API says about a link's web payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OrangeStatus {
    /// Paid: `amount_xof` is what Orange reports (else the amount the query asked about, which `SUCCESS`
    /// confirms).
    Success {
        txnid: Option<String>,
        amount_xof: i64,
    },
    /// Failed or expired: this web payment will never be paid.
    Failed,
    /// Not paid yet (`INITIATED`, `PENDING`).
    Open,
    /// No answer, an error, or an answer about another order: nothing can be concluded.
    Unknown,
}

/// What a status answer did to the link.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Concluded {
    Settled(Settled),
    /// The same Orange transaction was concluded before (a replayed notification).
    Duplicate,
    /// The failed web payment is forgotten; the link stays open.
    Reopened,
    Open,
    Unknown,
}

/// An amount as Orange writes it: a number or a numeric string.
fn amount_of(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Asks Orange where the link's web payment stands (bounded by the billing timeout).
pub(crate) async fn status_of(
    state: &AppState,
    om: &OrangeMoney,
    link: &OrderPayment,
) -> OrangeStatus {
    let order_payment_id = link.order_payment_id;
    let (Some(order_id), Some(pay_token)) =
        (link.provider_ref.as_deref(), link.pay_token.as_deref())
    else {
        // No web payment opened: nothing can have been paid.
        return OrangeStatus::Open;
    };
    let amount = link.amount_xof.get();
    let asked = tokio::time::timeout(
        state.billing.timeout,
        om.transaction_status_of(order_id, amount, pay_token),
    )
    .await;
    let status = match asked {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            tracing::warn!(%order_payment_id, reason = e.kind(), error.message = %e,
                "Orange Money status not read");
            return OrangeStatus::Unknown;
        }
        Err(_) => {
            tracing::warn!(%order_payment_id, "Orange Money status not read in time");
            return OrangeStatus::Unknown;
        }
    };
    if status.order_id.as_deref().is_some_and(|id| id != order_id) {
        tracing::warn!(%order_payment_id, "Orange Money status answered for another order");
        return OrangeStatus::Unknown;
    }
    match status.status.as_str() {
        "SUCCESS" => OrangeStatus::Success {
            txnid: status.txnid,
            amount_xof: amount_of(status.amount.as_ref()).unwrap_or(amount),
        },
        "FAILED" | "EXPIRED" => OrangeStatus::Failed,
        "INITIATED" | "PENDING" => OrangeStatus::Open,
        other => {
            tracing::warn!(%order_payment_id, status = other, "Orange Money status not understood");
            OrangeStatus::Unknown
        }
    }
}

/// Applies Orange's answer to the link, once per Orange transaction; `source` names the asker for the audit.
pub(crate) async fn conclude(
    state: &AppState,
    ctx: TenantCtx,
    link: &OrderPayment,
    status: OrangeStatus,
    source: &str,
) -> Result<Concluded> {
    let order_payment_id = link.order_payment_id;
    match status {
        OrangeStatus::Open => Ok(Concluded::Open),
        OrangeStatus::Unknown => Ok(Concluded::Unknown),
        OrangeStatus::Failed => {
            let mut tx = state.db.tenant(ctx).await?;
            // Only the web payment asked about: a newer one the customer opened meanwhile stays.
            let current = order_payments::lock(&mut tx, order_payment_id).await?;
            let reopened = current.provider_ref == link.provider_ref
                && order_payments::forget_checkout(&mut tx, order_payment_id).await?;
            tx.commit().await?;
            if reopened {
                tracing::info!(%order_payment_id, source, "Orange Money payment failed: link reopened");
            }
            Ok(Concluded::Reopened)
        }
        OrangeStatus::Success { txnid, amount_xof } => {
            let event_id = match &txnid {
                Some(txnid) => format!("txn:{txnid}"),
                None => format!("order:{}", link.provider_ref.as_deref().unwrap_or_default()),
            };
            let mut tx = state.db.tenant(ctx).await?;
            if !order_payments::first_event(&mut tx, Provider::OrangeMoney, &event_id).await? {
                tx.commit().await?;
                return Ok(Concluded::Duplicate);
            }
            let settled = settle(
                &mut tx,
                &state.subjects,
                order_payment_id,
                amount_xof,
                "XOF",
                source,
                Utc::now(),
            )
            .await?;
            tx.commit().await?;
            tdj_nats::publish_outbox(&state.db, &state.nats, ctx).await;
            Ok(Concluded::Settled(settled))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orange_writes_amounts_as_numbers_or_strings() {
        assert_eq!(amount_of(Some(&serde_json::json!(15000))), Some(15000));
        assert_eq!(amount_of(Some(&serde_json::json!(" 15000 "))), Some(15000));
        assert_eq!(amount_of(Some(&serde_json::json!("15 000"))), None);
        assert_eq!(amount_of(None), None);
    }
}
