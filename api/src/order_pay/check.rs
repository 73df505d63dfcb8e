//! "J'ai payé": the workers' question on `tdj.pay.check.<tenant>` (core NATS request/reply, queue group `api`)
//! when a customer says they paid. The bot never assumes: this asks the provider about each pending, unexpired
//! link of the order with the shop's own key, settles a paid one through [`super::settle`] (so the thank-you is
//! queued once, as with the webhook), and answers where the payment stands ([`PayCheckReply`]).
//!
//! Invariants: a provider error, a timeout or a link no one can ask answers `unknown`, never `paid`; the order
//! is read in the shop named by the subject only (row-level security), so another shop's order id is `none`
//! and no provider is called for it.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use schemas::billing::{OrderPaymentStatus, PayCheck, PayCheckReply, PayCheckStatus, Provider};
use store::order_payments::{self, OrderPayment, Settled};
use store::{TenantCtx, orders};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;
use tracing::instrument;
use uuid::Uuid;

use super::clients;
use super::orange::{self, Concluded};
use super::settle;
use crate::billing::providers::orange_money::OrangeMoney;
use crate::billing::providers::parse_xof;
use crate::billing::providers::wave::Wave;
use crate::{AppState, Result};

/// The queue group the API processes share, so one of them answers each question.
pub const QUEUE_GROUP: &str = "api";

/// Questions answered at once by one process; more wait for a slot (bounded memory and provider load).
const MAX_CONCURRENT_CHECKS: usize = 32;

/// How long a shutdown waits for the checks under way (a settlement is one transaction: one cut short is
/// rolled back, and the provider is asked again next time).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The subscription to the questions, made before the API says it is up (so no question finds no responder).
pub struct PayCheckResponder {
    subscriber: async_nats::Subscriber,
}

impl PayCheckResponder {
    /// Subscribes to every shop's questions in queue group [`QUEUE_GROUP`].
    pub async fn subscribe(state: &AppState) -> anyhow::Result<Self> {
        use anyhow::Context;
        let subject = state.subjects.pay_check_all();
        let subscriber = state
            .nats
            .queue_subscribe(subject.clone(), QUEUE_GROUP.into())
            .await
            .with_context(|| format!("cannot subscribe to {subject}"))?;
        state
            .nats
            .flush()
            .await
            .context("cannot flush the pay-check subscription")?;
        Ok(Self { subscriber })
    }

    /// Answers questions until `stop` fires (or its sender is dropped), then stops taking new ones and lets
    /// those under way finish, for at most [`DRAIN_TIMEOUT`].
    pub async fn run(mut self, state: AppState, mut stop: oneshot::Receiver<()>) {
        let slots = std::sync::Arc::new(Semaphore::new(MAX_CONCURRENT_CHECKS));
        let mut running = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut stop => break,
                Some(joined) = running.join_next(), if !running.is_empty() => {
                    if let Err(e) = joined {
                        tracing::error!(error = %e, "pay check task failed");
                    }
                }
                message = self.subscriber.next() => {
                    let Some(message) = message else { break };
                    let Ok(slot) = slots.clone().acquire_owned().await else { break };
                    let state = state.clone();
                    running.spawn(async move {
                        answer(&state, message).await;
                        drop(slot);
                    });
                }
            }
        }
        if let Err(e) = self.subscriber.unsubscribe().await {
            tracing::warn!(error = %e, "pay check unsubscribe failed");
        }
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = running.len(),
                "pay checks still running at shutdown: abandoned"
            );
            running.abort_all();
        }
    }
}

/// The shop a question's subject names: its last token, which must be a shop id.
fn tenant_of(subject: &str) -> Option<Uuid> {
    subject.rsplit('.').next()?.parse().ok()
}

/// Answers one question; a question without a shop id, a reply subject or a readable body gets no answer
/// (the asker times out, as with no API at all).
async fn answer(state: &AppState, message: async_nats::Message) {
    let Some(tenant) = tenant_of(&message.subject) else {
        tracing::warn!(subject = %message.subject, "pay check refused: the subject names no shop");
        return;
    };
    let Some(reply) = message.reply.clone() else {
        tracing::warn!(%tenant, "pay check refused: no reply subject");
        return;
    };
    let Ok(question) = serde_json::from_slice::<PayCheck>(&message.payload) else {
        tracing::warn!(%tenant, "pay check refused: unreadable question");
        return;
    };
    let status = match check(state, TenantCtx::new(tenant), question.order_id).await {
        Ok(status) => status,
        Err(e) => {
            tracing::error!(
                %tenant, order_id = %question.order_id,
                error.cause_chain = ?e, error.message = %e,
                "pay check failed"
            );
            PayCheckStatus::Unknown
        }
    };
    let body = match serde_json::to_vec(&PayCheckReply { status }) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(%tenant, error = %e, "pay check reply not encoded");
            return;
        }
    };
    if let Err(e) = state.nats.publish(reply, body.into()).await {
        tracing::warn!(%tenant, error = %e, "pay check reply not sent");
    }
}

/// What one link says about the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    Paid,
    Pending,
    /// Failed on another amount: no longer open.
    Closed,
    Unknown,
}

/// Where order `order_id` of shop `ctx` stands, asking the providers of its open links.
#[instrument(skip_all, fields(tenant_id = %ctx.tenant_id, %order_id))]
pub(crate) async fn check(
    state: &AppState,
    ctx: TenantCtx,
    order_id: Uuid,
) -> Result<PayCheckStatus> {
    let now = Utc::now();
    let open: Vec<OrderPayment> = {
        let mut tx = state.db.tenant(ctx).await?;
        let order = match orders::get(&mut tx, order_id).await {
            Ok(order) => order,
            // Unknown here, or another shop's order: row-level security hides it.
            Err(store::Error::NotFound) => return Ok(PayCheckStatus::None),
            Err(e) => return Err(e.into()),
        };
        if order.paid_at.is_some() {
            return Ok(PayCheckStatus::Paid);
        }
        order_payments::of_order(&mut tx, order_id)
            .await?
            .into_iter()
            .filter(|l| l.status == OrderPaymentStatus::Pending && l.expires_at > now)
            .collect()
        // The read transaction ends here: no transaction is held while a provider is asked.
    };
    let mut asker = Asker::new(state, ctx);
    let mut states = Vec::with_capacity(open.len());
    for link in &open {
        let link_state = asker.ask(link).await?;
        if link_state == LinkState::Paid {
            return Ok(PayCheckStatus::Paid);
        }
        states.push(link_state);
    }
    // Another check or the webhook may have settled the order since it was read (its link then no longer
    // pending): the order's own state has the last word.
    let settled_meanwhile = {
        let mut tx = state.db.tenant(ctx).await?;
        orders::get(&mut tx, order_id).await?.paid_at.is_some()
    };
    let status = if settled_meanwhile {
        PayCheckStatus::Paid
    } else if states.contains(&LinkState::Unknown) {
        PayCheckStatus::Unknown
    } else if states.contains(&LinkState::Pending) {
        PayCheckStatus::Pending
    } else {
        PayCheckStatus::None
    };
    tracing::info!(status = ?status, links = open.len(), "pay check answered");
    Ok(status)
}

/// Asks the providers about one shop's links (settling a paid one), opening each provider's client once.
pub(crate) struct Asker<'a> {
    state: &'a AppState,
    ctx: TenantCtx,
    wave: Option<Option<Wave>>,
    orange: Option<Option<OrangeMoney>>,
}

impl<'a> Asker<'a> {
    pub(crate) fn new(state: &'a AppState, ctx: TenantCtx) -> Self {
        Self {
            state,
            ctx,
            wave: None,
            orange: None,
        }
    }

    /// Where `link` stands at its provider; a paid one is settled (once) on the way.
    pub(crate) async fn ask(&mut self, link: &OrderPayment) -> Result<LinkState> {
        let (state, ctx) = (self.state, self.ctx);
        let order_payment_id = link.order_payment_id;
        Ok(match (link.provider, link.provider_ref.as_deref()) {
            // The customer has not opened the provider's checkout: no payment can exist yet.
            (Provider::Wave | Provider::OrangeMoney, None) => LinkState::Pending,
            (Provider::Wave, Some(session_id)) => match self.wave().await? {
                Some(client) => ask_wave(state, ctx, client, link, session_id).await?,
                None => {
                    tracing::warn!(%order_payment_id,
                        "Wave link of a shop without a Wave account: not asked");
                    LinkState::Unknown
                }
            },
            (Provider::OrangeMoney, Some(_)) => match self.orange_money().await? {
                Some(client) => ask_orange(state, ctx, client, link).await?,
                None => {
                    tracing::warn!(%order_payment_id,
                        "Orange Money link of a shop without an Orange Money account: not asked");
                    LinkState::Unknown
                }
            },
            // No provider to ask: the stored status is the truth.
            (Provider::Sandbox, _) => match link.status {
                OrderPaymentStatus::Paid => LinkState::Paid,
                OrderPaymentStatus::Pending => LinkState::Pending,
                OrderPaymentStatus::Expired | OrderPaymentStatus::Failed => LinkState::Closed,
            },
            // Orders are never paid by card: nothing to ask.
            (Provider::Stripe, _) => LinkState::Unknown,
        })
    }

    /// The shop's Wave client (made once), if it has a Wave account.
    pub(crate) async fn wave(&mut self) -> Result<Option<&Wave>> {
        if self.wave.is_none() {
            self.wave = Some(clients::wave(self.state, self.ctx).await?);
        }
        Ok(self.wave.as_ref().and_then(Option::as_ref))
    }

    /// The shop's Orange Money client (made once), if it has an Orange Money account.
    async fn orange_money(&mut self) -> Result<Option<&OrangeMoney>> {
        if self.orange.is_none() {
            self.orange = Some(clients::orange_money(self.state, self.ctx).await?);
        }
        Ok(self.orange.as_ref().and_then(Option::as_ref))
    }
}

/// Reads the link's Wave session (bounded by the billing timeout) and settles it if Wave says it succeeded.
async fn ask_wave(
    state: &AppState,
    ctx: TenantCtx,
    wave: &Wave,
    link: &OrderPayment,
    session_id: &str,
) -> Result<LinkState> {
    let order_payment_id = link.order_payment_id;
    let session = match tokio::time::timeout(state.billing.timeout, wave.retrieve(session_id)).await
    {
        Ok(Ok(session)) => session,
        Ok(Err(e)) => {
            tracing::warn!(%order_payment_id, error = %e, "Wave session not read");
            return Ok(LinkState::Unknown);
        }
        Err(_) => {
            tracing::warn!(%order_payment_id, "Wave session not read in time");
            return Ok(LinkState::Unknown);
        }
    };
    if session.payment_status.as_deref() != Some("succeeded") {
        return Ok(LinkState::Pending);
    }
    // Wave's session of another link (a stored reference that is not this link's): not this link's payment.
    if session
        .client_reference
        .as_deref()
        .is_some_and(|r| r != order_payment_id.to_string())
    {
        tracing::warn!(%order_payment_id, "Wave session of another reference: not settled");
        return Ok(LinkState::Unknown);
    }
    // An unreadable amount is not the link's amount: settled as a mismatch (the link fails, nothing paid).
    let paid_xof = parse_xof(&session.amount).unwrap_or(-1);
    let mut tx = state.db.tenant(ctx).await?;
    let settled = settle(
        &mut tx,
        &state.subjects,
        order_payment_id,
        paid_xof,
        &session.currency,
        "pay_check",
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    tdj_nats::publish_outbox(&state.db, &state.nats, ctx).await;
    Ok(match settled {
        Settled::Paid(_) | Settled::AlreadyPaid => LinkState::Paid,
        Settled::Mismatch { .. } => LinkState::Closed,
    })
}

/// Asks Orange about the link's web payment and applies the answer (settled once, or reopened if it failed).
async fn ask_orange(
    state: &AppState,
    ctx: TenantCtx,
    om: &OrangeMoney,
    link: &OrderPayment,
) -> Result<LinkState> {
    let status = orange::status_of(state, om, link).await;
    Ok(
        match orange::conclude(state, ctx, link, status, "pay_check").await? {
            Concluded::Settled(Settled::Paid(_) | Settled::AlreadyPaid) => LinkState::Paid,
            // Concluded by an earlier notification or check: the order's state (read after) tells.
            Concluded::Duplicate => LinkState::Pending,
            Concluded::Settled(Settled::Mismatch { .. }) => LinkState::Closed,
            Concluded::Reopened | Concluded::Open => LinkState::Pending,
            Concluded::Unknown => LinkState::Unknown,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_shop_id_as_the_last_token_names_a_shop() {
        let tenant = Uuid::new_v4();
        assert_eq!(
            tenant_of(&format!("t1.tdj.pay.check.{tenant}")),
            Some(tenant)
        );
        for subject in ["tdj.pay.check.abc", "tdj.pay.check.", "tdj.pay.check.*"] {
            assert_eq!(tenant_of(subject), None, "{subject}");
        }
    }
}
