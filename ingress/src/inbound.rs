//! Customer messages from WhatsApp to `tdj.in.<tenant>.<chat>`: only direct chats with text are published
//! (by `tdj_nats::publish_inbound`, retried until JetStream acknowledges), with
//! `Nats-Msg-Id = <tenant>:<WhatsApp id>` so a message seen twice (reconnect, fail-over) is stored once.

use std::time::Duration;

use schemas::{Channel, InboundMessage};
use tdj_nats::{PublishInboundError, publish_inbound};

use crate::gateway::{ChatKind, IncomingMessage};
use crate::lease::Lease;
use crate::node_state::NodeState;
use crate::tenant_slot::RecentIds;

/// Publish attempts before a message is given up (logged and counted).
const ATTEMPTS: u32 = 4;

pub(crate) async fn handle(
    shared: &NodeState,
    lease: &Lease,
    recent: &RecentIds,
    message: IncomingMessage,
) {
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
        return;
    }
    let Some(text) = message.text.filter(|t| !t.trim().is_empty()) else {
        metrics::counter!("whatsapp_inbound_total", "outcome" => "ignored", "reason" => "no_text")
            .increment(1);
        return;
    };
    // Our own replies may come back as "from me": they are not the owner typing by hand.
    if message.from_me && recent.contains(&message.id) {
        metrics::counter!("whatsapp_inbound_total", "outcome" => "ignored", "reason" => "own_reply")
            .increment(1);
        return;
    }
    if !lease.is_valid() {
        // Fenced: the new owner's connection receives it from WhatsApp.
        return;
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
    };
    let mut wait = Duration::from_millis(200);
    for attempt in 1..=ATTEMPTS {
        match publish_inbound(&shared.js, &shared.subjects, &inbound).await {
            Ok(()) => {
                metrics::counter!("whatsapp_inbound_total", "outcome" => "published").increment(1);
                return;
            }
            Err(e @ PublishInboundError::Encode(_)) => {
                // Retrying cannot help.
                tracing::error!(tenant_id = %lease.tenant_id, error = %e, "customer message not encodable");
                return;
            }
            Err(e) if attempt == ATTEMPTS => {
                tracing::error!(
                    tenant_id = %lease.tenant_id,
                    wa_message_id = %inbound.wa_message_id,
                    error = %e,
                    "customer message lost: JetStream did not acknowledge it"
                );
                metrics::counter!("whatsapp_inbound_total", "outcome" => "failed").increment(1);
            }
            Err(e) => {
                tracing::warn!(tenant_id = %lease.tenant_id, attempt, error = %e, "inbound publish failed, retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}
