//! The OpenAPI document, served at `GET /api/v1/openapi.json` and printed by `tdjaasa openapi`: the REST API,
//! the dashboard's pages (tag `pages`) and the operations' shared error body (`ApiError`, from [`crate::error::Body`]).

mod errors;

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
        crate::bot::read, crate::bot::replace, crate::bot::patch,
        crate::simulator::send, crate::conversations::list, crate::conversations::chat_messages,
        crate::conversations::reply,
        crate::conversations::set_bot, crate::orders::list, crate::orders::read, crate::orders::update,
        crate::dead_letters::list,
        crate::whatsapp::status, crate::whatsapp::connect, crate::whatsapp::logout, crate::whatsapp::events,
        crate::whatsapp::sandbox_scan, crate::whatsapp::sandbox_message,
        crate::health::healthz, crate::health::readyz, crate::health::metrics, document,
        crate::billing::routes::overview, crate::billing::routes::checkout, crate::billing::routes::payment,
        crate::billing::webhooks::wave, crate::billing::webhooks::orange_money, crate::billing::webhooks::stripe,
        crate::billing::webhooks::sandbox,
        crate::admin::tenants::list, crate::admin::tenants::detail, crate::admin::tenants::update,
        crate::admin::tenants::extend, crate::admin::tenants::plan, crate::admin::stats::stats,
        crate::admin::stats::activity, crate::admin::payments::list, crate::admin::payments::review,
        crate::admin::dead_letters::list, crate::admin::dead_letters::replay, crate::admin::dead_letters::discard,
        crate::dead_letters::replay, crate::dead_letters::discard,
        crate::team::overview, crate::team::invite, crate::team::resend, crate::team::cancel,
        crate::team::change_role, crate::team::remove, crate::team::accept, crate::account::change,
        crate::account::forgot, crate::account::reset,
    ),
    components(schemas(crate::error::Body, crate::error::FieldError, crate::products::import::RowError)),
    modifiers(&BearerAuth, &ErrorResponses),
    tags(
        (name = "auth"), (name = "products"), (name = "bot"), (name = "conversations"), (name = "orders"),
        (name = "team"), (name = "billing"), (name = "whatsapp"), (name = "webhooks"), (name = "admin"),
        (name = "ops"),
    ),
)]
pub struct ApiDoc;

/// A file sent as the raw request body (the CSV import): its bytes, whatever their encoding.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(
    dead_code,
    reason = "describes a request body in the OpenAPI document; handlers read bytes"
)]
pub(crate) struct FileBody(Vec<u8>);

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
