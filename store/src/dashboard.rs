//! The figures of the shop's home page: activity today and this month, and what needs the owner's attention.

use chrono::{DateTime, Utc};

use crate::{Result, TenantTx};

/// Activity since a point in time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// Conversations with at least one customer message in the period (simulator chats excluded).
    pub conversations: i64,
    /// Orders taken in the period from WhatsApp customers, cancelled ones and test-chat orders excluded.
    pub orders: i64,
    /// Their value in XOF.
    pub revenue_xof: i64,
}

/// Activity of the transaction's tenant since `since`.
pub async fn activity_since(tx: &mut TenantTx<'_>, since: DateTime<Utc>) -> Result<Activity> {
    Ok(sqlx::query_as!(
        Activity,
        r#"select
           (select count(distinct m.chat_id) from message m join chat c
              on c.tenant_id = m.tenant_id and c.chat_id = m.chat_id
            where m.tenant_id = $1 and m.direction = 'inbound' and m.sent_at >= $2
              and c.channel = 'whatsapp') as "conversations!",
           count(o.order_id) as "orders!",
           coalesce(sum(o.total_xof), 0)::bigint as "revenue_xof!"
         from (select o.order_id, o.total_xof from customer_order o
               left join chat c on c.tenant_id = o.tenant_id and c.chat_id = o.chat_id
               where o.tenant_id = $1 and o.created_at >= $2 and o.status <> 'cancelled'
                 and (c.channel is null or c.channel = 'whatsapp')) o"#,
        tx.tenant_id(),
        since,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// What the home page warns about.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attention {
    /// Messages that could not be processed after every retry, not yet replayed or discarded.
    pub dead_letters: i64,
    /// Orders waiting for the shop's confirmation.
    pub new_orders: i64,
    pub products: i64,
    /// Bot replies to WhatsApp customers this month (the plan's limit counts these).
    pub replies_this_month: i64,
    /// Conversations the bot handed over, waiting for the shop.
    pub handed_over: i64,
}

pub async fn attention(tx: &mut TenantTx<'_>, month: chrono::NaiveDate) -> Result<Attention> {
    Ok(sqlx::query_as!(
        Attention,
        r#"select
           (select count(*) from dead_letter where tenant_id = $1 and status = 'open') as "dead_letters!",
           (select count(*) from customer_order where tenant_id = $1 and status = 'new') as "new_orders!",
           (select count(*) from product where tenant_id = $1) as "products!",
           coalesce((select bot_replies from tenant_usage_now where tenant_id = $1 and month = $2), 0)::bigint
             as "replies_this_month!",
           (select count(*) from chat where tenant_id = $1 and attention_at is not null) as "handed_over!""#,
        tx.tenant_id(),
        month,
    )
    .fetch_one(&mut **tx)
    .await?)
}
