//! Consuming the inbound stream: the pull loop with bounded concurrency, what each delivery goes through
//! (ingest, then answer its chat), and the ack policy that turns the result into an [`Outcome`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use store::TenantCtx;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::claim::Start;
use super::{Failure, Pipeline, ingest};
use crate::Result;

/// What to do with a delivered NATS message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ack,
    /// Redeliver after the delay (transient failure).
    Retry(Duration),
    /// Give up: recorded in the dead-letter table with the reason, then acked.
    DeadLetter(String),
}

/// How long one pull request waits for messages before it is renewed.
const PULL_EXPIRES: Duration = Duration::from_secs(5);

impl Pipeline {
    /// Consumes the inbound stream until `shutdown`, then lets in-flight messages finish.
    ///
    /// Messages are pulled only for free slots (one pull asks for as many messages as there are free
    /// slots), so none waits in a client-side buffer while its ack wait runs out.
    /// The workers' consumer, looked up until it answers: a worker starting while NATS elects a leader (a node of
    /// the cluster lost, a restart) waits for it instead of exiting. `None` on shutdown.
    async fn find_consumer(
        &self,
        js: &jetstream::Context,
        shutdown: &CancellationToken,
    ) -> Option<jetstream::consumer::PullConsumer> {
        let mut wait = Duration::from_millis(200);
        loop {
            let found = async {
                js.get_stream(self.inner.subjects.inbound_stream())
                    .await
                    .map_err(|e| e.to_string())?
                    .get_consumer(&self.inner.subjects.workers_consumer())
                    .await
                    .map_err(|e| e.to_string())
            }
            .await;
            match found {
                Ok(consumer) => return Some(consumer),
                Err(e) => {
                    tracing::warn!(error = %e, ?wait, "the workers' consumer is not reachable yet; retrying");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return None,
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let js = jetstream::new(self.inner.nats.clone());
        let Some(consumer) = self.find_consumer(&js, &shutdown).await else {
            return Ok(());
        };
        let concurrency = self.inner.config.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let sweeper = tokio::spawn(self.clone().sweep_forever(slots.clone(), shutdown.clone()));
        // The operator's view of the backlog: every worker samples the same consumer (dashboards take the max).
        let sampler = tokio::spawn(tdj_nats::telemetry::sample_consumer(
            js.clone(),
            self.inner.subjects.inbound_stream(),
            self.inner.subjects.workers_consumer(),
        ));
        tracing::info!(worker = %self.inner.worker_id, concurrency, "worker consuming inbound messages");
        'pull: loop {
            let first = tokio::select! {
                () = shutdown.cancelled() => break,
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            };
            let mut free = vec![first];
            while let Ok(slot) = slots.clone().try_acquire_owned() {
                free.push(slot);
            }
            let batch = consumer
                .batch()
                .max_messages(free.len())
                .expires(PULL_EXPIRES)
                .messages()
                .await;
            let mut batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "pull from the inbound stream failed");
                    drop(free);
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    }
                }
            };
            loop {
                let next = tokio::select! {
                    () = shutdown.cancelled() => break 'pull,
                    next = batch.next() => next,
                };
                let Some(next) = next else { break };
                let message = match next {
                    Ok(message) => message,
                    Err(e) => {
                        tracing::warn!(error = %e, "pull from the inbound stream failed");
                        break;
                    }
                };
                let Some(slot) = free.pop() else {
                    // Not expected: the server sends at most the batch size. Take a slot like the others.
                    tracing::warn!("more messages than requested in a pull");
                    break;
                };
                let pipeline = self.clone();
                tokio::spawn(async move {
                    pipeline.consume_message(message).await;
                    drop(slot);
                });
            }
        }
        // Wait for the in-flight messages (bounded), so a deploy does not cut a turn in half needlessly.
        let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(Duration::from_secs(30), slots.acquire_many(all)).await;
        sweeper.abort();
        sampler.abort();
        tracing::info!("worker stopped");
        Ok(())
    }

    /// Processes one JetStream message, then acknowledges it according to the outcome: acked when its effect
    /// (or its dead letter) is stored, nak'ed with a delay to be retried. While it is being processed, a
    /// progress ack every third of the consumer's ack wait keeps JetStream from handing it to another
    /// worker (a chat may need several turns; a slow model is bounded by the turn deadline).
    async fn consume_message(&self, message: jetstream::Message) {
        let (delivered, stream_seq) = match message.info() {
            Ok(info) => (info.delivered, Some(info.stream_sequence)),
            Err(e) => {
                tracing::warn!(error = %e, "a JetStream message without delivery info");
                (1, None)
            }
        };
        // The customer message's trace, continued from the headers the ingress (or simulator) set: every log
        // line of this delivery carries the trace id and the shop.
        let span = tracing::info_span!(
            "message",
            tenant_id = tracing::field::Empty,
            trace_id = tracing::field::Empty
        );
        if let Some(tenant_id) = ingest::tenant_of(&self.inner.subjects, &message.subject) {
            span.record("tenant_id", tracing::field::display(tenant_id));
        }
        tdj_nats::trace::continue_trace(&span, message.headers.as_ref());
        let work = self.process(&message.subject, &message.payload, delivered, stream_seq);
        let outcome = tdj_nats::while_in_progress(&message, tdj_nats::WORKERS_ACK_WAIT, work)
            .instrument(span)
            .await;
        let ack = match &outcome {
            Outcome::Ack | Outcome::DeadLetter(_) => message.ack().await,
            Outcome::Retry(delay) => message.ack_with(AckKind::Nak(Some(*delay))).await,
        };
        if let Err(e) = ack {
            tracing::warn!(error = %e, "acknowledging an inbound message failed (it will be redelivered)");
        }
    }

    /// One step of the worker without JetStream, for tests: the outcome of the `delivered`-th delivery of
    /// `payload` on `subject`. With no stream sequence known, earlier in-flight messages are not caught up.
    pub async fn process_delivery(&self, subject: &str, payload: &[u8], delivered: i64) -> Outcome {
        self.process(subject, payload, delivered, None).await
    }

    /// Processes a delivery and decides its outcome. A message given up on is acked only once its dead
    /// letter is stored; if that fails too (the database is down), it is retried instead. `stream_seq`, the
    /// message's sequence in the inbound stream, lets ingest catch up earlier messages of its chat.
    async fn process(
        &self,
        subject: &str,
        payload: &[u8],
        delivered: i64,
        stream_seq: Option<u64>,
    ) -> Outcome {
        let started = Instant::now();
        let result = self.ingest_and_answer(subject, payload, stream_seq).await;
        let mut outcome = outcome_of(result, delivered);
        if let Outcome::DeadLetter(reason) = &outcome
            && let Err(e) = self
                .record_dead_letter(subject, payload, reason, delivered)
                .await
        {
            tracing::warn!(error = %e, "could not store a dead letter; the message will be redelivered");
            outcome = Outcome::Retry(backoff(delivered));
        }
        let label = match &outcome {
            Outcome::Ack => "ack",
            Outcome::Retry(_) => "retry",
            Outcome::DeadLetter(_) => "dead_letter",
        };
        metrics::counter!("pipeline_messages_total", "outcome" => label).increment(1);
        metrics::histogram!("pipeline_message_seconds").record(started.elapsed().as_secs_f64());
        // One line per delivery, inside its span: the trace id and the shop come with it.
        tracing::info!(
            outcome = label,
            delivered,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "inbound message processed"
        );
        outcome
    }

    /// Ingests the message, claiming its chat in the same transaction, then answers the chat (not for a
    /// message the owner typed on the phone: it pauses the bot instead). A chat this worker cannot take now
    /// (held, backing off, its shop at its turn cap) stays pending for whoever can.
    async fn ingest_and_answer(
        &self,
        subject: &str,
        payload: &[u8],
        stream_seq: Option<u64>,
    ) -> Result<(), Failure> {
        let inbound = ingest::read_inbound(&self.inner.subjects, subject, payload)?;
        let ctx = TenantCtx::new(inbound.tenant_id);
        if inbound.from_owner {
            self.ingest(ctx, &inbound, subject, stream_seq, None)
                .await?;
            return Ok(());
        }
        let claim = self.claim_token();
        let ingested = self
            .ingest(ctx, &inbound, subject, stream_seq, Some(&claim))
            .await?;
        if !ingested.claimed {
            return Ok(());
        }
        let start = Start::Claimed {
            claim,
            advance_to: ingested.advance_to,
        };
        self.answer_chat(ctx, ingested.chat_id, start).await
    }
}

/// The ack policy. A message that cannot be read is dead-lettered at once, one whose work the database keeps
/// refusing at the poison limit of deliveries. A turn's failure is retried after
/// its delay (the turn itself counts it and dead-letters the chat's messages at the poison limit, see
/// `turn`). The database or NATS being down is never the message's fault: retried with backoff for as long
/// as it takes (the consumer has no delivery limit).
fn outcome_of(result: Result<(), Failure>, delivered: i64) -> Outcome {
    match result {
        Ok(()) => Outcome::Ack,
        Err(Failure::Permanent(reason)) => Outcome::DeadLetter(reason),
        Err(Failure::Retry { delay, .. }) => {
            Outcome::Retry(delay.unwrap_or_else(|| backoff(delivered)))
        }
        Err(Failure::Store(e)) => {
            tracing::warn!(error.cause_chain = ?e, error.message = %e, "database unavailable; the message will be retried");
            Outcome::Retry(backoff(delivered))
        }
        Err(Failure::Nats(e)) => {
            tracing::warn!(error.message = %e, "NATS unavailable; the message will be retried");
            Outcome::Retry(backoff(delivered))
        }
        Err(Failure::Defect(e)) => {
            tracing::error!(error.cause_chain = ?e, error.message = %e, delivered, "the database refused a message's work");
            if delivered >= i64::from(crate::config::MAX_FAILED_TURNS) {
                Outcome::DeadLetter(format!("erreur inattendue de la base de données : {e}"))
            } else {
                Outcome::Retry(backoff(delivered))
            }
        }
    }
}

/// 1 s, 2 s, 4 s … capped at one minute.
pub(super) fn backoff(attempt: i64) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 6)).unwrap_or(6);
    Duration::from_secs(2u64.pow(exponent)).min(Duration::from_secs(60))
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
    fn only_unreadable_messages_are_dead_lettered_by_the_ack_policy() {
        let retry = |delay| {
            Err(Failure::Retry {
                delay,
                reason: "panne".into(),
            })
        };
        let cases = [
            (Ok(()), 1, Outcome::Ack, "done"),
            (
                retry(Some(Duration::from_secs(12))),
                1,
                Outcome::Retry(Duration::from_secs(12)),
                "the provider's delay is honoured",
            ),
            (
                retry(None),
                2,
                Outcome::Retry(Duration::from_secs(2)),
                "backoff",
            ),
            (
                Err(Failure::Store(store::Error::Internal(anyhow::anyhow!(
                    "down"
                )))),
                50,
                Outcome::Retry(Duration::from_secs(60)),
                "a database outage is never dead-lettered, however long",
            ),
            (
                Err(Failure::Nats("down".into())),
                50,
                Outcome::Retry(Duration::from_secs(60)),
                "nor a NATS outage",
            ),
            (
                Err(Failure::Permanent("illisible".into())),
                1,
                Outcome::DeadLetter("illisible".into()),
                "a permanent failure gives up at once",
            ),
            (
                Err(Failure::Defect(store::Error::NotFound)),
                2,
                Outcome::Retry(Duration::from_secs(2)),
                "work the database refuses is retried…",
            ),
            (
                Err(Failure::Defect(store::Error::NotFound)),
                i64::from(crate::config::MAX_FAILED_TURNS),
                Outcome::DeadLetter("erreur inattendue de la base de données : not found".into()),
                "…up to the poison limit",
            ),
        ];
        for (result, delivered, expected, case) in cases {
            assert_eq!(outcome_of(result, delivered), expected, "{case}");
        }
    }
}
