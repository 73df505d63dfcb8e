//! Chat claims: one turn of a chat at a time, across tasks and processes, and at most
//! `WORKER_TENANT_CONCURRENT_TURNS` turns of one shop at a time. A claim expires (so a dead worker's chat is
//! picked up again by the sweeper) and outlives the turn deadline; a turn re-checks it before writing.
//!
//! On the hot path a claim costs no transaction of its own: the delivery that stores a customer's message
//! claims its chat in the same transaction, and the turn's commit releases it when nothing is left to answer.

use store::chats::{self, ClaimOutcome};
use store::{TenantCtx, TenantTx};
use uuid::Uuid;

use super::{Failure, Pipeline};

/// How a turn left the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TurnEnd {
    /// Still claimed, with messages left to answer: run another turn.
    Again,
    /// Nothing was left: the claim is released, in the turn's last transaction. `next` is the shop's chat
    /// waiting longest with nobody on it, if any.
    Released { next: Option<Uuid> },
    /// The claim was lost to another worker, or the chat waits until its retry time (released).
    Left,
}

/// How answering a chat starts.
pub(super) enum Start {
    /// The delivery that stored the chat's message claimed it; the turn first advances the chat's ingested
    /// sequence to `advance_to` (everything up to it is stored).
    Claimed {
        claim: String,
        advance_to: Option<i64>,
    },
    /// The chat is to be claimed first (the sweeper, a shop's next waiting chat).
    ToClaim,
}

impl Pipeline {
    /// A fresh claim token. One per chat being answered: a process handles many messages at once, and two
    /// of its own tasks must exclude each other exactly like two processes do.
    pub(super) fn claim_token(&self) -> String {
        format!("{}/{}", self.inner.worker_id, Uuid::new_v4().simple())
    }

    /// Answers the chat's pending messages, turn after turn, while this worker holds it; then, as long as the
    /// shop has other chats waiting with nobody on them (held back by its turn cap), the oldest of those. A
    /// chat claimed by another worker is left to it: its commit re-checks for pending messages under the
    /// chat's row lock before releasing.
    pub(super) async fn answer_chat(
        &self,
        ctx: TenantCtx,
        chat_id: Uuid,
        start: Start,
    ) -> Result<(), Failure> {
        let mut next = self.answer_one_chat(ctx, chat_id, start).await?;
        while let Some(chat_id) = next {
            next = self.answer_one_chat(ctx, chat_id, Start::ToClaim).await?;
        }
        Ok(())
    }

    /// Runs the chat's turns while it has pending messages; returns the shop's next waiting chat when this
    /// worker answered this one until nothing was left.
    async fn answer_one_chat(
        &self,
        ctx: TenantCtx,
        chat_id: Uuid,
        start: Start,
    ) -> Result<Option<Uuid>, Failure> {
        let (claim, mut advance_to) = match start {
            Start::Claimed { claim, advance_to } => (claim, advance_to),
            Start::ToClaim => {
                let claim = self.claim_token();
                if !self.claim(ctx, chat_id, &claim, None).await? {
                    return Ok(None);
                }
                (claim, None)
            }
        };
        loop {
            match self.run_turn(ctx, chat_id, &claim, advance_to.take()).await {
                Ok(TurnEnd::Again) => {}
                Ok(TurnEnd::Released { next }) => return Ok(next),
                Ok(TurnEnd::Left) => return Ok(None),
                Err(e) => {
                    self.release(ctx, chat_id, &claim).await?;
                    return Err(e);
                }
            }
        }
    }

    /// Claims the chat in a transaction of its own, after advancing its ingested sequence to `advance_to`
    /// (in that order: a turn that is releasing the chat then either sees the advanced messages or has
    /// released before this claim).
    pub(super) async fn claim(
        &self,
        ctx: TenantCtx,
        chat_id: Uuid,
        claim: &str,
        advance_to: Option<i64>,
    ) -> Result<bool, Failure> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        if let Some(seq) = advance_to {
            chats::advance_ingested(&mut tx, chat_id, seq).await?;
        }
        let claimed = self.try_claim_in(&mut tx, chat_id, claim).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Claims the chat within the caller's transaction, unless another worker holds it, it is backing off
    /// after failed turns or its shop is at its turn cap.
    pub(super) async fn try_claim_in(
        &self,
        tx: &mut TenantTx<'_>,
        chat_id: Uuid,
        claim: &str,
    ) -> Result<bool, Failure> {
        let config = &self.inner.config;
        let outcome = chats::try_claim(
            tx,
            chat_id,
            claim,
            config.claim_ttl(),
            i64::from(config.tenant_concurrent_turns),
        )
        .await?;
        if outcome == ClaimOutcome::TenantBusy {
            metrics::counter!("pipeline_tenant_throttled_total").increment(1);
        }
        Ok(outcome == ClaimOutcome::Claimed)
    }

    /// Releases the claim in a transaction of its own (after a failed turn).
    async fn release(&self, ctx: TenantCtx, chat_id: Uuid, claim: &str) -> Result<(), Failure> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        chats::release(&mut tx, chat_id, claim).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Releases the claim within the caller's transaction (which holds the chat's row lock and found nothing
    /// left to answer) and returns the shop's chat waiting longest with nobody on it, if any.
    pub(super) async fn release_in(
        &self,
        tx: &mut TenantTx<'_>,
        chat_id: Uuid,
        claim: &str,
    ) -> Result<Option<Uuid>, Failure> {
        chats::release(tx, chat_id, claim).await?;
        Ok(chats::next_waiting(tx).await?)
    }
}
