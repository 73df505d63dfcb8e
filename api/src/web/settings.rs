//! Settings: the bot's identity (name, tone, language, instructions, opening hours, out-of-hours message),
//! what the bot knows (questions and answers, delivery zones), the order update messages, the alert number,
//! the shop's details and the user's language. The bot form is also the onboarding's last step. A form posted
//! with mistakes re-renders the whole page with that form as typed and its errors (422).

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use store::{audit, tenants, users};

use super::auth::lang_cookie;
use super::billing::require_owner;
use super::bot_form::BotForm;
use super::error::WebResult;
use super::form::Posted;
use super::i18n::Lang;
use super::knowledge_form::KnowledgeForm;
use super::session::Session;
use super::view::{Chrome, FieldErrors, Flash, field_errors, render};
use crate::AppState;
use crate::order_notices::OrderMessages;
use crate::validate::Check;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/settings", get(page))
        .route("/app/settings/bot", post(save_bot))
        .route("/app/settings/business", post(save_business))
        .route("/app/settings/knowledge", post(save_knowledge))
        .route("/app/settings/order-messages", post(save_order_messages))
        .route("/app/settings/alert-phone", post(save_alert_phone))
        .route("/app/settings/language", post(save_language))
}

#[derive(askama::Template)]
#[template(path = "settings.html")]
struct SettingsTemplate {
    chrome: Chrome,
    bot: BotForm,
    knowledge: KnowledgeForm,
    notices: NoticesForm,
    /// The alert number as shown (or as typed, with its error).
    alert_phone: String,
    alert_error: String,
    business_name: String,
    business_error: String,
}

/// The settings: the bot's identity, the business, the interface language.
#[utoipa::path(
    get,
    path = "/app/settings",
    operation_id = "settingsPage",
    tag = "pages",
    responses(crate::openapi::pages::SignedInPage)
)]
async fn page(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Response> {
    render(&saved_page(&state, &session, flash).await?)
}

/// The page with every form as saved (the owner-only ones empty for staff, who do not see them).
async fn saved_page(
    state: &AppState,
    session: &Session,
    flash: Flash,
) -> WebResult<SettingsTemplate> {
    let chrome = Chrome::load(state, session, "settings", "settings.title", flash).await?;
    let settings = crate::bot::get_bot_settings(state, &session.user).await?;
    let owner = session.user.require_owner().is_ok();
    let knowledge = if owner {
        crate::knowledge::get_knowledge(state, &session.user).await?
    } else {
        Default::default()
    };
    let texts = if owner {
        crate::order_notices::get_order_messages(state, &session.user).await?
    } else {
        OrderMessages::default()
    };
    let alert_phone = if owner {
        let stored = crate::alert_phone::get_alert_phone(state, &session.user).await?;
        crate::phone::PhoneNumber::display(&stored.phone)
    } else {
        String::new()
    };
    Ok(SettingsTemplate {
        bot: BotForm::of(chrome.lang, &settings, "settings"),
        knowledge: KnowledgeForm::of(&knowledge),
        notices: NoticesForm {
            texts,
            errors: FieldErrors::default(),
        },
        alert_phone,
        alert_error: String::new(),
        business_name: chrome.shop_name.clone(),
        business_error: String::new(),
        chrome,
    })
}

/// The page again with one form as posted and its errors (`edit` puts them in), answered 422.
async fn refused(
    state: &AppState,
    session: &Session,
    edit: impl FnOnce(&mut SettingsTemplate),
) -> WebResult<Response> {
    let mut page = saved_page(state, session, Flash::default()).await?;
    edit(&mut page);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

async fn save_bot(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let from = match form.get("from").map(String::as_str) {
        Some("onboarding") => "onboarding",
        _ => "settings",
    };
    let mut bot = BotForm::posted(session.lang, &form, from);
    match crate::bot::replace_bot_settings(&state, &session.user, bot.input()).await {
        Ok(_) if from == "onboarding" => {
            super::onboarding::advance(&state, &session, store::tenants::OnboardingStep::Bot)
                .await?;
            Ok(Redirect::to("/app/onboarding").into_response())
        }
        Ok(_) => Ok(Redirect::to("/app/settings?done=saved").into_response()),
        Err(e) => {
            bot.errors = field_errors(e)?;
            if from == "onboarding" {
                return super::onboarding::bot_step_with(&state, &session, bot).await;
            }
            refused(&state, &session, |page| page.bot = bot).await
        }
    }
}

async fn save_business(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let mut check = Check::default();
    let name = check.text(
        "business_name",
        form.get("business_name").map_or("", String::as_str),
        2,
        120,
    );
    if let Err(e) = check.finish() {
        let errors = field_errors(e)?;
        return refused(&state, &session, |page| {
            page.business_name = name;
            page.business_error = errors.of("business_name").to_owned();
        })
        .await;
    }
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    tenants::rename(&mut tx, &name).await?;
    audit::record(
        &mut tx,
        Some(session.user.user_id),
        "tenant.renamed",
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/app/settings?done=saved").into_response())
}

async fn save_knowledge(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let mut knowledge = KnowledgeForm::posted(&form);
    let saved = match knowledge.input() {
        Ok(input) => crate::knowledge::replace_knowledge(&state, &session.user, &input).await,
        Err(fields) => Err(crate::Error::Validation(fields)),
    };
    match saved {
        Ok(_) => Ok(Redirect::to("/app/settings?done=saved#knowledge").into_response()),
        Err(e) => {
            knowledge.errors = field_errors(e)?;
            refused(&state, &session, |page| page.knowledge = knowledge).await
        }
    }
}

/// The texts customers get when an order changes status, with their errors.
struct NoticesForm {
    texts: OrderMessages,
    errors: FieldErrors,
}

impl NoticesForm {
    /// (field, text) per status, in the order of an order's life.
    fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("confirmed", self.texts.confirmed.clone()),
            ("shipped", self.texts.shipped.clone()),
            ("delivered", self.texts.delivered.clone()),
            ("cancelled", self.texts.cancelled.clone()),
        ]
    }
}

async fn save_order_messages(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let texts = OrderMessages {
        confirmed: get("confirmed"),
        shipped: get("shipped"),
        delivered: get("delivered"),
        cancelled: get("cancelled"),
    };
    match crate::order_notices::replace_order_messages(&state, &session.user, &texts).await {
        Ok(_) => Ok(Redirect::to("/app/settings?done=saved#order-messages").into_response()),
        Err(e) => {
            let errors = field_errors(e)?;
            refused(&state, &session, |page| {
                page.notices = NoticesForm { texts, errors };
            })
            .await
        }
    }
}

async fn save_alert_phone(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let typed = form.get("phone").cloned().unwrap_or_default();
    let input = crate::alert_phone::AlertPhone {
        phone: typed.clone(),
    };
    match crate::alert_phone::replace_alert_phone(&state, &session.user, &input).await {
        Ok(_) => Ok(Redirect::to("/app/settings?done=saved#alerts").into_response()),
        Err(e) => {
            let errors = field_errors(e)?;
            refused(&state, &session, |page| {
                page.alert_phone = typed;
                page.alert_error = errors.of("phone").to_owned();
            })
            .await
        }
    }
}

async fn save_language(
    State(state): State<AppState>,
    posted: Posted<HashMap<String, String>>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    let lang = form
        .get("lang")
        .and_then(|l| Lang::parse(l))
        .ok_or_else(|| crate::Error::BadRequest("Langue inconnue : fr ou en.".into()))?;
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    users::set_language(&mut tx, session.user.user_id, lang.code()).await?;
    tx.commit().await?;
    let jar = CookieJar::new().add(lang_cookie(&state, lang));
    Ok((jar, Redirect::to("/app/settings?done=language")).into_response())
}
