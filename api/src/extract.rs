//! Extractors whose rejections speak the API's JSON error format.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::{AppState, Error};

/// `axum::Json`, with French JSON errors: 400 for broken JSON, 413 for an oversized body, 415 without
/// `Content-Type: application/json`, and 422 for a body of the wrong shape, listing every problem at once —
/// each missing required field, each field of the wrong type, each unknown field — under its JSON name.
///
/// The shape comes from the input type's OpenAPI schema (`utoipa::ToSchema`, which every request body
/// derives for the documentation): when serde refuses the body, the body is re-read as a JSON value and
/// checked against that schema, so the 422 names everything wrong, not only serde's first complaint, and the
/// checks can never drift from the documented types.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned + ToSchema,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(Error::UnsupportedMediaType("application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::BadRequest(format!("Requête illisible ({}).", rejection.status()))
            }
        })?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(e)) => {
                Err(Error::Validation(shape_errors::<T>(&bytes, &e.body_text())))
            }
            Err(_) => Err(Error::BadRequest(
                "Le corps de la requête n'est pas un JSON valide.".into(),
            )),
        }
    }
}

/// `application/json` or any `application/*+json`, as `axum::Json` accepts.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|subtype| subtype == "json" || subtype.ends_with("+json"))
}

/// Every problem of a body serde refused: checked against `T`'s schema, else serde's own complaint.
fn shape_errors<T: ToSchema>(body: &[u8], serde_text: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        let schema = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
        let mut referenced = Vec::new();
        T::schemas(&mut referenced);
        let definitions: HashMap<String, Value> = referenced
            .into_iter()
            .filter_map(|(name, schema)| Some((name, serde_json::to_value(schema).ok()?)))
            .collect();
        let shape = Shape { definitions };
        shape.check("", &value, &schema, &mut errors, 0);
    }
    if errors.is_empty() {
        errors.push(serde_field_error(serde_text));
    }
    errors
}

/// The request body types' schemas, as OpenAPI JSON, and the schemas they refer to by name.
struct Shape {
    definitions: HashMap<String, Value>,
}

/// Nesting deeper than this is not inspected (serde's message then speaks for it).
const MAX_DEPTH: usize = 8;

impl Shape {
    /// Follows a `$ref` to the named schema.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference
                .rsplit('/')
                .next()
                .and_then(|name| self.definitions.get(name))
                .unwrap_or(&Value::Null),
            None => schema,
        }
    }

    fn check(
        &self,
        path: &str,
        value: &Value,
        schema: &Value,
        errors: &mut Vec<FieldError>,
        depth: usize,
    ) {
        let schema = self.resolve(schema);
        if depth > MAX_DEPTH || !schema.is_object() {
            return;
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alternatives) = schema.get(key).and_then(Value::as_array) {
                let mut first_errors = None;
                for alternative in alternatives {
                    let mut found = Vec::new();
                    self.check(path, value, alternative, &mut found, depth + 1);
                    if found.is_empty() {
                        return;
                    }
                    let is_null = self.resolve(alternative).get("type") == Some(&json!("null"));
                    if first_errors.is_none() && !is_null {
                        first_errors = Some(found);
                    }
                }
                errors.extend(first_errors.unwrap_or_default());
                return;
            }
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.check(path, value, part, errors, depth + 1);
            }
            return;
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let field = if path.is_empty() { "body" } else { path };
        if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
            let expected = types
                .iter()
                .find(|t| **t != "null")
                .copied()
                .unwrap_or("null");
            errors.push(FieldError {
                field: field.to_owned(),
                message: type_message(expected).into(),
            });
            return;
        }
        match value {
            Value::String(text) => {
                if let Some(message) = format_error(schema, text) {
                    errors.push(FieldError {
                        field: field.to_owned(),
                        message: message.into(),
                    });
                }
            }
            Value::Number(n) => {
                let below_minimum = schema
                    .get("minimum")
                    .and_then(Value::as_f64)
                    .zip(n.as_f64())
                    .is_some_and(|(minimum, n)| n < minimum);
                if below_minimum {
                    errors.push(FieldError {
                        field: field.to_owned(),
                        message: "Doit être un nombre positif ou nul.".into(),
                    });
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(
                            &format!("{field}[{i}]"),
                            item,
                            item_schema,
                            errors,
                            depth + 1,
                        );
                    }
                }
            }
            Value::Object(map) => self.check_object(path, map, schema, errors, depth),
            Value::Null | Value::Bool(_) => {}
        }
    }

    fn check_object(
        &self,
        path: &str,
        map: &serde_json::Map<String, Value>,
        schema: &Value,
        errors: &mut Vec<FieldError>,
        depth: usize,
    ) {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        let child = |name: &str| {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        };
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(required) {
                errors.push(FieldError {
                    field: child(required),
                    message: "Champ obligatoire manquant.".into(),
                });
            }
        }
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (name, value) in map {
            match properties.get(name) {
                Some(property) => self.check(&child(name), value, property, errors, depth + 1),
                None if closed => errors.push(FieldError {
                    field: child(name),
                    message: format!("Champ inconnu : « {name} »."),
                }),
                None => {}
            }
        }
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn type_message(expected: &str) -> &'static str {
    match expected {
        "integer" => "Doit être un nombre entier (ex. 5000).",
        "number" => "Doit être un nombre (ex. 12.5).",
        "string" => "Doit être du texte.",
        "boolean" => "Doit être true ou false.",
        "array" => "Doit être une liste.",
        "object" => "Doit être un objet JSON.",
        _ => "Valeur invalide.",
    }
}

/// Strings with a documented format the type parses: dates and identifiers.
fn format_error(schema: &Value, text: &str) -> Option<&'static str> {
    match schema.get("format").and_then(Value::as_str)? {
        "date-time" if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
            Some("Doit être une date et heure ISO 8601 (ex. 2025-01-31T18:00:00Z).")
        }
        "uuid" if uuid::Uuid::parse_str(text).is_err() => Some("Doit être un identifiant (UUID)."),
        _ => None,
    }
}

/// Serde's complaint, when the schema saw nothing wrong (e.g. a number too large for its type), in French
/// and under the field it names. axum reports it as "Failed to deserialize the JSON body into the target
/// type: <path>: <message> at line L column C".
fn serde_field_error(text: &str) -> FieldError {
    let detail = text
        .split_once("target type: ")
        .map_or(text, |(_, rest)| rest);
    let detail = detail.split(" at line ").next().unwrap_or(detail);
    let (path, message) = match detail.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (path, message),
        _ => (".", detail),
    };
    let quoted_after = |marker: &str| {
        message
            .find(marker)
            .and_then(|i| message[i + marker.len()..].split('`').next())
            .map(str::to_owned)
    };
    let under = |name: &str| {
        if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = quoted_after("unknown field `") {
        return FieldError {
            field: under(&name),
            message: format!("Champ inconnu : « {name} »."),
        };
    }
    if let Some(name) = quoted_after("missing field `") {
        return FieldError {
            field: under(&name),
            message: "Champ obligatoire manquant.".into(),
        };
    }
    let expected = message.rsplit("expected ").next().unwrap_or_default();
    let french = if message.starts_with("invalid value") || message.contains("out of range") {
        "Valeur hors des limites permises."
    } else if [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize",
    ]
    .iter()
    .any(|t| expected.starts_with(t))
    {
        type_message("integer")
    } else if expected.contains("string") {
        type_message("string")
    } else if expected.contains("boolean") {
        type_message("boolean")
    } else if expected.contains("sequence") {
        type_message("array")
    } else if expected.contains("map") || expected.starts_with("struct") {
        type_message("object")
    } else {
        "Valeur invalide."
    };
    FieldError {
        field: if path == "." { "body" } else { path }.to_owned(),
        message: french.into(),
    }
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

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Slot {
        day: u8,
        open: String,
    }

    #[derive(Debug, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        price_xof: i64,
        stock: Option<i64>,
        #[serde(default)]
        active: bool,
        #[serde(default)]
        slots: Vec<Slot>,
        until: Option<DateTime<Utc>>,
    }

    fn errors_of(body: &str) -> Vec<(String, String)> {
        let text = match axum::Json::<Sample>::from_bytes(body.as_bytes()) {
            Err(JsonRejection::JsonDataError(e)) => e.body_text(),
            other => panic!("{body} must be refused as data: {other:?}"),
        };
        shape_errors::<Sample>(body.as_bytes(), &text)
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn every_missing_wrong_and_unknown_field_is_reported_in_french() {
        let errors = errors_of(
            r#"{"price_xof": "5 000", "stock": 1.5, "active": "oui",
                "slots": [{"day": "lundi"}], "until": "demain", "prix": 1}"#,
        );
        let expected = [
            ("name", "Champ obligatoire manquant."),
            ("price_xof", "Doit être un nombre entier (ex. 5000)."),
            ("stock", "Doit être un nombre entier (ex. 5000)."),
            ("active", "Doit être true ou false."),
            ("slots[0].open", "Champ obligatoire manquant."),
            ("slots[0].day", "Doit être un nombre entier (ex. 5000)."),
            (
                "until",
                "Doit être une date et heure ISO 8601 (ex. 2025-01-31T18:00:00Z).",
            ),
            ("prix", "Champ inconnu : « prix »."),
        ];
        for (field, message) in expected {
            assert!(
                errors.contains(&(field.to_owned(), message.to_owned())),
                "{field}: {message} in {errors:?}"
            );
        }
        assert_eq!(errors.len(), expected.len(), "{errors:?}");
    }

    #[test]
    fn what_the_schema_allows_but_serde_refuses_is_reported_under_its_field() {
        assert_eq!(
            errors_of(
                r#"{"name": "Robe", "price_xof": 1, "slots": [{"day": 300, "open": "08:00"}]}"#
            ),
            [(
                "slots[0].day".to_owned(),
                "Valeur hors des limites permises.".to_owned()
            )]
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_named_body() {
        assert_eq!(
            errors_of("[1, 2]"),
            [("body".to_owned(), "Doit être un objet JSON.".to_owned())]
        );
    }
}
