//! Customer messages from WhatsApp to `tdj.in.<tenant>.<chat>`: only direct chats with text are published
//! (by `tdj_nats::publish_inbound`), with `Nats-Msg-Id = <tenant>:<WhatsApp id>` so a message seen twice
//! (reconnect, fail-over, redelivery) is stored once.
//!
//! A message is accepted — its receipt goes to WhatsApp — only once JetStream acknowledged it, or when it is
//! deliberately ignored. Publishing is retried for as long as this node holds the shop and the session runs;
//! if either ends first, the message is left unacknowledged and WhatsApp delivers it again, to the next owner.

use std::time::Duration;

use schemas::{Channel, InboundMessage};
use tdj_nats::{PublishInboundError, publish_inbound};
use tokio_util::sync::CancellationToken;

use crate::gateway::{ChatKind, Delivery, IncomingMessage};
use crate::lease::Lease;
use crate::node_state::NodeState;
use crate::tenant_slot::RecentIds;

/// Longest pause between two publish attempts.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);

/// Handles one message: publishes it (or ignores it), then accepts its delivery — or leaves it unaccepted
/// when the lease or the session ends before JetStream stored it.
pub(crate) async fn handle(
    shared: &NodeState,
    lease: &Lease,
    recent: &RecentIds,
    stop: &CancellationToken,
    message: IncomingMessage,
    delivery: Delivery,
) {
    if publish(shared, lease, recent, stop, message).await {
        delivery.accept();
    } else {
        metrics::counter!("whatsapp_inbound_total", "outcome" => "left_for_redelivery")
            .increment(1);
    }
}

/// `true` when the message is stored in the inbound stream or deliberately ignored.
async fn publish(
    shared: &NodeState,
    lease: &Lease,
    recent: &RecentIds,
    stop: &CancellationToken,
    message: IncomingMessage,
) -> bool {
    let ignored = match message.kind {
        ChatKind::Direct => None,
        ChatKind::Group => Some("group"),
        ChatKind::Status => Some("status"),
        ChatKind::Newsletter => Some("newsletter"),
        ChatKind::Broadcast => Some("broadcast"),
    };
    if let Some(kind) = ignored {
        metrics::counter!("whatsapp_inbound_total", "outcome" => "ignored", "reason" => kind)
            .increment(1);
        return true;
    }
    let Some(text) = message.text.filter(|t| !t.trim().is_empty()) else {
        metrics::counter!("whatsapp_inbound_total", "outcome" => "ignored", "reason" => "no_text")
            .increment(1);
        return true;
    };
    // Our own replies may come back as "from me": they are not the owner typing by hand.
    if message.from_me && recent.contains(&message.id) {
        metrics::counter!("whatsapp_inbound_total", "outcome" => "ignored", "reason" => "own_reply")
            .increment(1);
        return true;
    }
    let inbound = InboundMessage {
        tenant_id: lease.tenant_id,
        channel: Channel::Whatsapp,
        customer_jid: message.chat_jid,
        customer_name: message.push_name,
        wa_message_id: message.id,
        text,
        timestamp: message.timestamp,
        from_owner: message.from_me,
        attachment: None,
        location: None,
    };
    let mut wait = Duration::from_millis(200);
    let mut attempt = 0u32;
    loop {
        // Fenced: not ours to publish; unacknowledged, WhatsApp redelivers it to the next owner.
        if !lease.is_valid() || stop.is_cancelled() {
            return false;
        }
        attempt += 1;
        // One attempt may wait up to the ack timeout (5 s): a lost lease or a stop ends it at once.
        let published = tokio::select! {
            biased;
            () = stop.cancelled() => return false,
            () = lease.fenced() => return false,
            published = publish_inbound(&shared.js, &shared.subjects, &inbound) => published,
        };
        match published {
            Ok(()) => {
                metrics::counter!("whatsapp_inbound_total", "outcome" => "published").increment(1);
                return true;
            }
            Err(e @ PublishInboundError::Encode(_)) => {
                // Retrying cannot help, and leaving it unacknowledged would have it redelivered forever.
                tracing::error!(tenant_id = %lease.tenant_id, error = %e, "customer message not encodable");
                metrics::counter!("whatsapp_inbound_total", "outcome" => "failed").increment(1);
                return true;
            }
            Err(e) => {
                tracing::warn!(
                    tenant_id = %lease.tenant_id,
                    wa_message_id = %inbound.wa_message_id,
                    attempt,
                    error = %e,
                    "inbound publish failed; retrying while this node holds the shop"
                );
                tokio::select! {
                    () = stop.cancelled() => return false,
                    () = lease.fenced() => return false,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(MAX_RETRY_WAIT);
            }
        }
    }
}
