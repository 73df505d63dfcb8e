//! Keeping a JetStream message in progress while its work runs: a progress ack every third of the
//! consumer's ack wait, so a slow step (a model call, a reconnect, a database outage) does not get the message
//! redelivered to another consumer meanwhile.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};

/// Runs `work` to completion, sending progress acks for `message` every `ack_wait / 3`.
pub async fn while_in_progress<T>(
    message: &Message,
    ack_wait: Duration,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut progress = tokio::time::interval(ack_wait / 3);
    progress.tick().await;
    loop {
        tokio::select! {
            outcome = &mut work => return outcome,
            _ = progress.tick() => {
                if let Err(e) = message.ack_with(AckKind::Progress).await {
                    tracing::debug!(error = %e, "progress ack failed");
                }
            }
        }
    }
}
