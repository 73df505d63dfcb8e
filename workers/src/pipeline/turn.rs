//! One turn of a chat: read a snapshot, let the model answer with no connection held, write the outcome.

use chrono::Utc;
use schemas::commerce::{Author, Direction, MessageStatus};
use schemas::{Channel, EventData, OutboundReply};
use serde_json::json;
use store::billing::{AnswerPermission, OperatorSuspension, SuspendReason};
use store::products::ProductFilter;
use store::{TenantCtx, bot_settings, chats, messages, orders, products, tenants};
use uuid::Uuid;

use super::tools::SalesTools;
use super::{Pipeline, TurnError};
use crate::llm::{CatalogItem, ChatMessage, Role, ShopProfile, Turn};

/// Products offered to the model: the whole active catalogue of a shop, up to this many.
const CATALOG_LIMIT: i64 = 1000;

impl Pipeline {
    /// Answers the pending messages of a claimed chat. `Ok(false)` when there was nothing to answer.
    pub(crate) async fn turn(
        &self,
        ctx: TenantCtx,
        chat_id: Uuid,
        claim: &str,
    ) -> Result<bool, TurnError> {
        let inner = &self.inner;
        let started = std::time::Instant::now();

        // 1. Snapshot, in one short transaction.
        let mut tx = inner.db.tenant(ctx).await?;
        let chat = chats::get(&mut tx, chat_id).await?;
        let ingested = chats::ingested_seq(&mut tx, chat_id).await?;
        let pending = messages::pending(&mut tx, chat_id, ingested).await?;
        let Some(last) = pending.last().cloned() else {
            tx.commit().await?;
            return Ok(false);
        };
        let pending_ids: Vec<Uuid> = pending.iter().map(|m| m.message_id).collect();
        if chat
            .bot_paused_until
            .is_some_and(|until| until > Utc::now())
        {
            messages::settle(
                &mut tx,
                &pending_ids,
                MessageStatus::Skipped,
                "Bot en pause : la conversation est reprise à la main.",
            )
            .await?;
            tx.commit().await?;
            return Ok(true);
        }
        let channel = chat.channel;
        // Real customers are answered only on a paid, unsuspended subscription within its quota; the simulator
        // answers otherwise (it is the shop's preview), except while the operator suspends the shop — a preview
        // that answered would lie. Messages are kept either way, with the reason shown.
        let permission = store::billing::answer_permission(&mut tx, Utc::now()).await?;
        let by_operator = permission
            == (AnswerPermission::Suspended {
                reason: SuspendReason::ByOperator,
            });
        if (channel == Channel::Whatsapp || by_operator) && !permission.is_allowed() {
            let suspension = if by_operator {
                store::billing::operator_suspension(&mut tx).await?
            } else {
                None
            };
            let detail = not_answered_reason(&permission, suspension.as_ref());
            messages::settle(&mut tx, &pending_ids, MessageStatus::Skipped, &detail).await?;
            store::audit::record(
                &mut tx,
                None,
                "bot.not_answered",
                json!({ "permission": permission, "chat_id": chat_id }),
            )
            .await?;
            tx.commit().await?;
            metrics::counter!("pipeline_not_answered_total").increment(1);
            return Ok(true);
        }
        let settings = bot_settings::get(&mut tx).await?;
        let tenant = tenants::get(&mut tx).await?;
        let filter = ProductFilter {
            active: Some(true),
            limit: CATALOG_LIMIT,
            ..Default::default()
        };
        let catalog: Vec<CatalogItem> = products::list(&mut tx, &filter)
            .await?
            .into_iter()
            .map(CatalogItem::from)
            .collect();
        let history = messages::history(&mut tx, chat_id, inner.config.history_messages).await?;
        let past_orders = orders::list(&mut tx, None, Some(chat_id), 10, 0).await?;
        tx.commit().await?;

        let turn = Turn {
            shop: ShopProfile {
                shop_name: tenant.name,
                bot_name: settings.bot_name,
                tone: settings.tone,
                language: settings.language,
                instructions: settings.instructions,
            },
            catalog,
            customer_name: chat.customer_name.clone(),
            history: history
                .into_iter()
                .map(|m| ChatMessage {
                    role: if m.direction == Direction::Inbound {
                        Role::Customer
                    } else {
                        Role::Shop
                    },
                    text: m.body,
                })
                .collect(),
            incoming: pending.iter().map(|m| m.body.clone()).collect(),
        };

        // 2. The model, with no database connection held.
        let mut tools = SalesTools::new(&turn.catalog, &past_orders, &chat.customer_name);
        let reply = inner.provider.respond(&turn, &mut tools).await?;
        let intents = std::mem::take(&mut tools.intents);
        drop(tools);
        let text = if reply.text.trim().is_empty() {
            "Merci pour votre message, nous revenons vers vous très vite.".to_owned()
        } else {
            reply.text.trim().to_owned()
        };

        // 3. The outcome, in one transaction.
        let mut tx = inner.db.tenant(ctx).await?;
        if !chats::holds_claim(&mut tx, chat_id, claim).await? {
            // The claim expired during a slow turn and another worker may be answering: drop this answer.
            tracing::warn!(%chat_id, "claim lost during the turn; the answer is discarded");
            return Ok(false);
        }
        let settled = messages::settle(&mut tx, &pending_ids, MessageStatus::Answered, "").await?;
        if settled != pending_ids.len() as u64 {
            return Ok(true);
        }
        for (index, intent) in intents.iter().enumerate() {
            let new = orders::NewOrder {
                order_id: intent.order_id,
                chat_id: Some(chat_id),
                customer_name: intent.customer_name.clone(),
                customer_phone: phone_of(&chat.customer_jid),
                customer_jid: chat.customer_jid.clone(),
                delivery_address: intent.delivery_address.clone(),
                note: intent.note.clone(),
                idempotency_key: format!("turn:{}:{index}", last.message_id),
                lines: intent.lines.clone(),
            };
            match orders::place(&mut tx, &new).await? {
                orders::Placed::Created(order) => {
                    store::outbox::push_event(
                        &mut tx,
                        &inner.subjects,
                        EventData::OrderCreated {
                            order_id: order.order_id,
                            order_ref: order.order_ref.clone(),
                            chat_id: order.chat_id,
                            total_xof: order.total_xof.get(),
                            items: order
                                .items
                                .iter()
                                .map(|i| schemas::events::OrderItem {
                                    product_id: i.product_id,
                                    name: i.product_name.clone(),
                                    quantity: i.quantity,
                                    unit_price_xof: i.unit_price_xof.get(),
                                })
                                .collect(),
                        },
                    )
                    .await?;
                }
                orders::Placed::Existing(_) => {}
                orders::Placed::Refused(refusal) => {
                    // Stock moved between the snapshot and now: answer again from fresh data.
                    return Err(TurnError::Retry {
                        delay: Some(std::time::Duration::from_millis(200)),
                        reason: format!("commande refusée à l'écriture : {refusal:?}"),
                    });
                }
            }
        }
        let outbound_id = format!("out-{}", last.message_id.simple());
        let now = Utc::now();
        let status = if channel == Channel::Simulator {
            MessageStatus::Sent
        } else {
            MessageStatus::Queued
        };
        let (sent, inserted) = messages::insert_outbound(
            &mut tx,
            &messages::NewOutbound {
                chat_id,
                outbound_id: &outbound_id,
                body: &text,
                author: Author::Bot,
                status,
                in_reply_to: Some(last.message_id),
                sent_at: now,
            },
        )
        .await?;
        if inserted {
            if channel == Channel::Whatsapp {
                let outbound = OutboundReply {
                    tenant_id: ctx.tenant_id,
                    chat_id,
                    customer_jid: chat.customer_jid.clone(),
                    text: text.clone(),
                    outbound_id: outbound_id.clone(),
                    in_reply_to: pending.iter().map(|m| m.wa_message_id.clone()).collect(),
                    created_at: now,
                };
                store::outbox::push(
                    &mut tx,
                    &inner.subjects.outbound(ctx.tenant_id),
                    &outbound_id,
                    &json!(outbound),
                )
                .await?;
            }
            store::outbox::push_event(
                &mut tx,
                &inner.subjects,
                EventData::MessageSent {
                    chat_id,
                    message_id: sent.message_id,
                    channel,
                    text: text.clone(),
                    author: Author::Bot,
                },
            )
            .await?;
        }
        if inserted {
            // Tokens are counted for every turn; only replies to real customers count toward the plan.
            let prompt = i64::try_from(reply.usage.prompt_tokens).unwrap_or(i64::MAX);
            let output = i64::try_from(reply.usage.output_tokens).unwrap_or(i64::MAX);
            if channel == Channel::Whatsapp {
                store::billing::record_bot_reply(&mut tx, now, prompt, output).await?;
            } else {
                store::billing::record_llm_tokens(&mut tx, now, prompt, output).await?;
            }
        }
        chats::touch(&mut tx, chat_id, now).await?;
        tx.commit().await?;
        super::publish_outbox(&inner.db, &inner.nats, ctx).await;

        metrics::histogram!("pipeline_turn_seconds", "provider" => inner.provider.name())
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("llm_tokens_total", "kind" => "prompt")
            .increment(reply.usage.prompt_tokens);
        metrics::counter!("llm_tokens_total", "kind" => "output")
            .increment(reply.usage.output_tokens);
        Ok(true)
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
        AnswerPermission::NotPaid => "Non répondu : le bot répondra à vos clients dès le paiement de l'abonnement.".into(),
        AnswerPermission::Allowed | AnswerPermission::GracePeriod { .. } => String::new(),
    }
}
