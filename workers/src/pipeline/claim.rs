//! Chat claims: one turn of a chat at a time, across tasks and processes, and at most
//! `WORKER_TENANT_CONCURRENT_TURNS` turns of one shop at a time. A claim expires (so a dead worker's chat is
//! picked up again by the sweeper) and outlives the turn deadline; a turn re-checks it before writing.

use store::chats::{self, ClaimOutcome};
use store::{TenantCtx, messages};
use uuid::Uuid;

use super::{Failure, Pipeline};

impl Pipeline {
    /// Answers the chat's pending messages, turn after turn, while this worker can claim it; then, as long as
    /// the shop has other chats waiting with nobody on them (held back by its turn cap), the oldest of
    /// those. A chat claimed by another worker is left to it: it re-checks for pending messages after
    /// releasing its claim.
    pub(super) async fn answer_chat(&self, ctx: TenantCtx, chat_id: Uuid) -> Result<(), Failure> {
        let mut chat_id = chat_id;
        loop {
            if !self.answer_one_chat(ctx, chat_id).await? {
                return Ok(());
            }
            match self.next_waiting_chat(ctx).await? {
                Some(next) => chat_id = next,
                None => return Ok(()),
            }
        }
    }

    /// Runs the chat's turns while it has pending messages. `Ok(true)` when this worker answered it until
    /// nothing was left (so it may take the shop's next waiting chat), `Ok(false)` when it could not claim it.
    async fn answer_one_chat(&self, ctx: TenantCtx, chat_id: Uuid) -> Result<bool, Failure> {
        // One claim token per invocation: a process handles many messages at once, and two of its own tasks
        // must exclude each other exactly like two processes do.
        let claim = format!("{}/{}", self.inner.worker_id, Uuid::new_v4().simple());
        loop {
            match self.try_claim(ctx, chat_id, &claim).await? {
                ClaimOutcome::Claimed => {}
                ClaimOutcome::Held | ClaimOutcome::BackingOff => return Ok(false),
                ClaimOutcome::TenantBusy => {
                    metrics::counter!("pipeline_tenant_throttled_total").increment(1);
                    return Ok(false);
                }
            }
            let result = self.run_turn(ctx, chat_id, &claim).await;
            self.release(ctx, chat_id, &claim).await?;
            match result {
                Ok(true) => continue,
                // Nothing was pending at the last look; a message stored since (whose own delivery saw the
                // chat held and left it to us) would otherwise wait for the sweeper.
                Ok(false) if self.has_pending(ctx, chat_id).await? => continue,
                Ok(false) => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    async fn try_claim(
        &self,
        ctx: TenantCtx,
        chat_id: Uuid,
        claim: &str,
    ) -> Result<ClaimOutcome, Failure> {
        let config = &self.inner.config;
        let mut tx = self.inner.db.tenant(ctx).await?;
        let outcome = chats::try_claim(
            &mut tx,
            chat_id,
            claim,
            config.claim_ttl(),
            i64::from(config.tenant_concurrent_turns),
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn release(&self, ctx: TenantCtx, chat_id: Uuid, claim: &str) -> Result<(), Failure> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        chats::release(&mut tx, chat_id, claim).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the chat has answerable pending messages.
    async fn has_pending(&self, ctx: TenantCtx, chat_id: Uuid) -> Result<bool, Failure> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        let ingested = chats::ingested_seq(&mut tx, chat_id).await?;
        let pending = messages::pending(&mut tx, chat_id, ingested).await?;
        tx.commit().await?;
        Ok(!pending.is_empty())
    }

    /// The shop's chat waiting longest with nobody on it, if any.
    async fn next_waiting_chat(&self, ctx: TenantCtx) -> Result<Option<Uuid>, Failure> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        let next = chats::next_waiting(&mut tx).await?;
        tx.commit().await?;
        Ok(next)
    }
}
