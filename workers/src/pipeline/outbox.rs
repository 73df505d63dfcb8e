//! What the pipeline sends out. Replies for the ingress node (`tdj.out.<tenant>`) and domain events are queued
//! in the outbox inside the transaction that causes them, then published once it commits
//! (`tdj_nats::publish_outbox`): a crash loses nothing (the sweeper publishes the backlog) and a repeat is
//! dropped by JetStream's dedup.

use schemas::{EventData, OutboundReply};
use serde_json::json;
use store::orders::Order;
use store::outbox::Entry;
use store::{TenantCtx, TenantTx};
use uuid::Uuid;

use super::Pipeline;

impl Pipeline {
    /// Queues a domain event in the transaction; `chat_id`, the chat it concerns, lets the chat's turn
    /// publish it right after commit.
    pub(super) async fn queue_event(
        &self,
        tx: &mut TenantTx<'_>,
        chat_id: Option<Uuid>,
        event: EventData,
    ) -> store::Result<()> {
        store::outbox::push_event(tx, &self.inner.subjects, chat_id, event).await
    }

    /// Queues a reply for the ingress node holding the shop, deduplicated by its `outbound_id`.
    pub(super) async fn queue_reply(
        &self,
        tx: &mut TenantTx<'_>,
        reply: &OutboundReply,
    ) -> store::Result<()> {
        store::outbox::push(
            tx,
            Some(reply.chat_id),
            &self.inner.subjects.outbound(reply.tenant_id),
            &reply.outbound_id,
            &json!(reply),
        )
        .await
    }

    /// Publishes what committed transactions queued for the shop (the shop-wide path, under its publisher
    /// lock: dead letters, the sweeper).
    pub(super) async fn publish_outbox(&self, ctx: TenantCtx) {
        tdj_nats::publish_outbox(&self.inner.db, &self.inner.nats, ctx).await;
    }

    /// Publishes a chat's entries read in the transaction that just committed (the hot path: no transaction
    /// of its own; the marks are batched).
    pub(super) async fn publish_chat(&self, entries: Vec<Entry>) {
        tdj_nats::publish_entries(&self.inner.nats, &self.inner.marks, entries).await;
    }
}

/// The `order.created` event of an order the bot placed.
pub(super) fn order_created(order: &Order) -> EventData {
    EventData::OrderCreated {
        order_id: order.order_id,
        order_ref: order.order_ref.clone(),
        chat_id: order.chat_id,
        total_xof: order.total_xof.get(),
        items: order
            .items
            .iter()
            .map(|i| schemas::events::OrderItem {
                product_id: i.product_id,
                name: i.product_name.clone(),
                quantity: i.quantity,
                unit_price_xof: i.unit_price_xof.get(),
            })
            .collect(),
    }
}
