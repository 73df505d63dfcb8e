//! The OpenAPI document, served at `GET /api/v1/openapi.json` and printed by `tdjaasa openapi`: the REST API,
//! the dashboard's pages (tag `pages`) and the operations' shared error body (`ApiError`, from [`crate::error::Body`]).

mod errors;
pub(crate) mod pages;

use axum::Json;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;
use errors::ErrorResponses;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tdjaasa API", description = "Assistants de vente WhatsApp pour les boutiques. Every error is \
        `{\"error\": {\"code\", \"message\", \"fields\"?, \"details\"?}}` (schema `ApiError`), with its message \
        in French; the dashboard's pages (tag `pages`) answer HTML instead."),
    paths(
        crate::auth::routes::signup, crate::auth::routes::login, crate::auth::routes::me,
        crate::products::list, crate::products::create, crate::products::read, crate::products::update,
        crate::products::remove, crate::products::import::import, crate::products::export::export,
        crate::bot::read, crate::bot::replace, crate::bot::patch, crate::bot::set_event_texts,
        crate::knowledge::read, crate::knowledge::replace, crate::order_notices::read,
        crate::order_notices::replace, crate::alert_phone::read, crate::alert_phone::replace,
        crate::payment_settings::read, crate::payment_settings::replace_wave,
        crate::payment_settings::replace_orange_money, crate::payment_settings::remove_wave,
        crate::payment_settings::remove_orange_money, crate::payment_settings::replace_cash_on_delivery,
        crate::simulator::send, crate::media::read, crate::conversations::list, crate::conversations::chat_messages,
        crate::conversations::reply,
        crate::conversations::set_bot, crate::orders::list, crate::orders::read, crate::orders::update,
        crate::dead_letters::list,
        crate::whatsapp::status, crate::whatsapp::connect, crate::whatsapp::logout, crate::whatsapp::events,
        crate::whatsapp::sandbox_scan, crate::whatsapp::sandbox_message,
        crate::health::healthz, crate::health::readyz, document,
        crate::billing::routes::overview, crate::billing::routes::checkout, crate::billing::routes::payment,
        crate::billing::webhooks::wave, crate::billing::webhooks::orange_money, crate::billing::webhooks::stripe,
        crate::billing::webhooks::sandbox, crate::order_pay::webhook::wave, crate::order_pay::webhook::orange_money,
        crate::order_pay::refund::refund_done,
        crate::admin::tenants::list, crate::admin::tenants::detail, crate::admin::tenants::update,
        crate::admin::tenants::extend, crate::admin::tenants::plan, crate::admin::stats::stats,
        crate::admin::stats::activity, crate::admin::payments::list, crate::admin::payments::review,
        crate::admin::dead_letters::list, crate::admin::dead_letters::replay, crate::admin::dead_letters::discard,
        crate::dead_letters::replay, crate::dead_letters::discard,
        crate::team::overview, crate::team::invite, crate::team::resend, crate::team::cancel,
        crate::team::change_role, crate::team::remove, crate::team::accept, crate::account::change,
        crate::account::forgot, crate::account::reset,
        // The dashboard's pages (GET only: the forms they post are not part of the contract).
        crate::web::auth::root, crate::web::auth::login_page, crate::web::auth::signup_page,
        crate::web::account::forgot_page, crate::web::account::reset_page, crate::web::team::invitation_page,
        crate::web::home::page, crate::web::home::more, crate::web::onboarding::resume,
        crate::web::onboarding::plan_step, crate::web::onboarding::step_page, crate::web::products::list,
        crate::web::products::new_page, crate::web::products::import_page, crate::web::products::export,
        crate::web::products::edit_page, crate::web::orders::list, crate::web::orders::detail,
        crate::web::conversations::list, crate::web::conversations::transcript, crate::web::test_chat::page, crate::web::media::serve,
        crate::web::settings::page, crate::web::payments::page, crate::web::whatsapp::page, crate::web::whatsapp::events,
        crate::web::billing::page, crate::web::billing::returned, crate::web::billing::receipt,
        crate::web::team::page, crate::web::account::change_page, crate::web::account::outbox,
        crate::web::live::events, crate::web::admin::overview::page, crate::web::admin::tenants::list,
        crate::web::admin::tenants::detail, crate::web::admin::payments::list,
        crate::web::admin::dead_letters::list, crate::billing::pages::page, crate::billing::pages::return_page,
        crate::order_pay::page::show,
        crate::web::assets::serve,
    ),
    components(schemas(crate::error::Body, crate::error::FieldError, crate::products::import::RowError)),
    modifiers(&BearerAuth, &ErrorResponses),
    tags(
        (name = "auth"), (name = "products"), (name = "bot"), (name = "conversations"), (name = "orders"),
        (name = "team"), (name = "billing"),
        (name = "payments", description = "How the shop's customers pay their orders: its own Wave and Orange \
            Money merchant accounts (owner only; secrets are write-only) and payment on delivery."),
        (name = "whatsapp"), (name = "webhooks"), (name = "admin"),
        (name = "ops"),
        (name = "pages", description = "The server-rendered dashboard (HTML). Pages under `/app` and `/admin` \
            need the session cookie `tdj_session` that signing in at `/login` sets; without it they redirect \
            to `/login`."),
    ),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as pretty-printed JSON, for `tdjaasa openapi` (CI validates it and generates a client from it).
pub fn pretty_json() -> Result<String, serde_json::Error> {
    ApiDoc::openapi().to_pretty_json()
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", operation_id = "getOpenApi", tag = "ops",
    responses((status = 200, body = Object, description = "The OpenAPI 3.1 document")))]
async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/openapi.json", get(document))
}
