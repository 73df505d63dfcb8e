//! Customer messages from WhatsApp to `tdj.in.<tenant>.<chat>`: only direct chats with a text, media or a
//! location are published (by `tdj_nats::publish_inbound`), with `Nats-Msg-Id = <tenant>:<WhatsApp id>` so
//! a message seen twice (reconnect, fail-over, redelivery) is stored once.
//!
//! **Media.** A customer's voice note or photo is downloaded, checked by its bytes (never by the type the
//! phone declares) and sealed with the shop's data key into its media store *before* the message is
//! published, so a worker always finds the bytes the message names; storing it again on a redelivery is a
//! no-op, its id being derived from the message. It is refused without a download when WhatsApp announces it
//! larger than `MEDIA_MAX_BYTES` or when the shop's plan allows no more media this month; videos, documents
//! and stickers are never downloaded. A refusal travels in the message (`Attachment::refused`) for the bot to
//! answer it. Media the owner sends from the shop's phone are never downloaded either: the caption, or a short
//! marker, stands for them in the conversation.
//!
//! A message is accepted — its receipt goes to WhatsApp — only once JetStream acknowledged it, or when it is
//! deliberately ignored. Downloading, storing and publishing are retried for as long as this node holds the
//! shop and the session runs; if either ends first, the message is left unacknowledged and WhatsApp delivers
//! it again, to the next owner.

use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use schemas::{Attachment, Channel, InboundMessage, Location, MediaKind, MediaRefusal};
use store::TenantCtx;
use store::media::NewMedia;
use tdj_nats::{PublishInboundError, publish_inbound};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::gateway::{ChatKind, Delivery, GatewayError, IncomingMedia, IncomingMessage};
use crate::lease::Lease;
use crate::node_state::NodeState;
use crate::tenant_slot::RecentIds;

/// Longest pause between two publish (or database) attempts.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);
/// Downloads of one media before it is refused as unavailable: WhatsApp's CDN has short hiccups, and a
/// message held much longer delays the ones behind it.
const DOWNLOAD_ATTEMPTS: u32 = 3;
/// One download's bound; a 10 MB voice note or photo takes a few seconds.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// First pause before another download, doubled at each attempt.
const FIRST_DOWNLOAD_RETRY: Duration = Duration::from_millis(500);

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
    let text = message.text.filter(|t| !t.trim().is_empty());
    let location = message.location.filter(Location::is_valid);
    let media = message.media;
    // Reactions, polls, deleted messages and the like: nothing the bot could answer.
    if text.is_none() && media.is_none() && location.is_none() {
        metrics::counter!("whatsapp_inbound_total", "outcome" => "ignored", "reason" => "no_text")
            .increment(1);
        return true;
    }
    // Our own replies may come back as "from me": they are not the owner typing by hand.
    if message.from_me && recent.contains(&message.id) {
        metrics::counter!("whatsapp_inbound_total", "outcome" => "ignored", "reason" => "own_reply")
            .increment(1);
        return true;
    }
    let (text, attachment) = if message.from_me {
        let kind = media.as_ref().map(|m| m.kind);
        (text.unwrap_or_else(|| owner_marker(kind).into()), None)
    } else {
        let attachment = match media {
            Some(media) => match attach(shared, lease, stop, &message.id, media).await {
                Some(attachment) => Some(attachment),
                // Not ours any more: WhatsApp redelivers it to the next owner, who downloads it again.
                None => return false,
            },
            None => None,
        };
        (text.unwrap_or_default(), attachment)
    };
    let inbound = InboundMessage {
        tenant_id: lease.tenant_id,
        channel: Channel::Whatsapp,
        customer_jid: message.chat_jid,
        customer_name: message.push_name,
        wa_message_id: message.id,
        text,
        timestamp: message.timestamp,
        from_owner: message.from_me,
        attachment,
        location,
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

/// What stands in the conversation for media or a location the owner sent from the phone without a caption.
fn owner_marker(media: Option<MediaKind>) -> &'static str {
    match media {
        Some(MediaKind::Audio) => "🎤 Message vocal",
        Some(MediaKind::Image) => "📷 Photo",
        Some(MediaKind::Video) => "🎬 Vidéo",
        Some(MediaKind::Document) => "📎 Document",
        Some(MediaKind::Sticker) => "🙂 Autocollant",
        None => "📍 Position",
    }
}

/// Media kept in the shop's store.
struct Stored {
    media_id: Uuid,
    kind: MediaKind,
    mime: String,
    size_bytes: u64,
}

/// The attachment of a customer's media: stored, or refused with the reason. `None` when the lease is lost
/// or the session stops first.
async fn attach(
    shared: &NodeState,
    lease: &Lease,
    stop: &CancellationToken,
    wa_message_id: &str,
    media: IncomingMedia,
) -> Option<Attachment> {
    let kept = keep(shared, lease, stop, wa_message_id, &media).await?;
    let attachment = match kept {
        Ok(stored) => Attachment {
            kind: stored.kind,
            media_id: Some(stored.media_id),
            mime: stored.mime,
            size_bytes: stored.size_bytes,
            voice: media.voice,
            seconds: media.seconds,
            file_name: media.file_name,
            refused: None,
        },
        Err(refusal) => Attachment {
            kind: media.kind,
            media_id: None,
            mime: media.mime,
            size_bytes: media.declared_size,
            voice: media.voice,
            seconds: media.seconds,
            file_name: media.file_name,
            refused: Some(refusal),
        },
    };
    let outcome = attachment.refused.map_or("stored", MediaRefusal::as_str);
    metrics::counter!("media_inbound_total", "kind" => attachment.kind.as_str(), "outcome" => outcome)
        .increment(1);
    Some(attachment)
}

/// Applies the media policy: size, the plan's monthly allowance, download, the bytes' real format, then the
/// sealed write. `None` when the lease is lost or the session stops first.
async fn keep(
    shared: &NodeState,
    lease: &Lease,
    stop: &CancellationToken,
    wa_message_id: &str,
    media: &IncomingMedia,
) -> Option<Result<Stored, MediaRefusal>> {
    let tenant_id = lease.tenant_id;
    if !media.kind.is_understood() {
        return Some(Err(MediaRefusal::Unsupported));
    }
    let max = shared.media.media_max_bytes;
    if media.declared_size > max {
        return Some(Err(MediaRefusal::TooLarge));
    }
    let media_id = store::media::inbound_media_id(tenant_id, wa_message_id);
    let usage = with_store(lease, stop, || Box::pin(month_usage(shared, tenant_id))).await?;
    match usage {
        Ok((used, Some(allowance))) if used >= allowance => {
            // A redelivered message whose media was stored before already counts in `used`.
            let earlier = with_store(lease, stop, || {
                Box::pin(stored(shared, tenant_id, media_id))
            })
            .await?;
            return Some(match earlier {
                Ok(Some(stored)) => Ok(stored),
                Ok(None) => Err(MediaRefusal::QuotaReached),
                Err(e) => {
                    tracing::error!(%tenant_id, error.cause_chain = ?e, error.message = %e, "cannot read a stored media");
                    Err(MediaRefusal::Unavailable)
                }
            });
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(%tenant_id, error.cause_chain = ?e, error.message = %e, "cannot read the shop's media allowance");
            return Some(Err(MediaRefusal::Unavailable));
        }
    }
    let bytes = match download(lease, stop, wa_message_id, media).await? {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(%tenant_id, wa_message_id, error = %e, "customer media unavailable");
            return Some(Err(MediaRefusal::Unavailable));
        }
    };
    if bytes.len() as u64 > max {
        return Some(Err(MediaRefusal::TooLarge));
    }
    // The phone's declared type is not trusted: the bytes say what they are, and only formats the model
    // reads are kept.
    let Some((kind, mime)) = store::media::sniff(&bytes) else {
        return Some(Err(MediaRefusal::Unsupported));
    };
    let new = NewMedia {
        media_id,
        kind,
        mime,
        bytes: &bytes,
        expires_at: Some(shared.media.expires_at(Utc::now())),
        product: None,
    };
    let written = with_store(lease, stop, || Box::pin(put(shared, tenant_id, &new))).await?;
    Some(match written {
        Ok(_) => Ok(Stored {
            media_id,
            kind,
            mime: mime.to_owned(),
            size_bytes: bytes.len() as u64,
        }),
        Err(e) => {
            tracing::error!(%tenant_id, wa_message_id, error.cause_chain = ?e, error.message = %e, "cannot store a customer media");
            Err(MediaRefusal::Unavailable)
        }
    })
}

/// The media's bytes, tried a few times with backoff. `Some(Err)` once WhatsApp cannot serve them; `None` when
/// the lease is lost, the session stops or the connection is gone (the redelivery downloads it again).
async fn download(
    lease: &Lease,
    stop: &CancellationToken,
    wa_message_id: &str,
    media: &IncomingMedia,
) -> Option<Result<Vec<u8>, GatewayError>> {
    let mut wait = FIRST_DOWNLOAD_RETRY;
    let mut attempt = 0u32;
    loop {
        if !lease.is_valid() || stop.is_cancelled() {
            return None;
        }
        attempt += 1;
        let fetched = tokio::select! {
            biased;
            () = stop.cancelled() => return None,
            () = lease.fenced() => return None,
            fetched = tokio::time::timeout(DOWNLOAD_TIMEOUT, media.download.fetch()) => fetched
                .unwrap_or_else(|_| Err(GatewayError::Transient("media download timed out".into()))),
        };
        let e = match fetched {
            Ok(bytes) => return Some(Ok(bytes)),
            Err(GatewayError::NotConnected(_)) => return None,
            Err(e @ (GatewayError::Permanent(_) | GatewayError::Unsupported)) => {
                return Some(Err(e));
            }
            Err(e) => e,
        };
        if attempt >= DOWNLOAD_ATTEMPTS {
            return Some(Err(e));
        }
        tracing::info!(tenant_id = %lease.tenant_id, wa_message_id, attempt, error = %e, "media download failed, retrying");
        tokio::select! {
            () = stop.cancelled() => return None,
            () = lease.fenced() => return None,
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(MAX_RETRY_WAIT);
    }
}

/// Runs one database step, again while PostgreSQL is unavailable, for as long as this node holds the shop and
/// the session runs (`None` once either ends: nothing is written without the lease). Other errors come back.
async fn with_store<'a, T>(
    lease: &Lease,
    stop: &CancellationToken,
    mut step: impl FnMut() -> BoxFuture<'a, store::Result<T>>,
) -> Option<store::Result<T>> {
    let mut wait = Duration::from_millis(200);
    let mut warned = false;
    loop {
        if !lease.is_valid() || stop.is_cancelled() {
            return None;
        }
        let done = tokio::select! {
            biased;
            () = stop.cancelled() => return None,
            () = lease.fenced() => return None,
            done = step() => done,
        };
        match done {
            Err(e) if e.is_unavailable() => {
                if !warned {
                    tracing::warn!(tenant_id = %lease.tenant_id, error.message = %e, "database unavailable: the customer's media waits for it");
                    warned = true;
                }
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = lease.fenced() => return None,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(MAX_RETRY_WAIT);
            }
            done => return Some(done),
        }
    }
}

/// This month's customer media of the shop, and its plan's allowance (`None`: unlimited).
async fn month_usage(shared: &NodeState, tenant_id: Uuid) -> store::Result<(i64, Option<i64>)> {
    let mut tx = shared.db.tenant(TenantCtx::new(tenant_id)).await?;
    let usage = store::media::month_usage(&mut tx, Utc::now()).await?;
    tx.commit().await?;
    Ok(usage)
}

/// The media stored under `media_id`, if any.
async fn stored(
    shared: &NodeState,
    tenant_id: Uuid,
    media_id: Uuid,
) -> store::Result<Option<Stored>> {
    let mut tx = shared.db.tenant(TenantCtx::new(tenant_id)).await?;
    let key = shared.master.data_key(&mut tx).await?;
    let found = match store::media::get(&mut tx, &key, media_id).await {
        Ok(media) => Some(Stored {
            media_id,
            kind: media.kind,
            mime: media.mime,
            size_bytes: u64::try_from(media.size_bytes).unwrap_or(0),
        }),
        Err(store::Error::NotFound) => None,
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    Ok(found)
}

/// Seals and stores the media; a second write of the same id (a redelivery) changes nothing.
async fn put(shared: &NodeState, tenant_id: Uuid, new: &NewMedia<'_>) -> store::Result<bool> {
    let mut tx = shared.db.tenant(TenantCtx::new(tenant_id)).await?;
    let key = shared.master.data_key(&mut tx).await?;
    let inserted = store::media::put(&mut tx, &key, new).await?;
    tx.commit().await?;
    Ok(inserted)
}
