//! `GET|PUT /api/v1/bot/knowledge`: what the shop tells its bot besides the catalogue — questions customers
//! ask with the shop's answers, and delivery zones with their fee. PUT replaces both lists (owner only).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use schemas::commerce::Xof;
use serde::Deserialize;
use store::knowledge::{self, DeliveryZone, FaqEntry, Knowledge, MAX_ENTRIES};
use store::{audit, text};

use crate::auth::AuthUser;
use crate::extract::ApiJson;
use crate::validate::Check;
use crate::{AppState, Result};

/// The highest delivery fee a zone may have, in FCFA.
pub const MAX_DELIVERY_FEE: i64 = 1_000_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/bot/knowledge", get(read).put(replace))
}

/// `PUT /api/v1/bot/knowledge`: both lists, in the order the bot should prefer them (send `[]` to clear one).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeInput {
    /// Up to 50 questions (3 to 300 characters) with their answers (1 to 1000 characters).
    pub faq: Vec<FaqInput>,
    /// Up to 50 zones, each named once (1 to 80 characters), with a fee of 0 to 1 000 000 FCFA.
    pub delivery_zones: Vec<ZoneInput>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaqInput {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneInput {
    pub name: String,
    pub fee_xof: i64,
}

/// The shop's questions and answers and its delivery zones.
#[utoipa::path(get, path = "/api/v1/bot/knowledge", operation_id = "getBotKnowledge", tag = "bot",
    security(("bearer" = [])),
    responses((status = 200, body = Knowledge), (status = 403, description = "Not an owner")))]
async fn read(State(state): State<AppState>, user: AuthUser) -> Result<Json<Knowledge>> {
    user.require_owner()?;
    Ok(Json(get_knowledge(&state, &user).await?))
}

pub(crate) async fn get_knowledge(state: &AppState, user: &AuthUser) -> Result<Knowledge> {
    let mut tx = state.db.tenant(user.ctx()).await?;
    let knowledge = knowledge::get(&mut tx).await?;
    tx.commit().await?;
    Ok(knowledge)
}

/// Replaces the shop's questions and answers and its delivery zones.
#[utoipa::path(put, path = "/api/v1/bot/knowledge", operation_id = "replaceBotKnowledge", tag = "bot",
    request_body = KnowledgeInput, security(("bearer" = [])),
    responses((status = 200, body = Knowledge), (status = 403, description = "Not an owner"),
              (status = 422, description = "Invalid fields")))]
async fn replace(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<KnowledgeInput>,
) -> Result<Json<Knowledge>> {
    Ok(Json(replace_knowledge(&state, &user, &input).await?))
}

/// Validates and stores both lists in one transaction.
pub(crate) async fn replace_knowledge(
    state: &AppState,
    user: &AuthUser,
    input: &KnowledgeInput,
) -> Result<Knowledge> {
    user.require_owner()?;
    let knowledge = validate(input)?;
    let mut tx = state.db.tenant(user.ctx()).await?;
    knowledge::replace(&mut tx, &knowledge).await?;
    audit::record(
        &mut tx,
        Some(user.user_id),
        "bot.knowledge_updated",
        serde_json::json!({ "faq": knowledge.faq.len(), "delivery_zones": knowledge.delivery_zones.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(knowledge)
}

/// Checks both lists, reporting every mistake with its row (`faq[2].answer`, `delivery_zones[0].name`).
pub(crate) fn validate(input: &KnowledgeInput) -> Result<Knowledge> {
    let mut check = Check::default();
    if input.faq.len() > MAX_ENTRIES {
        check.fail("faq", format!("{MAX_ENTRIES} questions au maximum."));
    }
    if input.delivery_zones.len() > MAX_ENTRIES {
        check.fail(
            "delivery_zones",
            format!("{MAX_ENTRIES} zones de livraison au maximum."),
        );
    }
    let faq = input
        .faq
        .iter()
        .enumerate()
        .map(|(i, entry)| FaqEntry {
            question: check.text(&format!("faq[{i}].question"), &entry.question, 3, 300),
            answer: check.text(&format!("faq[{i}].answer"), &entry.answer, 1, 1000),
        })
        .collect();
    let mut seen: Vec<String> = Vec::new();
    let mut delivery_zones = Vec::new();
    for (i, zone) in input.delivery_zones.iter().enumerate() {
        let name = check.text(&format!("delivery_zones[{i}].name"), &zone.name, 1, 80);
        let folded = text::words(&name, ' ');
        if !folded.is_empty() && seen.contains(&folded) {
            check.fail(
                &format!("delivery_zones[{i}].name"),
                "Cette zone figure déjà dans la liste.",
            );
        }
        seen.push(folded);
        let fee = check.range_i64(
            &format!("delivery_zones[{i}].fee_xof"),
            zone.fee_xof,
            0,
            MAX_DELIVERY_FEE,
            "Les frais de livraison sont un nombre entier de francs CFA, de 0 à 1 000 000.",
        );
        // A negative fee was reported just above.
        if let Ok(fee_xof) = Xof::new(fee) {
            delivery_zones.push(DeliveryZone { name, fee_xof });
        }
    }
    check.finish()?;
    Ok(Knowledge {
        faq,
        delivery_zones,
    })
}
