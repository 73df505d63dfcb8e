//! Customers paying their order inside the WhatsApp chat, on the shop's own merchant account (issue 18):
//!
//! - the public pay page `GET|POST /pay/{token}` ([`page`]): the token is the credential; it shows the order
//!   and opens the provider's checkout once (Wave, with the shop's own key), or the local sandbox page;
//! - the per-shop Wave webhook `POST /api/v1/webhooks/shops/{tenant_id}/wave` ([`webhook`]), signed with that
//!   shop's webhook secret, and the per-shop Orange Money notification, confirmed by Orange's status API
//!   ([`orange`]);
//! - refunds of cancelled orders paid with Wave, asked of Wave ([`refunds`]), and the shop marking the others
//!   done ([`refund`]);
//! - the bot's "j'ai payé" question to the provider, over NATS request/reply ([`check`]).
//!
//! Every confirmation goes through [`settle`]: the link settled once for the right amount, the thank-you
//! queued to the customer and the audit entry, all in the caller's transaction.

pub mod check;
mod clients;
pub mod expiry;
pub(crate) mod orange;
pub(crate) mod page;
pub(crate) mod refund;
pub mod refunds;
pub(crate) mod webhook;

use axum::Router;
use chrono::{DateTime, Utc};
use schemas::Subjects;
use schemas::billing::Provider;
use schemas::commerce::{Author, OrderStatus};
use store::order_payments::{self, Settled};
use store::{TenantTx, audit, chats, orders};
use uuid::Uuid;

use crate::conversations::{ToCustomer, send_to_customer};
use crate::web::i18n::group_thousands;
use crate::{AppState, Result};

/// The periodic pass of every API process (safe concurrently): links past their validity, then refunds due.
pub async fn periodic(state: &AppState) {
    expiry::run(state).await;
    refunds::run(state).await;
}

pub fn router() -> Router<AppState> {
    page::router()
        .merge(webhook::router())
        .merge(refund::router())
}

/// "15000" → "15 000 F" (ordinary spaces: it goes into a WhatsApp message or a page).
pub(crate) fn francs(xof: i64) -> String {
    format!("{} F", group_thousands(xof).replace('\u{a0}', " "))
}

/// The name a customer knows a method by.
pub(crate) fn method_label(provider: Provider) -> &'static str {
    match provider {
        Provider::Wave => "Wave",
        Provider::OrangeMoney => "Orange Money",
        Provider::Stripe => "carte bancaire",
        Provider::Sandbox => "paiement test",
    }
}

/// The outbound id of the thank-you for a link: deterministic, so it is stored and sent once.
pub(crate) fn thanks_outbound_id(order_payment_id: Uuid) -> String {
    format!("paid-{}", order_payment_id.simple())
}

/// Settles link `order_payment_id` with what the provider paid, in `tx` (the caller commits, then publishes
/// the outbox): on a new payment, the thank-you to the customer in the order's chat and an `order.paid` audit
/// entry; on another amount or currency, an `order.payment_mismatch` audit entry and no thanks. `source` says
/// which confirmation it was (`wave_webhook`, `sandbox`), for the audit.
pub(crate) async fn settle(
    tx: &mut TenantTx<'_>,
    subjects: &Subjects,
    order_payment_id: Uuid,
    paid_xof: i64,
    currency: &str,
    source: &str,
    now: DateTime<Utc>,
) -> Result<Settled> {
    let settled =
        order_payments::settle_paid(tx, order_payment_id, paid_xof, currency, now).await?;
    match &settled {
        Settled::Paid(payment) => {
            let order = orders::get(tx, payment.order_id).await?;
            // A customer paying an order the shop cancelled meanwhile is owed a refund, not thanks for an
            // order in preparation.
            let thanked = order.status != OrderStatus::Cancelled;
            if thanked && let Some(chat_id) = order.chat_id {
                let chat = chats::get(tx, chat_id).await?;
                let text = format!(
                    "Merci, nous avons bien reçu votre paiement de {} pour la commande {}. \
                     La boutique prépare votre commande.",
                    francs(payment.amount_xof.get()),
                    order.order_ref
                );
                let outbound_id = thanks_outbound_id(order_payment_id);
                let thanks = ToCustomer {
                    text: &text,
                    outbound_id: &outbound_id,
                    author: Author::Bot,
                    in_reply_to: &[],
                };
                send_to_customer(tx, subjects, &chat, &thanks, now).await?;
            }
            audit::record(
                tx,
                None,
                "order.paid",
                serde_json::json!({
                    "order_id": order.order_id,
                    "order_payment_id": order_payment_id,
                    "provider": payment.provider,
                    "amount_xof": payment.amount_xof.get(),
                    "source": source,
                    "order_status": order.status,
                }),
            )
            .await?;
            tracing::info!(%order_payment_id, order_id = %order.order_id, source, "order paid");
        }
        Settled::Mismatch { paid_xof, currency } => {
            tracing::warn!(
                %order_payment_id, paid_xof, currency, source,
                "order payment of another amount or currency: link failed, nothing marked paid"
            );
            audit::record(
                tx,
                None,
                "order.payment_mismatch",
                serde_json::json!({
                    "order_payment_id": order_payment_id,
                    "paid_xof": paid_xof,
                    "currency": currency,
                    "source": source,
                }),
            )
            .await?;
        }
        Settled::AlreadyPaid => {}
    }
    Ok(settled)
}
