//! Publishing a customer message to `tdj.in.<tenant>.<chat>`: the one way in for the workers, shared by the
//! WhatsApp ingress and the api's simulator so both publish exactly the same thing.

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishError};
use schemas::{InboundMessage, Subjects};

/// Why a customer message did not reach the inbound stream.
#[derive(Debug, thiserror::Error)]
pub enum PublishInboundError {
    /// The message does not serialise (not expected to happen).
    #[error("cannot encode the inbound message: {0}")]
    Encode(#[from] serde_json::Error),
    /// NATS did not take the publish.
    #[error(transparent)]
    Publish(PublishError),
    /// JetStream did not acknowledge storing it.
    #[error(transparent)]
    Ack(PublishError),
}

/// Publishes `inbound` on `Subjects::inbound` (tenant and chat key of the message) with
/// `Nats-Msg-Id = InboundMessage::msg_id`, so the stream stores a message seen twice once, and waits for
/// JetStream's acknowledgement. One attempt: retrying is the caller's choice.
pub async fn publish_inbound(
    js: &jetstream::Context,
    subjects: &Subjects,
    inbound: &InboundMessage,
) -> Result<(), PublishInboundError> {
    let payload = serde_json::to_vec(inbound)?;
    let subject = subjects.inbound(inbound.tenant_id, inbound.chat_key());
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", inbound.msg_id().as_str());
    // The customer message's trace starts here (or continues the caller's, e.g. a dashboard request).
    let span = tracing::info_span!(
        "customer_message",
        tenant_id = %inbound.tenant_id,
        channel = inbound.channel.as_str(),
        trace_id = tracing::field::Empty
    );
    crate::trace::record_trace_id(&span);
    span.in_scope(|| crate::trace::inject_current(&mut headers));
    let ack = js
        .publish_with_headers(subject, headers, payload.into())
        .await
        .map_err(PublishInboundError::Publish)?;
    ack.await.map_err(PublishInboundError::Ack)?;
    Ok(())
}
