//! Replies from `tdj.out.<tenant>` to WhatsApp, consumed only by the node holding the tenant's lease.
//!
//! **Consumer**: one durable pull consumer per tenant (`ingress_<tenant>`) on the outbound stream, filtered
//! on `tdj.out.<tenant>`, explicit acks, one message in flight (`max_ack_pending = 1`, so replies go out in
//! order). Being durable, it keeps its position while no node runs the tenant: replies queued during a
//! fail-over or while the number was unlinked are delivered to the next owner. It is only read while the
//! connection is up, and removed by the server after a week of inactivity.
//!
//! **Each delivery**, stamped with the lease epoch it was consumed under: the epoch must still be the
//! tenant's current one and the lease valid (otherwise the work is dropped and the message nacked for the
//! owner); replies already sent (a recent-id set, then `message.status` in the database) are acked and
//! skipped; a reply with a photo loads it from the shop's media store (gone or expired: the text goes alone);
//! then "typing…", a human-like pause, the per-tenant rate limit, a last lease check against the bucket, the
//! send, and "typing" off. Transient failures are retried with backoff; after the last attempt the
//! reply is marked `failed` with a French reason — never silently dropped.
//!
//! Delivery is at-least-once across a crash between the send and the `sent` mark; the lease makes that window
//! the only one.

use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use async_nats::jetstream::{AckKind, consumer};
use chrono::Utc;
use futures::StreamExt;
use schemas::OutboundReply;
use schemas::commerce::MessageStatus;
use store::{TenantCtx, messages, whatsapp_sessions};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::gateway::{Connection, GatewayError};
use crate::lease::Lease;
use crate::node_state::NodeState;
use crate::tenant_slot::{ConnectionWatch, RecentIds};

const TOO_OLD: &str =
    "Réponse non envoyée : trop ancienne (WhatsApp était déconnecté trop longtemps).";
const REFUSED: &str = "WhatsApp a refusé l'envoi (destinataire invalide ou session fermée).";
/// How long JetStream waits for an outbound reply's ack before redelivering it (progress acks extend it).
const OUTBOUND_ACK_WAIT: Duration = Duration::from_secs(30);

fn gave_up(attempts: u32) -> String {
    format!("Envoi WhatsApp impossible après {attempts} tentatives (connexion instable).")
}

/// What became of one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundOutcome {
    Sent,
    /// Sent before (redelivery): acked without sending.
    AlreadySent,
    /// Marked `failed` for the shop, with this reason.
    Failed(String),
    /// Not ours to send (lease lost, older epoch, not connected): left for the owner.
    Dropped(&'static str),
    /// Unreadable or for another tenant: acked and logged.
    Invalid,
}

fn consumer_config(shared: &NodeState, tenant_id: Uuid) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(consumer_name(tenant_id)),
        description: Some("Replies of one shop, for the ingress node holding its lease".into()),
        filter_subject: shared.subjects.outbound(tenant_id),
        deliver_policy: consumer::DeliverPolicy::All,
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: OUTBOUND_ACK_WAIT,
        max_ack_pending: 1,
        inactive_threshold: Duration::from_secs(7 * 24 * 3600),
        ..Default::default()
    }
}

pub fn consumer_name(tenant_id: Uuid) -> String {
    format!("ingress_{}", tenant_id.simple())
}

/// Consumes the tenant's replies while the lease is held and the connection is up.
pub(crate) async fn run(
    shared: Arc<NodeState>,
    lease: Arc<Lease>,
    mut connection: ConnectionWatch,
    recent: Arc<RecentIds>,
    stop: CancellationToken,
) {
    let tenant_id = lease.tenant_id;
    let mut consumer = None;
    loop {
        // Wait for a connection before taking any reply.
        let connected = tokio::select! {
            () = stop.cancelled() => return,
            () = lease.fenced() => return,
            connected = connection.wait_for(Option::is_some) => connected.is_ok(),
        };
        if !connected {
            return;
        }
        let pull: &consumer::PullConsumer = match &consumer {
            Some(pull) => pull,
            None => match open_consumer(&shared, tenant_id).await {
                Ok(pull) => consumer.insert(pull),
                Err(e) => {
                    tracing::warn!(%tenant_id, error = %e, "cannot open the outbound consumer");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let batch = pull
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(5))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(%tenant_id, error = %e, "outbound fetch failed");
                consumer = None;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                () = lease.fenced() => return,
                next = batch.next() => next,
            };
            let Some(next) = next else { break };
            let message = match next {
                Ok(message) => message,
                Err(e) => {
                    tracing::warn!(%tenant_id, error = %e, "outbound delivery error");
                    break;
                }
            };
            // Stamped with the epoch of the lease it was consumed under. Progress acks keep the message from
            // being redelivered while a send or its delivery record waits (a database outage, a reconnect).
            let work = send_reply(
                &shared,
                &lease,
                lease.epoch,
                &connection,
                &recent,
                &message.payload,
            );
            // The reply's send ends the customer message's trace (context from the worker's headers).
            let span = tracing::info_span!(
                "send_reply",
                tenant_id = %tenant_id,
                trace_id = tracing::field::Empty
            );
            tdj_nats::trace::continue_trace(&span, message.headers.as_ref());
            let outcome = tdj_nats::while_in_progress(&message, OUTBOUND_ACK_WAIT, work)
                .instrument(span)
                .await;
            let acked = match outcome {
                OutboundOutcome::Dropped(_) => {
                    message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await
                }
                _ => message.ack().await,
            };
            if let Err(e) = acked {
                tracing::warn!(%tenant_id, error = %e, "cannot acknowledge an outbound reply");
            }
        }
    }
}

async fn open_consumer(
    shared: &NodeState,
    tenant_id: Uuid,
) -> Result<consumer::PullConsumer, crate::Error> {
    let stream = shared
        .js
        .get_stream(shared.subjects.outbound_stream())
        .await
        .map_err(crate::Error::nats)?;
    stream
        .get_or_create_consumer(
            &consumer_name(tenant_id),
            consumer_config(shared, tenant_id),
        )
        .await
        .map_err(crate::Error::nats)
}

/// The delivery step for `tenant_id` on this node, as a test entry point.
#[cfg(feature = "test-support")]
pub(crate) async fn handle_for(
    shared: &NodeState,
    tenant_id: Uuid,
    payload: &[u8],
    epoch: u64,
) -> OutboundOutcome {
    let slot = {
        let tenants = shared.tenants();
        tenants.get(&tenant_id).map(|slot| {
            (
                slot.lease.clone(),
                slot.connection.clone(),
                slot.recent.clone(),
            )
        })
    };
    let Some((lease, connection, recent)) = slot else {
        return OutboundOutcome::Dropped("tenant not run by this node");
    };
    send_reply(shared, &lease, epoch, &connection, &recent, payload).await
}

/// Still the owner of the work stamped `epoch`: same epoch as the tenant's current lease, and valid.
fn still_owner(shared: &NodeState, lease: &Lease, epoch: u64) -> bool {
    lease.epoch == epoch
        && lease.is_valid()
        && shared
            .slot_lease(lease.tenant_id)
            .is_some_and(|current| current.epoch == epoch)
}

fn count(outcome: &'static str) {
    metrics::counter!("whatsapp_sends_total", "outcome" => outcome).increment(1);
}

async fn send_reply(
    shared: &NodeState,
    lease: &Lease,
    epoch: u64,
    connection: &ConnectionWatch,
    recent: &RecentIds,
    payload: &[u8],
) -> OutboundOutcome {
    let tenant_id = lease.tenant_id;
    if !still_owner(shared, lease, epoch) {
        count("dropped");
        return OutboundOutcome::Dropped("stamped with an older lease or lease lost");
    }
    let reply: OutboundReply = match serde_json::from_slice(payload) {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(%tenant_id, error = %e, "unreadable outbound reply");
            count("invalid");
            return OutboundOutcome::Invalid;
        }
    };
    if reply.tenant_id != tenant_id {
        tracing::error!(%tenant_id, other = %reply.tenant_id, "outbound reply of another tenant");
        count("invalid");
        return OutboundOutcome::Invalid;
    }
    if recent.contains(&reply.outbound_id) {
        count("duplicate");
        return OutboundOutcome::AlreadySent;
    }
    match delivery_status(shared, tenant_id, &reply.outbound_id).await {
        Ok(Some(MessageStatus::Sent | MessageStatus::Failed)) => {
            count("duplicate");
            return OutboundOutcome::AlreadySent;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(%tenant_id, error = %e, "cannot read the reply's status");
            return OutboundOutcome::Dropped("database unavailable");
        }
    }
    let age = Utc::now() - reply.created_at;
    if age
        .to_std()
        .is_ok_and(|age| age > shared.config.outbound_max_age)
    {
        mark(
            shared,
            lease,
            tenant_id,
            &reply.outbound_id,
            MessageStatus::Failed,
            TOO_OLD,
        )
        .await;
        count("failed");
        return OutboundOutcome::Failed(TOO_OLD.into());
    }
    let photo = match &reply.image {
        Some(image) => match load_photo(shared, tenant_id, image.media_id).await {
            Ok(Some(photo)) => Some(photo),
            Ok(None) => {
                tracing::warn!(%tenant_id, outbound_id = %reply.outbound_id, media_id = %image.media_id, "the reply's photo is missing or expired; sending its text alone");
                None
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!(%tenant_id, error = %e, "cannot read the reply's photo");
                return OutboundOutcome::Dropped("database unavailable");
            }
            // Retrying cannot open it (wrong key, damaged row): the customer still gets the answer.
            Err(e) => {
                tracing::error!(%tenant_id, outbound_id = %reply.outbound_id, error.cause_chain = ?e, error.message = %e, "the reply's photo cannot be opened; sending its text alone");
                None
            }
        },
        None => None,
    };
    let Some(mut live) = current_connection(connection, lease).await else {
        return OutboundOutcome::Dropped("not connected");
    };
    let _ = live.typing(&reply.customer_jid, true).await;
    let pause = shared.config.typing_delay(reply.text.chars().count());
    tokio::select! {
        () = lease.fenced() => {}
        () = tokio::time::sleep(pause) => {}
    }
    tokio::select! {
        () = lease.fenced() => {}
        _ = shared.limiter.until_key_ready(&tenant_id) => {}
    }
    let retries = shared.config.send_retries;
    let mut wait = shared.config.send_retry_backoff;
    let mut attempt = 0u32;
    let reason = loop {
        // The last check before the side effect: local epoch and clock, then the bucket itself.
        if !still_owner(shared, lease, epoch)
            || !shared.leases.confirm(lease).await.unwrap_or(false)
        {
            count("dropped");
            return OutboundOutcome::Dropped("lease lost before sending");
        }
        let sent = match &photo {
            Some((bytes, mime)) => {
                live.send_image(&reply.customer_jid, bytes.clone(), mime, &reply.text)
                    .await
            }
            None => live.send_text(&reply.customer_jid, &reply.text).await,
        };
        match sent {
            Ok(whatsapp_id) => {
                recent.insert(&reply.outbound_id);
                recent.insert(&whatsapp_id);
                let _ = live.typing(&reply.customer_jid, false).await;
                mark(
                    shared,
                    lease,
                    tenant_id,
                    &reply.outbound_id,
                    MessageStatus::Sent,
                    "",
                )
                .await;
                count("sent");
                if let Some(received) = reply.received_at {
                    let latency = (Utc::now() - received).to_std().unwrap_or_default();
                    metrics::histogram!("pipeline_reply_latency_seconds", "channel" => "whatsapp")
                        .record(latency.as_secs_f64());
                }
                return OutboundOutcome::Sent;
            }
            Err(GatewayError::Permanent(e)) => {
                tracing::warn!(%tenant_id, outbound_id = %reply.outbound_id, error = %e, "WhatsApp refused a reply");
                break REFUSED.to_owned();
            }
            Err(e) => {
                if attempt >= retries {
                    tracing::warn!(%tenant_id, outbound_id = %reply.outbound_id, error = %e, "giving up on a reply");
                    break gave_up(attempt + 1);
                }
                tracing::info!(%tenant_id, attempt, error = %e, "reply send failed, retrying");
                tokio::select! {
                    () = lease.fenced() => {}
                    () = tokio::time::sleep(wait) => {}
                }
                wait *= 2;
                attempt += 1;
                if let Some(newer) = connection.borrow().clone() {
                    live = newer;
                }
            }
        }
    };
    let _ = live.typing(&reply.customer_jid, false).await;
    mark(
        shared,
        lease,
        tenant_id,
        &reply.outbound_id,
        MessageStatus::Failed,
        &reason,
    )
    .await;
    count("failed");
    OutboundOutcome::Failed(reason)
}

/// The live connection, waiting a little for a reconnect; `None` if fenced or still down.
async fn current_connection(
    connection: &ConnectionWatch,
    lease: &Lease,
) -> Option<Arc<dyn Connection>> {
    let mut connection = connection.clone();
    tokio::select! {
        () = lease.fenced() => None,
        found = tokio::time::timeout(Duration::from_secs(10), connection.wait_for(Option::is_some)) => {
            found.ok().and_then(Result::ok).and_then(|c| c.clone())
        }
    }
}

/// The photo's bytes and type, or `None` when it is not (or no longer) in the shop's media store.
async fn load_photo(
    shared: &NodeState,
    tenant_id: Uuid,
    media_id: Uuid,
) -> Result<Option<(Vec<u8>, String)>, store::Error> {
    let mut tx = shared.db.tenant(TenantCtx::new(tenant_id)).await?;
    let key = shared.master.data_key(&mut tx).await?;
    let found = match store::media::get(&mut tx, &key, media_id).await {
        Ok(media) => media.bytes.map(|bytes| (bytes, media.mime)),
        Err(store::Error::NotFound) => None,
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    Ok(found)
}

async fn delivery_status(
    shared: &NodeState,
    tenant_id: Uuid,
    outbound_id: &str,
) -> Result<Option<MessageStatus>, store::Error> {
    let mut tx = shared.db.tenant(TenantCtx::new(tenant_id)).await?;
    let status = whatsapp_sessions::outbound_status(&mut tx, outbound_id).await?;
    tx.commit().await?;
    Ok(status)
}

/// Records a reply's delivery. The record is what keeps a redelivered reply from being sent twice (and what
/// the shop sees), so while the database is unavailable it is retried, with backoff, for as long as this node
/// holds the shop; the caller keeps the outbound message in progress meanwhile.
async fn mark(
    shared: &NodeState,
    lease: &Lease,
    tenant_id: Uuid,
    outbound_id: &str,
    status: MessageStatus,
    detail: &str,
) {
    let mut wait = MARK_RETRY_FIRST;
    let mut warned = false;
    loop {
        let written = async {
            let mut tx = shared.db.tenant(TenantCtx::new(tenant_id)).await?;
            messages::set_delivery(&mut tx, outbound_id, status, detail).await?;
            tx.commit().await
        }
        .await;
        let e = match written {
            Ok(()) => return,
            Err(e) => e,
        };
        if !e.is_unavailable() {
            tracing::warn!(%tenant_id, outbound_id, error.cause_chain = ?e, error.message = %e, "cannot record a reply's delivery");
            return;
        }
        if !warned {
            tracing::warn!(%tenant_id, outbound_id, error.message = %e, "database unavailable: the reply's delivery will be recorded once it is back");
            warned = true;
        }
        tokio::select! {
            () = lease.fenced() => {
                tracing::warn!(%tenant_id, outbound_id, "lease lost before a reply's delivery could be recorded");
                return;
            }
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(MARK_RETRY_MAX);
    }
}

/// Retry delays of a delivery record while the database is down: soon after it returns, without hammering it.
const MARK_RETRY_FIRST: Duration = Duration::from_millis(200);
const MARK_RETRY_MAX: Duration = Duration::from_secs(2);
