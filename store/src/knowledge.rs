//! What a shop tells its bot besides the catalogue: questions customers ask with the shop's answers, and the
//! zones it delivers to with their fee. Each list is replaced as a whole and kept in the shop's order.

use schemas::commerce::Xof;
use serde::{Deserialize, Serialize};

use crate::{Result, TenantTx};

/// Entries a shop may keep in each list.
pub const MAX_ENTRIES: usize = 50;

/// A question customers ask and the shop's answer ("Vous livrez à Bingerville ?" → "Oui, le mardi…").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FaqEntry {
    pub question: String,
    pub answer: String,
}

/// A zone the shop delivers to and what delivery there costs the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryZone {
    /// A commune or neighbourhood as customers name it ("Cocody", "Yopougon").
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub fee_xof: Xof,
}

/// The shop's knowledge, in the shop's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Knowledge {
    pub faq: Vec<FaqEntry>,
    pub delivery_zones: Vec<DeliveryZone>,
}

pub async fn get(tx: &mut TenantTx<'_>) -> Result<Knowledge> {
    let tenant_id = tx.tenant_id();
    let faq = sqlx::query_as!(
        FaqEntry,
        "select question, answer from bot_faq where tenant_id = $1 order by position",
        tenant_id,
    )
    .fetch_all(&mut **tx)
    .await?;
    let delivery_zones = sqlx::query_as!(
        DeliveryZone,
        r#"select name, fee_xof as "fee_xof: Xof" from delivery_zone where tenant_id = $1 order by position"#,
        tenant_id,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(Knowledge {
        faq,
        delivery_zones,
    })
}

/// Replaces both lists (already validated by the caller) in the transaction.
pub async fn replace(tx: &mut TenantTx<'_>, knowledge: &Knowledge) -> Result<()> {
    let tenant_id = tx.tenant_id();
    sqlx::query!("delete from bot_faq where tenant_id = $1", tenant_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query!("delete from delivery_zone where tenant_id = $1", tenant_id)
        .execute(&mut **tx)
        .await?;
    let (questions, answers): (Vec<String>, Vec<String>) = knowledge
        .faq
        .iter()
        .map(|e| (e.question.clone(), e.answer.clone()))
        .unzip();
    sqlx::query!(
        "insert into bot_faq (tenant_id, position, question, answer)
         select $1, (t.ord - 1)::int, t.question, t.answer
         from unnest($2::text[], $3::text[]) with ordinality as t(question, answer, ord)",
        tenant_id,
        &questions,
        &answers,
    )
    .execute(&mut **tx)
    .await?;
    let (names, fees): (Vec<String>, Vec<i64>) = knowledge
        .delivery_zones
        .iter()
        .map(|z| (z.name.clone(), z.fee_xof.get()))
        .unzip();
    sqlx::query!(
        "insert into delivery_zone (tenant_id, position, name, fee_xof)
         select $1, (t.ord - 1)::int, t.name, t.fee
         from unnest($2::text[], $3::bigint[]) with ordinality as t(name, fee, ord)",
        tenant_id,
        &names,
        &fees,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
