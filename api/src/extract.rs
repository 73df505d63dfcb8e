//! Extractors whose rejections speak the API's JSON error format.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{AppState, Error};

/// `axum::Json`, with French JSON errors: 400 for broken JSON, 422 for a wrong shape (unknown field, wrong
/// type, missing field), 413 for an oversized body, 415 without `Content-Type: application/json`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> Error {
    match rejection {
        JsonRejection::JsonDataError(e) => Error::Validation(vec![crate::error::FieldError {
            field: "body".into(),
            message: describe_serde_error(&e.body_text()),
        }]),
        JsonRejection::JsonSyntaxError(_) => {
            Error::BadRequest("Le corps de la requête n'est pas un JSON valide.".into())
        }
        JsonRejection::MissingJsonContentType(_) => Error::UnsupportedMediaType("application/json"),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
        other => Error::BadRequest(format!("Requête illisible ({}).", other.status())),
    }
}

/// Serde's message names the field and the problem; keep that part, in French.
fn describe_serde_error(text: &str) -> String {
    let quoted_after = |marker: &str| {
        text.find(marker)
            .and_then(|i| text[i + marker.len()..].split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = quoted_after("unknown field `") {
        return format!("Champ inconnu : « {field} ».");
    }
    if let Some(field) = quoted_after("missing field `") {
        return format!("Champ obligatoire manquant : « {field} ».");
    }
    // "Failed to deserialize the JSON body into the target type: price_xof: invalid type: …"
    let detail = text
        .split_once("target type: ")
        .map_or(text, |(_, rest)| rest);
    let detail = detail.split(" at line ").next().unwrap_or(detail);
    format!("Format invalide : {detail}.")
}

/// The client's address, for rate limiting: the socket peer, or the proxy-reported address when the
/// deployment says a trusted proxy sets `X-Forwarded-For`.
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return Ok(ClientAddr(ip));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(peer.unwrap_or(IpAddr::from([127, 0, 0, 1]))))
    }
}
