//! "J'ai payé": the worker asks the API (`tdj.pay.check.<tenant>`, request/reply), which asks the payment
//! provider with the shop's own credentials and settles a payment it finds, before the bot answers. The worker
//! never talks to a provider itself, and never takes silence for a payment.

use std::time::Duration;

use async_trait::async_trait;
use schemas::billing::{PayCheck, PayCheckReply, PayCheckStatus};
use uuid::Uuid;

use super::sales_tools::PayChecker;

/// How long the bot waits for the provider's answer before saying it could not check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(8);

pub(super) struct NatsPayChecker {
    pub nats: async_nats::Client,
    pub subject: String,
}

#[async_trait]
impl PayChecker for NatsPayChecker {
    async fn check(&self, order_id: Uuid) -> PayCheckStatus {
        let Ok(payload) = serde_json::to_vec(&PayCheck { order_id }) else {
            return PayCheckStatus::Unknown;
        };
        let asked = tokio::time::timeout(
            CHECK_TIMEOUT,
            self.nats.request(self.subject.clone(), payload.into()),
        )
        .await;
        match asked {
            Ok(Ok(answer)) => serde_json::from_slice::<PayCheckReply>(&answer.payload)
                .map_or(PayCheckStatus::Unknown, |r| r.status),
            Ok(Err(e)) => {
                tracing::warn!(%order_id, error = %e, "payment check not answered");
                PayCheckStatus::Unknown
            }
            Err(_) => {
                tracing::warn!(%order_id, "payment check timed out");
                PayCheckStatus::Unknown
            }
        }
    }
}
