//! Messages on the streams, published the way the services publish them: customer messages on the inbound
//! stream as the ingress does, replies on the outbound stream as the pipeline's outbox does.

use chrono::Utc;
use schemas::{Channel, InboundMessage, OutboundReply, Subjects};
use uuid::Uuid;

/// A customer's text message to the tenant, with a fresh message id.
pub fn customer_message(
    tenant_id: Uuid,
    channel: Channel,
    customer_jid: &str,
    text: &str,
) -> InboundMessage {
    InboundMessage {
        tenant_id,
        channel,
        customer_jid: customer_jid.to_owned(),
        customer_name: "Kouassi".into(),
        wa_message_id: format!("wamid-{}", Uuid::new_v4().simple()),
        text: text.to_owned(),
        timestamp: Utc::now(),
        from_owner: false,
        attachment: None,
        location: None,
    }
}

/// Publishes `message` exactly as the ingress and the simulator do ([`tdj_nats::publish_inbound`]: its
/// chat's inbound subject, the `Nats-Msg-Id` dedup header), and waits until JetStream stored it.
pub async fn publish_inbound(
    nats: &async_nats::Client,
    subjects: &Subjects,
    message: &InboundMessage,
) {
    let jetstream = async_nats::jetstream::new(nats.clone());
    tdj_nats::publish_inbound(&jetstream, subjects, message)
        .await
        .expect("stored by JetStream");
}

/// A reply as the pipeline publishes it for the ingress (through the outbox, with its dedup id).
pub fn reply(tenant_id: Uuid, to: &str, text: &str) -> OutboundReply {
    OutboundReply {
        tenant_id,
        chat_id: Uuid::new_v4(),
        customer_jid: to.to_owned(),
        text: text.to_owned(),
        outbound_id: format!("out-{}", Uuid::new_v4().simple()),
        in_reply_to: Vec::new(),
        created_at: Utc::now(),
        received_at: None,
        image: None,
    }
}

/// Publishes `reply` on the tenant's outbound subject with its `Nats-Msg-Id`, and waits until JetStream
/// stored it.
pub async fn publish_outbound(
    nats: &async_nats::Client,
    subjects: &Subjects,
    reply: &OutboundReply,
) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", reply.outbound_id.as_str());
    async_nats::jetstream::new(nats.clone())
        .publish_with_headers(
            subjects.outbound(reply.tenant_id),
            headers,
            serde_json::to_vec(reply).expect("json").into(),
        )
        .await
        .expect("publish reply")
        .await
        .expect("reply stored");
}
