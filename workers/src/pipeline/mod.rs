//! The sales-bot pipeline. The unit of work is a chat: an inbound message is stored (idempotently), then the
//! worker claims its chat and answers every pending message of it in one turn — settings, catalogue and
//! memory read in one short transaction, the model called with no connection held, then the reply, any order
//! and the stock change written in one transaction together with the outbox entries (reply for the ingress,
//! domain events), which are published after commit. The NATS message is acked last.

mod sweep;
pub mod tools;
mod turn;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use schemas::commerce::{Author, MessageStatus};
use schemas::{EventData, InboundMessage, Subjects};
use store::{Db, TenantCtx, chats, messages};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::WorkerConfig;
use crate::llm::{LlmError, LlmProvider};
use crate::{Error, Result};

pub use tdj_nats::publish_outbox;

/// What to do with a delivered NATS message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ack,
    /// Redeliver after the delay (transient failure).
    Retry(Duration),
    /// Give up: recorded in the dead-letter table with the reason, then acked.
    DeadLetter(String),
}

/// Why a turn could not complete.
#[derive(Debug)]
pub(crate) enum TurnError {
    /// Try again later (model rate limit or outage, stock changed under the turn…).
    Retry {
        delay: Option<Duration>,
        reason: String,
    },
    /// Retrying cannot help.
    Permanent(String),
    Store(store::Error),
}

impl From<store::Error> for TurnError {
    fn from(e: store::Error) -> Self {
        TurnError::Store(e)
    }
}

impl From<LlmError> for TurnError {
    fn from(e: LlmError) -> Self {
        match e {
            LlmError::RateLimited { retry_after } => TurnError::Retry {
                delay: retry_after,
                reason: "le fournisseur du modèle limite le débit".into(),
            },
            LlmError::Transient(message) => TurnError::Retry {
                delay: None,
                reason: message,
            },
            LlmError::Permanent(message) => TurnError::Permanent(message),
        }
    }
}

#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    nats: async_nats::Client,
    subjects: Subjects,
    provider: Arc<dyn LlmProvider>,
    config: WorkerConfig,
    /// Identifies this process's claims.
    worker_id: String,
    tenant_limiter: DefaultKeyedRateLimiter<Uuid>,
}

impl Pipeline {
    pub fn new(
        db: Db,
        nats: async_nats::Client,
        subjects: Subjects,
        provider: Arc<dyn LlmProvider>,
        config: WorkerConfig,
    ) -> Self {
        let rate = NonZeroU32::new(config.tenant_turns_per_second).unwrap_or(NonZeroU32::MIN);
        let burst =
            NonZeroU32::new(config.tenant_turns_per_second.saturating_mul(2)).unwrap_or(rate);
        let worker_id = format!("worker-{}", Uuid::new_v4().simple());
        Self {
            inner: Arc::new(Inner {
                db,
                nats,
                subjects,
                provider,
                tenant_limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
                config,
                worker_id,
            }),
        }
    }

    pub fn worker_id(&self) -> &str {
        &self.inner.worker_id
    }

    /// Consumes the inbound stream until `shutdown`, then lets in-flight messages finish.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let js = jetstream::new(self.inner.nats.clone());
        let consumer: jetstream::consumer::PullConsumer = js
            .get_stream(self.inner.subjects.inbound_stream())
            .await
            .map_err(|e| Error::Nats(e.to_string()))?
            .get_consumer(&self.inner.subjects.workers_consumer())
            .await
            .map_err(|e| Error::Nats(e.to_string()))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| Error::Nats(e.to_string()))?;
        let concurrency = self.inner.config.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let sweeper = tokio::spawn(self.clone().sweep_forever(shutdown.clone()));
        tracing::info!(worker = %self.inner.worker_id, concurrency, "worker consuming inbound messages");
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => break,
                next = messages.next() => next,
            };
            let Some(next) = next else { break };
            let message = match next {
                Ok(message) => message,
                Err(e) => {
                    tracing::warn!(error = %e, "pull from the inbound stream failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let pipeline = self.clone();
            tokio::spawn(async move {
                pipeline.deliver(message).await;
                drop(slot);
            });
        }
        // Wait for the in-flight messages (bounded), so a deploy does not cut a turn in half needlessly.
        let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(Duration::from_secs(30), slots.acquire_many(all)).await;
        sweeper.abort();
        tracing::info!("worker stopped");
        Ok(())
    }

    /// Handles one JetStream message and acknowledges it according to the outcome.
    async fn deliver(&self, message: jetstream::Message) {
        let (delivered, stream_seq) = match message.info() {
            Ok(info) => (info.delivered, Some(info.stream_sequence)),
            Err(e) => {
                tracing::warn!(error = %e, "a JetStream message without delivery info");
                (1, None)
            }
        };
        let outcome = self
            .handle_delivery(&message.subject, &message.payload, delivered, stream_seq)
            .await;
        let ack = match &outcome {
            Outcome::Ack | Outcome::DeadLetter(_) => message.ack().await,
            Outcome::Retry(delay) => message.ack_with(AckKind::Nak(Some(*delay))).await,
        };
        if let Err(e) = ack {
            tracing::warn!(error = %e, "acknowledging an inbound message failed (it will be redelivered)");
        }
    }

    /// One step of the worker, exposed for tests: what a delivery of `payload` on `subject` leads to.
    pub async fn handle(&self, subject: &str, payload: &[u8], delivered: i64) -> Outcome {
        self.handle_delivery(subject, payload, delivered, None)
            .await
    }

    /// `handle`, knowing the message's inbound-stream sequence (lets the turn catch up earlier messages).
    async fn handle_delivery(
        &self,
        subject: &str,
        payload: &[u8],
        delivered: i64,
        stream_seq: Option<u64>,
    ) -> Outcome {
        let started = std::time::Instant::now();
        let outcome = match self.try_handle(subject, payload, stream_seq).await {
            Ok(()) => Outcome::Ack,
            Err(TurnError::Permanent(reason)) => Outcome::DeadLetter(reason),
            Err(TurnError::Retry { delay, reason }) => {
                if delivered >= tdj_nats::WORKER_MAX_DELIVER {
                    Outcome::DeadLetter(format!(
                        "abandonné après {delivered} tentatives : {reason}"
                    ))
                } else {
                    Outcome::Retry(delay.unwrap_or_else(|| backoff(delivered)))
                }
            }
            Err(TurnError::Store(e)) => {
                tracing::warn!(error.cause_chain = ?e, error.message = %e, "database error in a turn");
                if delivered >= tdj_nats::WORKER_MAX_DELIVER {
                    Outcome::DeadLetter("erreur de base de données persistante".into())
                } else {
                    Outcome::Retry(backoff(delivered))
                }
            }
        };
        if let Outcome::DeadLetter(reason) = &outcome {
            self.dead_letter(subject, payload, reason, delivered).await;
        }
        let label = match &outcome {
            Outcome::Ack => "ack",
            Outcome::Retry(_) => "retry",
            Outcome::DeadLetter(_) => "dead_letter",
        };
        metrics::counter!("pipeline_messages_total", "outcome" => label).increment(1);
        metrics::histogram!("pipeline_message_seconds").record(started.elapsed().as_secs_f64());
        outcome
    }

    async fn try_handle(
        &self,
        subject: &str,
        payload: &[u8],
        stream_seq: Option<u64>,
    ) -> Result<(), TurnError> {
        let tenant_id = tenant_of(&self.inner.subjects, subject)
            .ok_or_else(|| TurnError::Permanent(format!("sujet inattendu : {subject}")))?;
        let inbound: InboundMessage = serde_json::from_slice(payload)
            .map_err(|e| TurnError::Permanent(format!("message illisible : {e}")))?;
        if inbound.tenant_id != tenant_id {
            return Err(TurnError::Permanent(
                "le message ne correspond pas à la boutique du sujet".into(),
            ));
        }
        let ctx = TenantCtx::new(tenant_id);
        let seq = stream_seq.and_then(|s| i64::try_from(s).ok());
        let chat_id = self.store_inbound(ctx, &inbound, seq).await?;
        if let Some(seq) = stream_seq {
            self.catch_up(ctx, chat_id, subject, seq).await?;
        }
        if inbound.from_owner {
            return Ok(());
        }
        if self.inner.tenant_limiter.check_key(&tenant_id).is_err() {
            // The message is stored as pending: the sweeper answers it once the shop is under its rate again.
            metrics::counter!("pipeline_tenant_throttled_total").increment(1);
            return Ok(());
        }
        self.process_chat(ctx, chat_id).await
    }

    /// Stores the message (a redelivery is a no-op) and returns its chat.
    async fn store_inbound(
        &self,
        ctx: TenantCtx,
        inbound: &InboundMessage,
        stream_seq: Option<i64>,
    ) -> Result<Uuid, TurnError> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        let chat = chats::upsert(
            &mut tx,
            inbound.channel,
            &inbound.customer_jid,
            &inbound.customer_name,
        )
        .await?;
        let sent_at: DateTime<Utc> = inbound.timestamp;
        if inbound.from_owner {
            // The owner answered by hand from the phone: keep it in the conversation and let the bot be quiet.
            let (message, inserted) = messages::insert_outbound(
                &mut tx,
                &messages::NewOutbound {
                    chat_id: chat.chat_id,
                    outbound_id: &inbound.wa_message_id,
                    body: &inbound.text,
                    author: Author::Owner,
                    status: MessageStatus::Sent,
                    in_reply_to: None,
                    sent_at,
                },
            )
            .await?;
            if inserted {
                let until =
                    Utc::now() + chrono::Duration::minutes(self.inner.config.takeover_minutes);
                chats::set_paused_until(&mut tx, chat.chat_id, Some(until)).await?;
                store::outbox::push_event(
                    &mut tx,
                    &self.inner.subjects,
                    EventData::MessageSent {
                        chat_id: chat.chat_id,
                        message_id: message.message_id,
                        channel: inbound.channel,
                        text: inbound.text.clone(),
                        author: Author::Owner,
                    },
                )
                .await?;
            }
        } else if let Some(message_id) = messages::insert_inbound(
            &mut tx,
            chat.chat_id,
            &inbound.wa_message_id,
            &inbound.text,
            sent_at,
            stream_seq,
        )
        .await?
        {
            if inbound.channel == schemas::Channel::Whatsapp {
                store::billing::record_inbound(&mut tx, Utc::now()).await?;
            }
            store::outbox::push_event(
                &mut tx,
                &self.inner.subjects,
                EventData::MessageReceived {
                    chat_id: chat.chat_id,
                    message_id,
                    channel: inbound.channel,
                    customer_jid: inbound.customer_jid.clone(),
                    text: inbound.text.clone(),
                },
            )
            .await?;
        }
        chats::touch(&mut tx, chat.chat_id, sent_at).await?;
        tx.commit().await?;
        publish_outbox(&self.inner.db, &self.inner.nats, ctx).await;
        Ok(chat.chat_id)
    }

    /// Stores every earlier message of the chat's subject that is still in flight (delivered to another task or
    /// worker but not stored yet), so the turn answers a contiguous prefix in the customer's order. Idempotent.
    async fn catch_up(
        &self,
        ctx: TenantCtx,
        chat_id: Uuid,
        subject: &str,
        seq: u64,
    ) -> Result<(), TurnError> {
        const MAX_HOPS: usize = 200;
        let mut tx = self.inner.db.tenant(ctx).await?;
        let ingested = chats::ingested_seq(&mut tx, chat_id).await?;
        tx.commit().await?;
        let mut from = u64::try_from(ingested).unwrap_or(0) + 1;
        if from < seq {
            let js = jetstream::new(self.inner.nats.clone());
            let stream = js
                .get_stream_no_info(self.inner.subjects.inbound_stream())
                .await
                .map_err(|e| TurnError::Retry {
                    delay: None,
                    reason: format!("flux entrant indisponible : {e}"),
                })?;
            for _ in 0..MAX_HOPS {
                // An error means nothing more on this subject (or expired): the prefix is complete.
                let earlier = match stream
                    .direct_get_next_for_subject(subject, Some(from))
                    .await
                {
                    Ok(earlier) => earlier,
                    Err(_) => break,
                };
                if earlier.sequence >= seq {
                    break;
                }
                if let Ok(message) = serde_json::from_slice::<InboundMessage>(&earlier.payload)
                    && message.tenant_id == ctx.tenant_id
                {
                    self.store_inbound(ctx, &message, i64::try_from(earlier.sequence).ok())
                        .await?;
                }
                from = earlier.sequence + 1;
            }
        }
        // Only now is everything up to `seq` stored.
        let mut tx = self.inner.db.tenant(ctx).await?;
        chats::advance_ingested(&mut tx, chat_id, i64::try_from(seq).unwrap_or(i64::MAX)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Answers the chat's pending messages, turn after turn, while this worker can claim it. A chat claimed by
    /// another worker is left to it: it re-checks for pending messages after releasing its claim.
    pub(crate) async fn process_chat(
        &self,
        ctx: TenantCtx,
        chat_id: Uuid,
    ) -> Result<(), TurnError> {
        // One claim token per invocation: a process handles many messages at once, and two of its own tasks
        // must exclude each other exactly like two processes do.
        let claim = format!("{}/{}", self.inner.worker_id, Uuid::new_v4().simple());
        let worker = &claim;
        loop {
            let mut tx = self.inner.db.tenant(ctx).await?;
            let claimed =
                chats::try_claim(&mut tx, chat_id, worker, self.inner.config.claim_ttl()).await?;
            tx.commit().await?;
            if !claimed {
                return Ok(());
            }
            let result = self.turn(ctx, chat_id, worker).await;
            let mut tx = self.inner.db.tenant(ctx).await?;
            chats::release(&mut tx, chat_id, worker).await?;
            tx.commit().await?;
            match result {
                Ok(true) => continue,
                Ok(false) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    async fn dead_letter(&self, subject: &str, payload: &[u8], reason: &str, delivered: i64) {
        metrics::counter!("pipeline_dead_letters_total").increment(1);
        let Some(tenant_id) = tenant_of(&self.inner.subjects, subject) else {
            tracing::error!(%subject, %reason, "dead letter without a tenant: dropped after logging");
            return;
        };
        let payload: serde_json::Value = serde_json::from_slice(payload).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(payload).into_owned())
        });
        let wa_message_id = payload["wa_message_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let ctx = TenantCtx::new(tenant_id);
        let result: Result<(), store::Error> = async {
            let mut tx = self.inner.db.tenant(ctx).await?;
            let deliveries = i32::try_from(delivered).unwrap_or(i32::MAX);
            store::dead_letters::insert(&mut tx, subject, &wa_message_id, &payload, reason, deliveries).await?;
            if !wa_message_id.is_empty() {
                let ids: Vec<Uuid> = sqlx::query_scalar(
                    "select message_id from message where tenant_id = $1 and wa_message_id = $2 and status = 'pending'",
                )
                .bind(tenant_id)
                .bind(&wa_message_id)
                .fetch_all(&mut *tx)
                .await?;
                messages::settle(
                    &mut tx,
                    &ids,
                    MessageStatus::Skipped,
                    &format!("Non traité : {reason}"),
                ).await?;
            }
            store::outbox::push_event(&mut tx, &self.inner.subjects, EventData::MessageDeadLettered {
                wa_message_id,
                reason: reason.to_owned(),
            })
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                tracing::warn!(%tenant_id, %reason, "message dead-lettered");
                publish_outbox(&self.inner.db, &self.inner.nats, ctx).await;
            }
            Err(e) => {
                tracing::error!(%tenant_id, %reason, error = %e, "could not record a dead letter")
            }
        }
    }
}

/// 1 s, 2 s, 4 s … capped at one minute.
fn backoff(delivered: i64) -> Duration {
    let exponent = u32::try_from(delivered.saturating_sub(1).clamp(0, 6)).unwrap_or(6);
    Duration::from_secs(2u64.pow(exponent)).min(Duration::from_secs(60))
}

/// The tenant of `…tdj.in.<tenant>.<chat>`.
fn tenant_of(subjects: &Subjects, subject: &str) -> Option<Uuid> {
    let prefix = subjects.inbound_all();
    let rest = subject.strip_prefix(prefix.strip_suffix('>')?)?;
    rest.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|d| backoff(d).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

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
}
