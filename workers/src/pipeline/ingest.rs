//! Ingest: an inbound message is read, checked against its subject's tenant and stored in its chat (a
//! redelivery is a no-op), together with every earlier message of the same chat still in flight, so that
//! turns answer the customer's messages in order.

use async_nats::jetstream;
use async_nats::jetstream::stream::DirectGetErrorKind;
use chrono::Utc;
use schemas::commerce::{Author, MessageStatus};
use schemas::{EventData, InboundMessage, Subjects};
use store::{TenantCtx, TenantTx, chats, messages};
use uuid::Uuid;

use super::{Failure, Pipeline};

/// Earlier messages of one subject looked up per catch-up, at most.
const MAX_CATCH_UP: usize = 200;

/// The inbound message of a delivery, if it is readable and belongs to the subject's tenant.
pub(super) fn read_inbound(
    subjects: &Subjects,
    subject: &str,
    payload: &[u8],
) -> Result<InboundMessage, Failure> {
    let tenant_id = tenant_of(subjects, subject)
        .ok_or_else(|| Failure::Permanent(format!("sujet inattendu : {subject}")))?;
    let mut inbound: InboundMessage = serde_json::from_slice(payload)
        .map_err(|e| Failure::Permanent(format!("message illisible : {e}")))?;
    // PostgreSQL text cannot hold NUL; a customer cannot mean one.
    for text in [&mut inbound.text, &mut inbound.customer_name] {
        if text.contains('\0') {
            *text = text.replace('\0', "");
        }
    }
    // One customer cannot make a turn's prompt arbitrarily long: the rest of an over-long text is dropped,
    // marked so the shop sees it was cut.
    if let Some((cut, _)) = inbound
        .text
        .char_indices()
        .nth(schemas::MAX_CUSTOMER_TEXT_CHARS)
    {
        inbound.text.truncate(cut);
        inbound.text.push_str(" […]");
    }
    if inbound.tenant_id != tenant_id {
        return Err(Failure::Permanent(
            "le message ne correspond pas à la boutique du sujet".into(),
        ));
    }
    Ok(inbound)
}

/// The tenant of `…tdj.in.<tenant>.<chat>`.
pub(super) fn tenant_of(subjects: &Subjects, subject: &str) -> Option<Uuid> {
    let prefix = subjects.inbound_all();
    let rest = subject.strip_prefix(prefix.strip_suffix('>')?)?;
    rest.split('.').next()?.parse().ok()
}

/// What storing a delivery did.
pub(super) struct Ingested {
    pub chat_id: Uuid,
    /// The delivery claimed the chat (only when asked to, for a customer's message).
    pub claimed: bool,
    /// With the claim: the stream sequence the chat's turn advances its ingested sequence to (everything up
    /// to it is stored), in the turn's first transaction rather than one of its own.
    pub advance_to: Option<i64>,
}

impl Pipeline {
    /// Stores the message and, when its stream sequence is known, the earlier ones of its subject still in
    /// flight. With `claim`, the chat is claimed in the transaction that stores the message; failing that (it
    /// is held, backing off or its shop busy), again once its sequence is advanced.
    pub(super) async fn ingest(
        &self,
        ctx: TenantCtx,
        inbound: &InboundMessage,
        subject: &str,
        stream_seq: Option<u64>,
        claim: Option<&str>,
    ) -> Result<Ingested, Failure> {
        let seq = stream_seq.and_then(|s| i64::try_from(s).ok());
        let stored = self.ingest_message(ctx, inbound, seq, claim).await?;
        let chat_id = stored.chat_id;
        let Some(stream_seq) = stream_seq else {
            return Ok(Ingested {
                chat_id,
                claimed: stored.claimed,
                advance_to: None,
            });
        };
        self.catch_up(ctx, subject, stream_seq, stored.ingested_seq)
            .await?;
        // Only now is everything up to `seq` stored.
        let seq = i64::try_from(stream_seq).unwrap_or(i64::MAX);
        if stored.claimed {
            return Ok(Ingested {
                chat_id,
                claimed: true,
                advance_to: Some(seq),
            });
        }
        let claimed = match claim {
            Some(claim) => self.claim(ctx, chat_id, claim, Some(seq)).await?,
            None => {
                let mut tx = self.inner.db.tenant(ctx).await?;
                chats::advance_ingested(&mut tx, chat_id, seq).await?;
                tx.commit().await?;
                false
            }
        };
        Ok(Ingested {
            chat_id,
            claimed,
            advance_to: None,
        })
    }

    /// Stores one message in its chat (a redelivery is a no-op), queues its event, with `claim` claims the
    /// chat for a customer's message, and publishes the event: one transaction.
    async fn ingest_message(
        &self,
        ctx: TenantCtx,
        inbound: &InboundMessage,
        stream_seq: Option<i64>,
        claim: Option<&str>,
    ) -> Result<Stored, Failure> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        let (chat_id, ingested_seq) = chats::upsert_for_message(
            &mut tx,
            inbound.channel,
            &inbound.customer_jid,
            &inbound.customer_name,
            inbound.timestamp,
        )
        .await?;
        let mut new_customer_message = false;
        if inbound.from_owner {
            self.store_owner_message(&mut tx, chat_id, inbound).await?;
        } else {
            new_customer_message = self
                .store_customer_message(&mut tx, chat_id, inbound, stream_seq)
                .await?;
        }
        let claimed = match claim {
            Some(claim) if !inbound.from_owner => {
                self.try_claim_in(&mut tx, chat_id, claim).await?
            }
            _ => false,
        };
        let queued = store::outbox::unpublished_of_chat(&mut tx, chat_id).await?;
        tx.commit().await?;
        if new_customer_message {
            metrics::counter!("pipeline_inbound_total", "channel" => inbound.channel.as_str())
                .increment(1);
        }
        self.publish_chat(queued).await;
        Ok(Stored {
            chat_id,
            ingested_seq,
            claimed,
        })
    }

    /// The owner answered by hand from the phone: keep it in the conversation and let the bot be quiet.
    async fn store_owner_message(
        &self,
        tx: &mut TenantTx<'_>,
        chat_id: Uuid,
        inbound: &InboundMessage,
    ) -> Result<(), Failure> {
        let (message, inserted) = messages::insert_outbound(
            tx,
            &messages::NewOutbound {
                chat_id,
                outbound_id: &inbound.wa_message_id,
                body: &inbound.text,
                author: Author::Owner,
                status: MessageStatus::Sent,
                in_reply_to: None,
                sent_at: inbound.timestamp,
                turn: None,
                attachment: None,
            },
        )
        .await?;
        if inserted {
            let until = Utc::now() + chrono::Duration::minutes(self.inner.config.takeover_minutes);
            chats::set_paused_until(tx, chat_id, Some(until)).await?;
            let with_text = store::bot_settings::events_include_text(tx).await?;
            self.queue_event(
                tx,
                Some(chat_id),
                EventData::MessageSent {
                    chat_id,
                    message_id: message.message_id,
                    channel: inbound.channel,
                    text: with_text.then(|| inbound.text.clone()),
                    author: Author::Owner,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// A customer's message, pending until a turn answers it; counted (WhatsApp only) the first time. False
    /// when it was stored before (a redelivery).
    async fn store_customer_message(
        &self,
        tx: &mut TenantTx<'_>,
        chat_id: Uuid,
        inbound: &InboundMessage,
        stream_seq: Option<i64>,
    ) -> Result<bool, Failure> {
        let new = messages::NewInbound {
            chat_id,
            wa_message_id: &inbound.wa_message_id,
            body: &inbound.text,
            attachment: inbound.attachment.as_ref(),
            location: inbound.location.as_ref().filter(|l| l.is_valid()),
            sent_at: inbound.timestamp,
            stream_seq,
        };
        let Some(message_id) = messages::insert_inbound(tx, &new).await? else {
            return Ok(false);
        };
        if inbound.channel == schemas::Channel::Whatsapp {
            store::billing::record_inbound(tx, Utc::now()).await?;
        }
        let with_text = store::bot_settings::events_include_text(tx).await?;
        self.queue_event(
            tx,
            Some(chat_id),
            EventData::MessageReceived {
                chat_id,
                message_id,
                channel: inbound.channel,
                customer_jid: inbound.customer_jid.clone(),
                text: with_text.then(|| inbound.text.clone()),
                media: inbound.attachment.as_ref().map(|a| a.kind),
                location: new.location.is_some(),
            },
        )
        .await?;
        Ok(true)
    }

    /// Stores every earlier message of the chat's subject that is still in flight (delivered to another task or
    /// worker but not stored yet), so the turn answers a contiguous prefix in the customer's order. Idempotent.
    /// `ingested` is the chat's ingested sequence when the message was stored.
    async fn catch_up(
        &self,
        ctx: TenantCtx,
        subject: &str,
        seq: u64,
        ingested: i64,
    ) -> Result<(), Failure> {
        let mut from = u64::try_from(ingested).unwrap_or(0) + 1;
        if from >= seq {
            return Ok(());
        }
        let js = jetstream::new(self.inner.nats.clone());
        let stream = js
            .get_stream_no_info(self.inner.subjects.inbound_stream())
            .await
            .map_err(|e| Failure::Nats(format!("inbound stream unavailable: {e}")))?;
        for _ in 0..MAX_CATCH_UP {
            // "Not found" means nothing more on this subject (or expired): the prefix is complete. Any
            // other error says nothing about the prefix: retry rather than answer around a gap.
            let earlier = match stream
                .direct_get_next_for_subject(subject, Some(from))
                .await
            {
                Ok(earlier) => earlier,
                Err(e) if e.kind() == DirectGetErrorKind::NotFound => break,
                Err(e) => {
                    return Err(Failure::Nats(format!("catching up {subject}: {e}")));
                }
            };
            if earlier.sequence >= seq {
                break;
            }
            if let Ok(message) = serde_json::from_slice::<InboundMessage>(&earlier.payload)
                && message.tenant_id == ctx.tenant_id
            {
                self.ingest_message(ctx, &message, i64::try_from(earlier.sequence).ok(), None)
                    .await?;
            }
            from = earlier.sequence + 1;
        }
        Ok(())
    }
}

/// What storing one message found.
struct Stored {
    chat_id: Uuid,
    /// The chat's ingested sequence before this message.
    ingested_seq: i64,
    claimed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_comes_from_the_subject() {
        let subjects = Subjects::with_prefix("t1").expect("prefix");
        let tenant = Uuid::new_v4();
        assert_eq!(
            tenant_of(&subjects, &subjects.inbound(tenant, "wa_225")),
            Some(tenant)
        );
        assert_eq!(
            tenant_of(&subjects, &format!("tdj.in.{tenant}.x")),
            None,
            "other namespace"
        );
        assert_eq!(tenant_of(&subjects, "t1.tdj.in.nope.x"), None);
    }

    #[test]
    fn an_over_long_customer_text_is_cut_and_marked() {
        let subjects = Subjects::with_prefix("t1").expect("prefix");
        let tenant_id = Uuid::new_v4();
        let message = schemas::InboundMessage {
            tenant_id,
            channel: schemas::Channel::Whatsapp,
            customer_jid: "2250700000000@s.whatsapp.net".into(),
            customer_name: String::new(),
            wa_message_id: "w1".into(),
            text: "é".repeat(schemas::MAX_CUSTOMER_TEXT_CHARS * 3),
            timestamp: chrono::Utc::now(),
            from_owner: false,
            attachment: None,
            location: None,
        };
        let payload = serde_json::to_vec(&message).expect("json");
        let read = read_inbound(&subjects, &subjects.inbound(tenant_id, "wa_225"), &payload)
            .map_err(|_| "unreadable")
            .expect("read");
        assert_eq!(
            read.text.chars().count(),
            schemas::MAX_CUSTOMER_TEXT_CHARS + " […]".chars().count()
        );
        assert!(read.text.ends_with(" […]"));
    }
}
