//! Gives every error response of the REST operations the shared error body, so no handler can forget it.
//!
//! A `#[utoipa::path]` lists its 4xx and 5xx statuses with what they mean for that operation; this modifier
//! adds the `ApiError` schema ([`crate::error::Body`]) to each, a standard description where the handler gave
//! none, `Retry-After` on 429s, and the 401 that every operation behind the bearer token can answer. The
//! dashboard's pages (tag `pages`) are left alone: their errors are HTML pages.

use utoipa::Modify;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr, Response};

/// The schema name of [`crate::error::Body`].
pub(crate) const ERROR_SCHEMA: &str = "ApiError";

pub(crate) struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let is_page = operation
                    .tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|t| t == "pages"));
                if is_page {
                    continue;
                }
                let responses = &mut operation.responses.responses;
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    responses
                        .entry("401".to_owned())
                        .or_insert_with(|| RefOr::T(Response::new("")));
                }
                for (status, response) in responses.iter_mut() {
                    if let RefOr::T(response) = response {
                        describe_error(status, response);
                    }
                }
            }
        }
    }
}

/// Completes one response if `status` is an error's.
fn describe_error(status: &str, response: &mut Response) {
    let Some(standard) = standard_description(status) else {
        return;
    };
    if response.content.is_empty() {
        response.content.insert(
            "application/json".to_owned(),
            Content::new(Some(Ref::from_schema_name(ERROR_SCHEMA))),
        );
    }
    if response.description.is_empty() {
        response.description = standard.to_owned();
    }
    if status == "429" {
        let seconds = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)));
        let mut header = Header::new(seconds);
        header.description = Some("Seconds to wait before trying again.".to_owned());
        response.headers.insert("Retry-After".to_owned(), header);
    }
}

/// What an error status means in this API (see [`crate::Error`]); `None` for a success or a redirect.
fn standard_description(status: &str) -> Option<&'static str> {
    Some(match status {
        "400" => "Malformed request (`bad_request`)",
        "401" => "Missing, invalid or expired credentials (`unauthenticated`)",
        "402" => "The plan's limit is reached (`plan_limit_reached`)",
        "403" => {
            "Not allowed for this role (`forbidden`), or the shop is suspended (`shop_suspended`)"
        }
        "404" => "No such resource in this shop (`not_found`)",
        "409" => "Conflicts with existing data (the code says which)",
        "410" => "Kept no more (`gone`), e.g. expired media",
        "413" => "The body is too large (`payload_too_large`)",
        "415" => "Wrong Content-Type (`unsupported_media_type`)",
        "422" => "Invalid fields (`validation_failed`, with `fields`) or a refused request",
        "429" => "Too many attempts (`too_many_requests`)",
        "500" => "Internal error (`internal_error`); the details are logged, never sent",
        "502" => "A payment provider failed (`payment_provider_unavailable`)",
        "503" => "A dependency is unavailable (`service_unavailable`)",
        other if other.starts_with('4') || other.starts_with('5') => "Error",
        _ => return None,
    })
}
