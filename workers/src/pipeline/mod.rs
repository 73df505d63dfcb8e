//! The sales-bot pipeline, one module per stage. The unit of work is a chat: an inbound message is stored
//! (idempotently), then the worker claims its chat and answers every pending message of it in one turn. The
//! NATS message is acked last, once everything it caused is committed and published.
//!
//! - `consume`: the pull loop and the ack policy (ack, nak with a delay, or dead-letter then ack).
//! - `ingest`: stores the inbound message and any earlier one of its chat still in flight (catch-up).
//! - `claim`: claims the chat and runs turns while messages are pending, so one chat has one turn at a time.
//! - `turn`: one turn, `snapshot → respond → commit`: settings, catalogue and memory read in one short
//!   transaction, the model called with no connection held, then the reply, any order and the stock change
//!   written in one transaction together with the outbox entries.
//! - `outbox`: replies for the ingress and domain events, queued in the transaction that causes them and
//!   published after commit.
//! - `dead_letter`: messages the pipeline gives up on, kept with the reason.
//! - `sweep`: the safety net for stranded chats and unpublished outbox entries.
//! - `sales_tools`: the sales tools the model calls, run on the turn's snapshot.
//! - `media`: the voice notes and photos a turn reads, and its notices for media it cannot read.
//! - `photos`: product photos fetched once, checked and cached, sent before a reply.

mod claim;
mod consume;
mod customer_limits;
mod dead_letter;
mod ingest;
mod media;
mod outbox;
mod pay_check;
mod photos;
pub mod sales_tools;
mod sweep;
mod turn;

use std::sync::Arc;
use std::time::Duration;

use schemas::Subjects;
use store::Db;
use store::crypto::MasterKey;
use uuid::Uuid;

use crate::config::WorkerConfig;
use crate::llm::{LlmError, LlmProvider};

pub use consume::Outcome;

/// Why processing a delivery failed; the ack policy (`consume::outcome_of`) turns it into an [`Outcome`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// The turn failed and may succeed later (model rate limit, outage or timeout, stock changed under the
    /// turn…): retried after the delay, and counted toward the chat's poison limit.
    Retry {
        delay: Option<Duration>,
        reason: String,
    },
    /// Retrying cannot help.
    Permanent(String),
    /// The database is unavailable: retried until it is back, never counted as the message's fault.
    Store(store::Error),
    /// The database refused the work itself (bad data, a missing row): retried like a failed turn, and given
    /// up on at the poison limit.
    Defect(store::Error),
    /// NATS is unavailable: likewise.
    Nats(String),
}

impl From<store::Error> for Failure {
    fn from(e: store::Error) -> Self {
        if e.is_unavailable() {
            Failure::Store(e)
        } else {
            Failure::Defect(e)
        }
    }
}

impl From<LlmError> for Failure {
    fn from(e: LlmError) -> Self {
        match e {
            LlmError::RateLimited { retry_after } => Failure::Retry {
                delay: retry_after,
                reason: "le fournisseur du modèle limite le débit".into(),
            },
            LlmError::Transient(message) => Failure::Retry {
                delay: None,
                reason: message,
            },
            LlmError::Permanent(message) | LlmError::Refused(message) => {
                Failure::Permanent(message)
            }
        }
    }
}

/// One worker's pipeline; cheap to clone (the consume loop's tasks and the sweeper share it).
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
    /// Marks what this process published from the outbox, in batches.
    marks: tdj_nats::PublishedMarks,
    /// Opens the shops' media (voice notes and photos for the model, product photos to send).
    master: MasterKey,
}

impl Pipeline {
    pub fn new(
        db: Db,
        nats: async_nats::Client,
        subjects: Subjects,
        provider: Arc<dyn LlmProvider>,
        config: WorkerConfig,
        master: MasterKey,
    ) -> Self {
        let worker_id = format!("worker-{}", Uuid::new_v4().simple());
        let marks = tdj_nats::PublishedMarks::new(db.clone());
        Self {
            inner: Arc::new(Inner {
                db,
                nats,
                subjects,
                provider,
                config,
                worker_id,
                marks,
                master,
            }),
        }
    }

    pub fn worker_id(&self) -> &str {
        &self.inner.worker_id
    }
}
