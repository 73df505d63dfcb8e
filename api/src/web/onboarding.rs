//! Onboarding, resumable at any step, in the brief's order: choose a plan → pay → link WhatsApp → add
//! products → name the bot → "your bot is live". The step is stored on the tenant; each step's own form
//! (or "skip") moves it forward, never back.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use store::billing::SubscriptionStatus;
use store::tenants::OnboardingStep;
use store::{plans, products, tenants};

use super::billing::{PlanView, ProviderView, plan_views, provider_views, require_owner};
use super::bot_form::BotForm;
use super::error::WebResult;
use super::form::Posted;
use super::session::Session;
use super::view::{Chrome, Flash, render};
use super::whatsapp::WaPanel;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/onboarding", get(resume))
        .route("/app/onboarding/plan", get(plan_step).post(choose_plan))
        .route("/app/onboarding/{step}", get(step_page))
        .route("/app/onboarding/{step}/next", post(skip))
}

/// Moves the onboarding past `finished` (no-op if it is already further).
pub async fn advance(
    state: &AppState,
    session: &Session,
    finished: OnboardingStep,
) -> WebResult<()> {
    let next = finished.next();
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let current = tenants::onboarding_step(&mut tx).await?;
    if current < next {
        tenants::set_onboarding_step(&mut tx, next).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn current_step(state: &AppState, session: &Session) -> WebResult<OnboardingStep> {
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let step = tenants::onboarding_step(&mut tx).await?;
    tx.commit().await?;
    Ok(step)
}

/// The onboarding, where the owner left it.
#[utoipa::path(get, path = "/app/onboarding", operation_id = "onboardingPage", tag = "pages",
    responses((status = 303, description = "To the current step's page; to `/login` without a live session"),
              (status = 403, body = String, content_type = "text/html", description = "The \"not allowed\" page: the user is not an owner")))]
async fn resume(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Redirect> {
    require_owner(&session)?;
    let mut step = current_step(&state, &session).await?;
    if step == OnboardingStep::Pay && paid(&state, &session).await? {
        // Paid in another tab, or the payer never came back through the return page.
        advance(&state, &session, OnboardingStep::Pay).await?;
        step = current_step(&state, &session).await?;
    }
    let done = flash.0.map(|f| format!("?done={f}")).unwrap_or_default();
    Ok(Redirect::to(&format!("/app/onboarding/{step}{done}")))
}

async fn paid(state: &AppState, session: &Session) -> WebResult<bool> {
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let subscription = store::billing::subscription(&mut tx).await?;
    tx.commit().await?;
    Ok(subscription.status != SubscriptionStatus::Pending)
}

/// Progress dots.
pub struct Progress {
    pub dots: Vec<bool>,
    pub step: &'static str,
}

fn progress(step: OnboardingStep) -> Progress {
    let at = step.index();
    Progress {
        dots: (0..OnboardingStep::ALL.len() - 1).map(|i| i < at).collect(),
        step: step.as_str(),
    }
}

#[derive(askama::Template)]
#[template(path = "onboarding.html")]
struct OnboardingTemplate {
    chrome: Chrome,
    progress: Progress,
    plans: Vec<PlanView>,
    current_plan: String,
    providers: Vec<ProviderView>,
    paid: bool,
    wa: Option<WaPanel>,
    wa_connected: bool,
    product_count: i64,
    bot: Option<BotForm>,
    sandbox_whatsapp: bool,
}

async fn page_for(
    state: &AppState,
    session: &Session,
    step: OnboardingStep,
    flash: Flash,
    bot: Option<BotForm>,
) -> WebResult<Response> {
    let title = format!("onboarding.{step}.title");
    let mut chrome = Chrome::load(state, session, "onboarding", &title, flash).await?;
    chrome.nav = "onboarding";
    let lang = chrome.lang;
    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let plan = plans::of_tenant(&mut tx).await?;
    let subscription = store::billing::subscription(&mut tx).await?;
    let product_count = products::count(&mut tx).await?;
    tx.commit().await?;
    let all_plans = plans::list_active(state.db.pool()).await?;
    let wa = if step == OnboardingStep::Whatsapp {
        Some(WaPanel::load(state, session).await?)
    } else {
        None
    };
    let bot = match (step, bot) {
        (OnboardingStep::Bot, None) => Some(BotForm::of(
            lang,
            &crate::bot::get_bot_settings(state, &session.user).await?,
            "onboarding",
        )),
        (_, bot) => bot,
    };
    if step == OnboardingStep::Done {
        // Seeing the last page completes the onboarding.
        advance(state, session, OnboardingStep::Bot).await?;
    }
    render(&OnboardingTemplate {
        wa_connected: wa.as_ref().is_some_and(|w| w.connected),
        progress: progress(step),
        plans: plan_views(lang, &all_plans),
        current_plan: plan.plan_code,
        providers: provider_views(state, lang),
        paid: subscription.status != SubscriptionStatus::Pending,
        wa,
        product_count,
        bot,
        sandbox_whatsapp: state.config.whatsapp_sandbox,
        chrome,
    })
}

/// The onboarding's first step: choosing a plan.
#[utoipa::path(
    get,
    path = "/app/onboarding/plan",
    operation_id = "onboardingPlanPage",
    tag = "pages",
    responses(crate::openapi::pages::OwnerPage)
)]
async fn plan_step(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Response> {
    require_owner(&session)?;
    page_for(&state, &session, OnboardingStep::Plan, flash, None).await
}

/// One step of the onboarding.
#[utoipa::path(get, path = "/app/onboarding/{step}", operation_id = "onboardingStepPage", tag = "pages",
    params(("step" = String, Path, description = "`plan`, `pay`, `whatsapp`, `products`, `bot` or `done`")),
    responses(crate::openapi::pages::OwnerPage,
              (status = 404, body = String, content_type = "text/html", description = "The \"not found\" page: unknown step")))]
async fn step_page(
    State(state): State<AppState>,
    session: Session,
    Path(step): Path<String>,
    flash: Flash,
) -> WebResult<Response> {
    require_owner(&session)?;
    let Some(step) = OnboardingStep::parse(&step) else {
        return Err(crate::Error::NotFound("Étape inconnue.").into());
    };
    page_for(&state, &session, step, flash, None).await
}

/// The bot step again, with the posted values and their errors.
pub async fn bot_step_with(
    state: &AppState,
    session: &Session,
    bot: BotForm,
) -> WebResult<Response> {
    let page = page_for(
        state,
        session,
        OnboardingStep::Bot,
        Flash::default(),
        Some(bot),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Deserialize)]
struct PlanForm {
    #[serde(default)]
    plan: String,
}

async fn choose_plan(
    State(state): State<AppState>,
    posted: Posted<PlanForm>,
) -> WebResult<Response> {
    let Posted { session, form } = posted;
    require_owner(&session)?;
    let plan = plans::get_active(state.db.pool(), form.plan.trim())
        .await?
        .ok_or_else(|| {
            crate::Error::BadRequest(
                "Forfait inconnu : choisissez starter, pro ou business.".into(),
            )
        })?;
    let mut tx = state.db.billing(session.user.ctx()).await?;
    tenants::choose_plan_before_payment(&mut tx, &plan.plan_code).await?;
    tx.commit().await?;
    advance(&state, &session, OnboardingStep::Plan).await?;
    Ok(Redirect::to("/app/onboarding").into_response())
}

#[derive(Deserialize)]
struct Nothing {}

async fn skip(
    State(state): State<AppState>,
    Path(step): Path<String>,
    posted: Posted<Nothing>,
) -> WebResult<Response> {
    let session = posted.session;
    require_owner(&session)?;
    let Some(step) = OnboardingStep::parse(&step) else {
        return Err(crate::Error::NotFound("Étape inconnue.").into());
    };
    advance(&state, &session, step).await?;
    Ok(Redirect::to("/app/onboarding").into_response())
}
