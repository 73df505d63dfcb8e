//! One turn of a chat, in three steps: `Pipeline::take_snapshot` reads everything the turn needs in one
//! short transaction, `Pipeline::respond` lets the model answer with no connection held, and
//! `Pipeline::commit_turn` writes the outcome (answered messages, orders, the reply and its outbox entries)
//! in one transaction, provided the chat's claim still holds.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use schemas::billing::Provider;
use schemas::commerce::{Author, Direction, MessageStatus, OrderStatus};
use schemas::{Channel, EventData, InboundMessage, OutboundReply};
use serde_json::json;
use store::billing::{AnswerPermission, OperatorSuspension, SuspendReason};
use store::orders::Order;
use store::products::ProductFilter;
use store::{
    TenantCtx, TenantTx, bot_settings, chats, knowledge, messages, orders, products, tenants,
};
use uuid::Uuid;

use super::claim::TurnEnd;
use super::customer_limits::{self, Budget};
use super::media::{self, MediaPlan};
use super::photos::{Photo, SentPhoto};
use super::sales_tools::{OrderIntent, PayRequest, SalesTools};
use super::{Failure, Pipeline, outbox};
use crate::knowledge::{Opening, OpeningHours};
use crate::llm::{CatalogItem, ChatMessage, PaymentOptions, Role, ShopProfile, Turn, Usage};

/// Products offered to the model: the whole active catalogue of a shop, up to this many.
const CATALOG_LIMIT: i64 = 1000;
/// The customer's recent orders the `order_status` tool can report.
const PAST_ORDERS: i64 = 10;

/// What a turn knows, read in one transaction before the model is called.
struct Snapshot {
    chat: chats::Chat,
    channel: Channel,
    /// The customer messages this turn answers, oldest first (never empty).
    pending: Vec<messages::Message>,
    /// The last of them: it keys the reply and the turn's orders, so a retried turn repeats neither.
    last_message_id: Uuid,
    /// What the model sees: only this shop's data.
    turn: Turn,
    /// This customer's recent orders, for the `order_status` tool.
    past_orders: Vec<Order>,
    /// The language model may answer: always for customers; in the test chat, within the plan's monthly
    /// allowance of model turns (the offline assistant answers beyond it).
    model_allowed: bool,
    /// A WhatsApp customer's reply budget after this turn's reply, recorded with it.
    credit_left: Option<f32>,
    /// What the pending messages' media ask of the turn (their bytes are in `turn.media`).
    media: MediaPlan,
}

impl Snapshot {
    /// When the oldest message this turn answers was received.
    fn received_at(&self) -> Option<chrono::DateTime<Utc>> {
        self.pending.iter().map(|m| m.sent_at).min()
    }

    fn pending_ids(&self) -> Vec<Uuid> {
        self.pending.iter().map(|m| m.message_id).collect()
    }
}

/// What reading the snapshot found.
enum Prepared {
    /// Nothing to answer now (see [`TurnEnd`]).
    Ended(TurnEnd),
    /// The pending messages were settled without an answer (bot paused, shop not allowed to answer).
    Skipped,
    ToAnswer(Box<Snapshot>),
}

/// The shop's out-of-hours message, when the shop is closed at the turn and the customer has not had it in
/// the recent conversation: once per stretch of messages while closed, not on every reply. The bot still
/// answers (prices and orders need no one in the shop); the message says when a person will.
fn out_of_hours_notice(turn: &Turn) -> Option<String> {
    let notice = turn.shop.out_of_hours_message.trim();
    if notice.is_empty() || !matches!(turn.shop.hours.at(turn.now), Opening::Closed { .. }) {
        return None;
    }
    let already = turn
        .history
        .iter()
        .any(|m| m.role == Role::Shop && m.text.contains(notice));
    (!already).then(|| notice.to_owned())
}

/// Why pending messages are settled without an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unanswered {
    /// The owner took over the conversation.
    Paused,
    /// The subscription, the plan's quota or the operator does not allow an answer.
    NotAllowed,
}

/// The model's answer to the turn, with the orders it placed through the tools.
struct Response {
    text: String,
    intents: Vec<OrderIntent>,
    /// Why the provider handed the conversation over to the shop, if it did.
    handover: Option<String>,
    /// Orders the customer cancelled (still waiting for the shop).
    cancellations: Vec<Uuid>,
    usage: Usage,
    /// The engine that answered and the tools it called, recorded with the reply.
    engine: &'static str,
    called: Vec<&'static str>,
    /// What the customer said in each voice note, by message.
    transcripts: Vec<(Uuid, String)>,
    /// Product photos to send before the text, each with its caption.
    photos: Vec<Photo>,
    /// Orders the customer chose to pay by link.
    payments: Vec<PayRequest>,
}

/// What committing the turn did.
enum Committed {
    /// The claim expired during a slow turn and another worker may be answering: nothing was written.
    ClaimLost,
    /// Another turn answered these messages first: nothing was written.
    AlreadyAnswered,
    /// Written, with the chat's outbox entries to publish and the orders it created.
    Written(TurnEnd, Vec<store::outbox::Entry>, OrdersCreated),
}

/// The orders a turn created: counted once its transaction committed.
#[derive(Debug, Default, Clone, Copy)]
struct OrdersCreated {
    count: u64,
    value_xof: u64,
}

impl Pipeline {
    /// Answers the pending messages of a claimed chat, after advancing its ingested sequence to
    /// `advance_to`. In steady state a turn is two transactions: the snapshot, and the commit that also
    /// releases the chat when nothing is left.
    pub(super) async fn run_turn(
        &self,
        ctx: TenantCtx,
        chat_id: Uuid,
        claim: &str,
        advance_to: Option<i64>,
    ) -> Result<TurnEnd, Failure> {
        let started = Instant::now();
        let snapshot = match self.take_snapshot(ctx, chat_id, claim, advance_to).await? {
            Prepared::Ended(end) => return Ok(end),
            Prepared::Skipped => return Ok(TurnEnd::Again),
            Prepared::ToAnswer(snapshot) => snapshot,
        };
        let deadline = self.inner.config.turn_deadline();
        let response = match tokio::time::timeout(deadline, self.respond(&snapshot)).await {
            Ok(Ok(response)) => response,
            Ok(Err(failure)) => return self.turn_failed(ctx, claim, &snapshot, failure).await,
            Err(_) => {
                let failure = Failure::Retry {
                    delay: None,
                    reason: format!("le modèle n'a pas répondu en {} s", deadline.as_secs()),
                };
                return self.turn_failed(ctx, claim, &snapshot, failure).await;
            }
        };
        let (end, queued) = match self.commit_turn(ctx, claim, &snapshot, &response).await {
            Ok(Committed::ClaimLost) => return Ok(TurnEnd::Left),
            Ok(Committed::AlreadyAnswered) => return Ok(TurnEnd::Again),
            Ok(Committed::Written(end, queued, created)) => {
                record_committed(&snapshot, created);
                (end, queued)
            }
            Err(failure @ (Failure::Retry { .. } | Failure::Permanent(_))) => {
                return self.turn_failed(ctx, claim, &snapshot, failure).await;
            }
            Err(Failure::Defect(e)) => {
                let failure = Failure::Retry {
                    delay: None,
                    reason: format!("écriture refusée par la base de données : {e}"),
                };
                return self.turn_failed(ctx, claim, &snapshot, failure).await;
            }
            Err(infrastructure) => return Err(infrastructure),
        };
        self.publish_chat(queued).await;

        let inner = &self.inner;
        metrics::histogram!("pipeline_turn_seconds", "provider" => inner.provider.name())
            .record(started.elapsed().as_secs_f64());
        Ok(end)
    }

    /// Step 1: the pending messages and everything the model may know, in one short transaction, under the
    /// chat's row lock while this worker holds its claim. Messages the bot must not answer are settled as
    /// skipped, with the reason, here; with nothing to answer, the claim is released here.
    async fn take_snapshot(
        &self,
        ctx: TenantCtx,
        chat_id: Uuid,
        claim: &str,
        advance_to: Option<i64>,
    ) -> Result<Prepared, Failure> {
        let mut tx = self.inner.db.tenant(ctx).await?;
        if let Some(seq) = advance_to {
            chats::advance_ingested(&mut tx, chat_id, seq).await?;
        }
        let Some(chat) = chats::lock_claimed(&mut tx, chat_id, claim).await? else {
            tx.commit().await?;
            return Ok(Prepared::Ended(TurnEnd::Left));
        };
        let mut pending = messages::pending(&mut tx, chat_id, chat.ingested_seq).await?;
        // A backlog (a burst, or messages that waited out an outage) is answered oldest first, a bounded
        // number per turn, so the prompt stays small and no message is dropped; the next turn takes the rest.
        pending.truncate(customer_limits::MAX_PENDING_PER_TURN);
        let Some(last_message_id) = pending.last().map(|m| m.message_id) else {
            let next = self.release_in(&mut tx, chat_id, claim).await?;
            tx.commit().await?;
            return Ok(Prepared::Ended(TurnEnd::Released { next }));
        };
        let channel = chat.channel;
        if let Some(unanswered) = skip_unanswerable(&mut tx, &chat, channel, &pending).await? {
            tx.commit().await?;
            let reason = match unanswered {
                Unanswered::Paused => "paused",
                Unanswered::NotAllowed => "not_allowed",
            };
            metrics::counter!("pipeline_not_answered_total", "reason" => reason)
                .increment(pending.len() as u64);
            return Ok(Prepared::Skipped);
        }
        let mut credit_left = None;
        if channel == Channel::Whatsapp {
            let now = Utc::now();
            match customer_limits::budget(&chat, &self.inner.config, now) {
                Budget::Answer { credit_left: left } => credit_left = Some(left),
                Budget::WaitUntil(until) => {
                    chats::record_retry_at(&mut tx, chat_id, until).await?;
                    chats::release(&mut tx, chat_id, claim).await?;
                    tx.commit().await?;
                    metrics::counter!("pipeline_customer_throttled_total").increment(1);
                    return Ok(Prepared::Ended(TurnEnd::Left));
                }
                Budget::DailyCapReached { cap } => {
                    let ids: Vec<Uuid> = pending.iter().map(|m| m.message_id).collect();
                    let detail = format!(
                        "Non répondu : ce client a déjà reçu {cap} réponses du bot aujourd'hui (limite par client). \
                         Répondez-lui vous-même si besoin ; le bot reprendra demain."
                    );
                    messages::settle(&mut tx, &ids, MessageStatus::Skipped, &detail).await?;
                    tx.commit().await?;
                    metrics::counter!("pipeline_not_answered_total", "reason" => "daily_cap")
                        .increment(ids.len() as u64);
                    return Ok(Prepared::Skipped);
                }
            }
        }
        let english = bot_settings::get(&mut tx).await?.language == "en";
        let key = if pending
            .iter()
            .any(|m| m.attachment.as_ref().is_some_and(|a| a.media_id.is_some()))
        {
            Some(self.inner.master.data_key(&mut tx).await?)
        } else {
            None
        };
        let mut plan = media::plan(&mut tx, key.as_ref(), &pending, english).await?;
        if plan.stickers_only {
            let ids: Vec<Uuid> = pending.iter().map(|m| m.message_id).collect();
            messages::settle(
                &mut tx,
                &ids,
                MessageStatus::Skipped,
                "Autocollant : le bot n'y répond pas.",
            )
            .await?;
            tx.commit().await?;
            media::count(&plan.kinds, "offline");
            return Ok(Prepared::Skipped);
        }
        let mut turn = self.read_turn(&mut tx, &chat, &pending, &plan).await?;
        turn.media = std::mem::take(&mut plan.media);
        let past_orders = orders::list(&mut tx, None, Some(chat_id), PAST_ORDERS, 0).await?;
        let model_allowed = if channel == Channel::Simulator {
            let (used, limit) = store::billing::test_allowance(&mut tx, Utc::now()).await?;
            limit.is_none_or(|limit| used < limit)
        } else {
            true
        };
        tx.commit().await?;
        Ok(Prepared::ToAnswer(Box::new(Snapshot {
            chat,
            channel,
            pending,
            last_message_id,
            turn,
            past_orders,
            model_allowed,
            credit_left,
            media: plan,
        })))
    }

    /// The shop's profile, active catalogue and the chat's recent history, as the model sees them.
    async fn read_turn(
        &self,
        tx: &mut TenantTx<'_>,
        chat: &chats::Chat,
        pending: &[messages::Message],
        plan: &MediaPlan,
    ) -> Result<Turn, Failure> {
        let settings = bot_settings::get(tx).await?;
        let knowledge = knowledge::get(tx).await?;
        let payments = self.payment_options(tx).await?;
        let tenant = tenants::get(tx).await?;
        let filter = ProductFilter {
            active: Some(true),
            limit: CATALOG_LIMIT,
            ..Default::default()
        };
        let catalog: Vec<CatalogItem> = products::list(tx, &filter)
            .await?
            .into_iter()
            .map(CatalogItem::from)
            .collect();
        let history =
            messages::history(tx, chat.chat_id, self.inner.config.history_messages).await?;
        Ok(Turn {
            tenant_id: tx.tenant_id(),
            shop: ShopProfile {
                shop_name: tenant.name,
                bot_name: settings.bot_name,
                tone: settings.tone,
                language: settings.language,
                instructions: settings.instructions,
                faq: knowledge.faq,
                delivery_zones: knowledge.delivery_zones,
                hours: OpeningHours::from_settings(&settings.business_hours, &settings.time_zone),
                out_of_hours_message: settings.out_of_hours_message,
                payments,
            },
            catalog,
            customer_name: chat.customer_name.clone(),
            history: history
                .into_iter()
                .map(|m| {
                    if m.direction == Direction::Inbound {
                        ChatMessage {
                            role: Role::Customer,
                            text: media::history_text(&m),
                        }
                    } else {
                        ChatMessage {
                            role: Role::Shop,
                            text: m.body,
                        }
                    }
                })
                .collect(),
            incoming: pending
                .iter()
                .enumerate()
                .map(|(i, m)| media::incoming_text(m, plan.unreadable.contains(&i)))
                .collect(),
            media: Vec::new(),
            now: Utc::now(),
        })
    }

    /// How the shop's customers may pay: links for its own merchant accounts (Wave, Orange Money), else the
    /// sandbox where the platform's payment sandbox is on; and cash on delivery if the shop takes it.
    async fn payment_options(&self, tx: &mut TenantTx<'_>) -> Result<PaymentOptions, Failure> {
        use store::shop_payments::MerchantProvider;
        let settings = store::shop_payments::settings(tx).await?;
        let mut links: Vec<Provider> = [
            (MerchantProvider::Wave, Provider::Wave),
            (MerchantProvider::OrangeMoney, Provider::OrangeMoney),
        ]
        .into_iter()
        .filter(|(merchant, _)| {
            settings
                .accounts
                .iter()
                .any(|a| a.enabled && a.provider == *merchant)
        })
        .map(|(_, provider)| provider)
        .collect();
        let config = &self.inner.config;
        if links.is_empty() && config.pay_sandbox {
            links.push(Provider::Sandbox);
        }
        if config.public_url.is_none() {
            links.clear();
        }
        Ok(PaymentOptions {
            links,
            cash_on_delivery: settings.cash_on_delivery,
        })
    }

    /// Step 2: the model answers, calling the sales tools on the snapshot; no database connection is held.
    async fn respond(&self, snapshot: &Snapshot) -> Result<Response, Failure> {
        let checker = super::pay_check::NatsPayChecker {
            nats: self.inner.nats.clone(),
            subject: self.inner.subjects.pay_check(snapshot.turn.tenant_id),
        };
        let mut tools = SalesTools::new(
            &snapshot.turn.catalog,
            &snapshot.past_orders,
            &snapshot.chat.customer_name,
        )
        .knowing(&snapshot.turn.shop, snapshot.turn.now)
        .checking_payments(&checker);
        let provider: &dyn crate::llm::LlmProvider = if snapshot.model_allowed {
            self.inner.provider.as_ref()
        } else {
            &crate::llm::offline::Offline
        };
        let plan = &snapshot.media;
        let reply = if plan.leaves_something_to_answer(snapshot.pending.len()) {
            provider.respond(&snapshot.turn, &mut tools).await?
        } else {
            // Only media the bot cannot read: the notices are the whole answer, no model is asked.
            crate::llm::Reply {
                engine: "notice",
                ..Default::default()
            }
        };
        let answer = reply.text.trim();
        let mut text = match (plan.notices.is_empty(), answer.is_empty()) {
            (true, true) => {
                "Merci pour votre message, nous revenons vers vous très vite.".to_owned()
            }
            (true, false) => answer.to_owned(),
            (false, true) => plan.notices.join(" "),
            (false, false) => format!("{}\n\n{answer}", plan.notices.join(" ")),
        };
        let handover = tools.handover.take().or_else(|| plan.alert.clone());
        let transcripts = reply
            .transcripts
            .iter()
            .filter_map(|(i, heard)| Some((snapshot.pending.get(*i)?.message_id, heard.clone())))
            .collect();
        media::count(&plan.kinds, reply.engine);
        if let Some(notice) = out_of_hours_notice(&snapshot.turn) {
            text = format!("{notice}\n\n{text}");
        }
        if !snapshot.model_allowed && self.inner.provider.name() != "offline" {
            text.push_str(if snapshot.turn.shop.language == "en" {
                "\n\n(Test without AI: your plan's monthly allowance of AI test turns is used up, so the \
                 offline assistant answers here. Your WhatsApp customers are not affected.)"
            } else {
                "\n\n(Test sans IA : l'allocation mensuelle de tests avec l'IA de votre forfait est épuisée, \
                 l'assistant hors ligne répond ici. Vos clients WhatsApp ne sont pas concernés.)"
            });
        }
        let requested = std::mem::take(&mut tools.photos);
        let ctx = TenantCtx::new(snapshot.turn.tenant_id);
        let photos = self
            .product_photos(ctx, &snapshot.turn.catalog, &requested)
            .await;
        Ok(Response {
            text,
            transcripts,
            photos,
            payments: tools.payments,
            intents: tools.intents,
            handover,
            cancellations: tools.cancellations,
            engine: reply.engine,
            called: tools.called,
            usage: reply.usage,
        })
    }

    /// Step 3: the outcome, in one transaction, if this worker still holds the chat's claim: the messages
    /// answered, the orders placed (priced and stock-checked by the database), the reply stored and queued;
    /// then, under the chat's row lock, the claim released if nothing more is pending.
    async fn commit_turn(
        &self,
        ctx: TenantCtx,
        claim: &str,
        snapshot: &Snapshot,
        response: &Response,
    ) -> Result<Committed, Failure> {
        let chat_id = snapshot.chat.chat_id;
        let mut tx = self.inner.db.tenant(ctx).await?;
        let Some(locked) = chats::lock_claimed(&mut tx, chat_id, claim).await? else {
            tracing::warn!(%chat_id, "claim lost during the turn; the answer is discarded");
            return Ok(Committed::ClaimLost);
        };
        let pending_ids = snapshot.pending_ids();
        let settled = messages::settle(&mut tx, &pending_ids, MessageStatus::Answered, "").await?;
        if settled != pending_ids.len() as u64 {
            return Ok(Committed::AlreadyAnswered);
        }
        for (message_id, heard) in &response.transcripts {
            messages::set_transcript(&mut tx, *message_id, heard).await?;
        }
        let created = self
            .place_orders(&mut tx, snapshot, &response.intents)
            .await?;
        self.cancel_orders(&mut tx, chat_id, &response.cancellations)
            .await?;
        let now = Utc::now();
        let links = self
            .open_pay_links(&mut tx, snapshot, &response.payments, now)
            .await?;
        self.store_reply(&mut tx, ctx, snapshot, response, &links, now)
            .await?;
        if let Some(reason) = &response.handover {
            self.hand_over(&mut tx, ctx, snapshot, reason, now).await?;
        }
        chats::record_turn(&mut tx, chat_id, now, snapshot.credit_left).await?;
        let end = if messages::any_pending(&mut tx, chat_id, locked.ingested_seq).await? {
            TurnEnd::Again
        } else {
            TurnEnd::Released {
                next: self.release_in(&mut tx, chat_id, claim).await?,
            }
        };
        let queued = store::outbox::unpublished_of_chat(&mut tx, chat_id).await?;
        tx.commit().await?;
        Ok(Committed::Written(end, queued, created))
    }

    /// A turn that failed (model error or timeout, an order refused at write time): counted on the chat,
    /// which is held back until its retry time. At the poison limit, or at once when retrying cannot help,
    /// the pending messages are dead-lettered (kept with the reason for the shop and the operator to replay)
    /// and the chat goes on with whatever comes next. Database errors never get here: they are not the
    /// messages' fault.
    async fn turn_failed(
        &self,
        ctx: TenantCtx,
        claim: &str,
        snapshot: &Snapshot,
        failure: Failure,
    ) -> Result<TurnEnd, Failure> {
        let (delay, reason, permanent) = match failure {
            Failure::Retry { delay, reason } => (delay, reason, false),
            Failure::Permanent(reason) => (None, reason, true),
            infrastructure => return Err(infrastructure),
        };
        let chat_id = snapshot.chat.chat_id;
        let mut tx = self.inner.db.tenant(ctx).await?;
        if !chats::holds_claim(&mut tx, chat_id, claim).await? {
            return Ok(TurnEnd::Left);
        }
        let failed_turns = chats::record_failed_turn(&mut tx, chat_id).await?;
        let retry_in = delay.unwrap_or_else(|| super::consume::backoff(i64::from(failed_turns)));
        if !permanent && failed_turns < crate::config::MAX_FAILED_TURNS {
            let retry_at = Utc::now() + chrono::Duration::from_std(retry_in).unwrap_or_default();
            chats::record_retry_at(&mut tx, chat_id, retry_at).await?;
            tx.commit().await?;
            tracing::warn!(%chat_id, failed_turns, ?retry_in, %reason, "turn failed; retried later");
            metrics::counter!("pipeline_turn_failures_total").increment(1);
            return Err(Failure::Retry {
                delay: Some(retry_in),
                reason,
            });
        }
        let reason = if permanent {
            reason
        } else {
            format!("abandonné après {failed_turns} tentatives : {reason}")
        };
        for message in &snapshot.pending {
            let inbound = InboundMessage {
                tenant_id: ctx.tenant_id,
                channel: snapshot.channel,
                customer_jid: snapshot.chat.customer_jid.clone(),
                customer_name: snapshot.chat.customer_name.clone(),
                wa_message_id: message.wa_message_id.clone(),
                text: message.body.clone(),
                timestamp: message.sent_at,
                from_owner: false,
                attachment: None,
                location: None,
            };
            let subject = self
                .inner
                .subjects
                .inbound(ctx.tenant_id, inbound.chat_key());
            self.store_dead_letter(&mut tx, &subject, &json!(inbound), &reason, failed_turns)
                .await?;
        }
        chats::clear_failures(&mut tx, chat_id).await?;
        tx.commit().await?;
        tracing::warn!(%chat_id, %reason, "turn given up: messages dead-lettered");
        self.publish_outbox(ctx).await;
        Ok(TurnEnd::Again)
    }

    /// Places the orders the model took, one idempotency key each per turn. Stock that moved since the
    /// snapshot refuses an order: the turn is retried from fresh data.
    async fn place_orders(
        &self,
        tx: &mut TenantTx<'_>,
        snapshot: &Snapshot,
        intents: &[OrderIntent],
    ) -> Result<OrdersCreated, Failure> {
        let chat = &snapshot.chat;
        let mut created = OrdersCreated::default();
        for (index, intent) in intents.iter().enumerate() {
            let new = orders::NewOrder {
                order_id: intent.order_id,
                chat_id: Some(chat.chat_id),
                customer_name: intent.customer_name.clone(),
                customer_phone: phone_of(&chat.customer_jid),
                customer_jid: chat.customer_jid.clone(),
                delivery_address: intent.delivery_address.clone(),
                delivery_zone: intent.delivery_zone.clone(),
                delivery_fee_xof: intent.delivery_fee_xof,
                note: intent.note.clone(),
                idempotency_key: format!("turn:{}:{index}", snapshot.last_message_id),
                lines: intent.lines.clone(),
                hold_until: Some(
                    Utc::now()
                        + chrono::Duration::hours(i64::from(self.inner.config.order_hold_hours)),
                ),
            };
            match orders::place(tx, &new).await? {
                orders::Placed::Created(order) => {
                    self.queue_event(tx, Some(chat.chat_id), outbox::order_created(&order))
                        .await?;
                    created.count += 1;
                    created.value_xof += u64::try_from(order.total_xof.get()).unwrap_or(0);
                }
                orders::Placed::Existing(_) => {}
                orders::Placed::Refused(refusal) => {
                    // Stock moved between the snapshot and now: answer again from fresh data.
                    return Err(Failure::Retry {
                        delay: Some(Duration::from_millis(200)),
                        reason: format!("commande refusée à l'écriture : {refusal:?}"),
                    });
                }
            }
        }
        Ok(created)
    }

    /// Stores the bot's reply under its deterministic `outbound_id` and, the first time only, queues it for
    /// the ingress (WhatsApp) with its `message.sent` event and counts its tokens. A simulator reply is stored
    /// already sent and only published as an event.
    /// Cancels the orders the customer asked to cancel, their stock put back, if the shop has not confirmed
    /// them meanwhile (then the turn is answered again from fresh data).
    async fn cancel_orders(
        &self,
        tx: &mut TenantTx<'_>,
        chat_id: Uuid,
        cancellations: &[Uuid],
    ) -> Result<(), Failure> {
        for &order_id in cancellations {
            match orders::set_status(tx, order_id, OrderStatus::Cancelled).await {
                Ok((order, from)) => {
                    self.queue_event(
                        tx,
                        Some(chat_id),
                        EventData::OrderStatusChanged {
                            order_id,
                            order_ref: order.order_ref,
                            from,
                            to: OrderStatus::Cancelled,
                        },
                    )
                    .await?;
                }
                Err(store::Error::Constraint(c)) if c.starts_with("order_transition") => {
                    return Err(Failure::Retry {
                        delay: Some(Duration::from_millis(200)),
                        reason: "la commande a changé de statut pendant le tour".into(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Marks the chat as waiting for the shop and, the first time, alerts the owner's number on WhatsApp
    /// (real customers only; the test chat is the owner's own).
    async fn hand_over(
        &self,
        tx: &mut TenantTx<'_>,
        ctx: TenantCtx,
        snapshot: &Snapshot,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        let chat = &snapshot.chat;
        let newly = chats::flag_attention(tx, chat.chat_id, reason, now).await?;
        metrics::counter!("pipeline_handovers_total").increment(1);
        if !newly || snapshot.channel != Channel::Whatsapp {
            return Ok(());
        }
        let phone = bot_settings::alert_phone(tx).await?;
        if phone.is_empty() {
            return Ok(());
        }
        let number = phone_of(&chat.customer_jid);
        let who = if chat.customer_name.trim().is_empty() {
            number
        } else {
            format!("{} ({number})", chat.customer_name.trim())
        };
        let alert = OutboundReply {
            tenant_id: ctx.tenant_id,
            chat_id: chat.chat_id,
            customer_jid: format!("{phone}@s.whatsapp.net"),
            text: format!(
                "Tdjaasa : un client attend votre réponse.\n{who}\n{reason}\nRépondez-lui sur WhatsApp ou \
                 depuis le tableau de bord (Messages)."
            ),
            outbound_id: format!("alert-{}", snapshot.last_message_id.simple()),
            in_reply_to: Vec::new(),
            created_at: now,
            received_at: None,
            image: None,
        };
        self.queue_reply(tx, &alert).await?;
        Ok(())
    }

    /// The payment links the customer asked for, one per order and method (the same link when asked again), as
    /// lines for the reply: "Payer 15 000 FCFA avec Wave : https://…/pay/…".
    async fn open_pay_links(
        &self,
        tx: &mut TenantTx<'_>,
        snapshot: &Snapshot,
        requests: &[PayRequest],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, Failure> {
        let config = &self.inner.config;
        let Some(base) = config
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/'))
        else {
            return Ok(Vec::new());
        };
        let english = snapshot.turn.shop.language == "en";
        let valid_for = chrono::Duration::minutes(i64::from(config.pay_link_minutes.max(1)));
        let mut lines = Vec::new();
        for request in requests {
            let opened = store::order_payments::open_link(
                tx,
                request.order_id,
                request.provider,
                valid_for,
                now,
            )
            .await?;
            let Ok(link) = opened else {
                continue;
            };
            let amount = crate::llm::offline::money(link.amount_xof.get());
            let method = match request.provider {
                Provider::Wave => "Wave",
                Provider::OrangeMoney => "Orange Money",
                Provider::Stripe => "carte",
                Provider::Sandbox if english => "a test payment (no real money)",
                Provider::Sandbox => "un paiement test (aucun argent réel)",
            };
            let url = format!("{base}/pay/{}", link.token);
            lines.push(if english {
                format!("Pay {amount} with {method}: {url}")
            } else {
                format!("Payer {amount} avec {method} : {url}")
            });
        }
        Ok(lines)
    }

    async fn store_reply(
        &self,
        tx: &mut TenantTx<'_>,
        ctx: TenantCtx,
        snapshot: &Snapshot,
        response: &Response,
        links: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        let chat = &snapshot.chat;
        let channel = snapshot.channel;
        let last_message_id = snapshot.last_message_id;
        let outbound_id = format!("out-{}", last_message_id.simple());
        let text = if links.is_empty() {
            response.text.clone()
        } else {
            format!("{}\n\n{}", response.text, links.join("\n"))
        };
        let status = if channel == Channel::Simulator {
            MessageStatus::Sent
        } else {
            MessageStatus::Queued
        };
        for (index, photo) in response.photos.iter().enumerate() {
            let sent = SentPhoto {
                chat,
                channel,
                answered: last_message_id,
                index,
                at: now,
            };
            self.store_photo(tx, ctx, photo, sent).await?;
        }
        let record = json!({
            "engine": response.engine,
            "photos": response.photos.len(),
            "tools": response.called,
            "orders": response.intents.iter().map(|i| orders::order_ref(i.order_id)).collect::<Vec<_>>(),
            "cancelled": response.cancellations.len(),
            "handover": response.handover,
            "tokens": {
                "prompt": response.usage.prompt_tokens,
                "output": response.usage.output_tokens,
                "media": response.usage.media_tokens,
            },
        });
        let (sent, inserted) = messages::insert_outbound(
            tx,
            &messages::NewOutbound {
                chat_id: chat.chat_id,
                outbound_id: &outbound_id,
                body: &text,
                author: Author::Bot,
                status,
                in_reply_to: Some(last_message_id),
                sent_at: now,
                turn: Some(&record),
                attachment: None,
            },
        )
        .await?;
        if !inserted {
            return Ok(());
        }
        if channel == Channel::Whatsapp {
            let reply = OutboundReply {
                tenant_id: ctx.tenant_id,
                chat_id: chat.chat_id,
                customer_jid: chat.customer_jid.clone(),
                text: text.clone(),
                outbound_id: outbound_id.clone(),
                in_reply_to: snapshot
                    .pending
                    .iter()
                    .map(|m| m.wa_message_id.clone())
                    .collect(),
                created_at: now,
                received_at: snapshot.received_at(),
                image: None,
            };
            self.queue_reply(tx, &reply).await?;
        }
        let with_text = bot_settings::events_include_text(tx).await?;
        self.queue_event(
            tx,
            Some(chat.chat_id),
            EventData::MessageSent {
                chat_id: chat.chat_id,
                message_id: sent.message_id,
                channel,
                text: with_text.then(|| text.clone()),
                author: Author::Bot,
            },
        )
        .await?;
        // Tokens are counted for every turn; only replies to real customers count toward the plan.
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let tokens = store::billing::Tokens {
            prompt: count(response.usage.prompt_tokens),
            output: count(response.usage.output_tokens),
            media: count(response.usage.media_tokens),
        };
        if channel == Channel::Whatsapp {
            store::billing::record_bot_reply(tx, now, tokens).await?;
        } else {
            store::billing::record_test_turn(tx, now, tokens).await?;
        }
        Ok(())
    }
}

/// Settles the pending messages as skipped, with the reason the shop sees, when the bot must not answer:
/// the owner paused it, or the shop may not answer this channel now. Real customers are answered only on a
/// paid, unsuspended subscription within its quota; the simulator answers otherwise (it is the shop's
/// preview), except while the operator suspends the shop — a preview that answered would lie. Messages are
/// kept either way.
async fn skip_unanswerable(
    tx: &mut TenantTx<'_>,
    chat: &chats::Chat,
    channel: Channel,
    pending: &[messages::Message],
) -> Result<Option<Unanswered>, Failure> {
    let pending_ids: Vec<Uuid> = pending.iter().map(|m| m.message_id).collect();
    if chat
        .bot_paused_until
        .is_some_and(|until| until > Utc::now())
    {
        messages::settle(
            tx,
            &pending_ids,
            MessageStatus::Skipped,
            "Bot en pause : la conversation est reprise à la main.",
        )
        .await?;
        return Ok(Some(Unanswered::Paused));
    }
    let permission = store::billing::answer_permission(tx, Utc::now()).await?;
    let by_operator = permission
        == (AnswerPermission::Suspended {
            reason: SuspendReason::ByOperator,
        });
    if (channel == Channel::Whatsapp || by_operator) && !permission.is_allowed() {
        let suspension = if by_operator {
            store::billing::operator_suspension(tx).await?
        } else {
            None
        };
        let detail = not_answered_reason(&permission, suspension.as_ref());
        messages::settle(tx, &pending_ids, MessageStatus::Skipped, &detail).await?;
        store::audit::record(
            tx,
            None,
            "bot.not_answered",
            json!({ "permission": permission, "chat_id": chat.chat_id }),
        )
        .await?;
        return Ok(Some(Unanswered::NotAllowed));
    }
    Ok(None)
}

/// Counts a committed turn: its reply, the orders it took and, for the simulator (whose reply is shown as
/// soon as it is written), the reply latency. A WhatsApp reply's latency is measured by the ingress once sent.
fn record_committed(snapshot: &Snapshot, created: OrdersCreated) {
    let channel = snapshot.channel.as_str();
    metrics::counter!("pipeline_replies_total", "channel" => channel).increment(1);
    if created.count > 0 {
        metrics::counter!("orders_created_total").increment(created.count);
        metrics::counter!("orders_value_xof_total").increment(created.value_xof);
    }
    if snapshot.channel == Channel::Simulator
        && let Some(received) = snapshot.received_at()
    {
        let latency = (Utc::now() - received).to_std().unwrap_or_default();
        metrics::histogram!("pipeline_reply_latency_seconds", "channel" => channel)
            .record(latency.as_secs_f64());
    }
}

/// The phone number of a WhatsApp JID (`2250700000000@s.whatsapp.net` → `+2250700000000`).
fn phone_of(jid: &str) -> String {
    let user = jid.split('@').next().unwrap_or_default();
    let digits: String = user.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        String::new()
    } else {
        format!("+{digits}")
    }
}

/// What the shop sees on a customer message the bot did not answer (never sent to the customer). An operator
/// suspension and a non-payment are different states: paying lifts only the latter.
fn not_answered_reason(
    permission: &AnswerPermission,
    suspension: Option<&OperatorSuspension>,
) -> String {
    match permission {
        AnswerPermission::Suspended {
            reason: SuspendReason::ByOperator,
        } => {
            let reason = suspension.map_or("non précisé", |s| s.reason.as_str());
            format!(
                "Non répondu : votre boutique est suspendue par l'équipe Tdjaasa (motif : {reason}). \
                 Contactez l'équipe Tdjaasa pour la réactiver ; un paiement ne lève pas cette suspension."
            )
        }
        AnswerPermission::Suspended {
            reason: SuspendReason::Unpaid,
        } => {
            "Non répondu : l'abonnement est suspendu. Réglez votre abonnement pour réactiver le bot.".into()
        }
        AnswerPermission::ReplyLimitReached { limit } => format!(
            "Non répondu : la limite de {limit} réponses de votre forfait est atteinte ce mois-ci. \
             Passez à un forfait supérieur pour continuer."
        ),
        AnswerPermission::NotPaid => "Non répondu : l'essai gratuit est terminé ; le bot répondra à vos clients dès le paiement de l'abonnement.".into(),
        AnswerPermission::Allowed
        | AnswerPermission::GracePeriod { .. }
        | AnswerPermission::Trial { .. } => String::new(),
    }
}
