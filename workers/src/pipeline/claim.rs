//! Chat claims: one turn of a chat at a time, across tasks and processes. A claim expires (so a dead worker's
//! chat is picked up again by the sweeper), and a turn re-checks it before writing.

use store::{TenantCtx, chats};
use uuid::Uuid;

use super::{Failure, Pipeline};

impl Pipeline {
    /// Answers the chat's pending messages, turn after turn, while this worker can claim it. A chat claimed by
    /// another worker is left to it: it re-checks for pending messages after releasing its claim.
    pub(super) async fn answer_chat(&self, ctx: TenantCtx, chat_id: Uuid) -> Result<(), Failure> {
        // One claim token per invocation: a process handles many messages at once, and two of its own tasks
        // must exclude each other exactly like two processes do.
        let claim = format!("{}/{}", self.inner.worker_id, Uuid::new_v4().simple());
        loop {
            if !self.try_claim(ctx, chat_id, &claim).await? {
                return Ok(());
            }
            let result = self.run_turn(ctx, chat_id, &claim).await;
            self.release(ctx, chat_id, &claim).await?;
            match result {
                Ok(true) => continue,
                Ok(false) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    async fn try_claim(&self, ctx: TenantCtx, chat_id: Uuid, claim: &str) -> Result<bool, Failure> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        let claimed =
            chats::try_claim(&mut tx, chat_id, claim, self.inner.config.claim_ttl()).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn release(&self, ctx: TenantCtx, chat_id: Uuid, claim: &str) -> Result<(), Failure> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        chats::release(&mut tx, chat_id, claim).await?;
        tx.commit().await?;
        Ok(())
    }
}
