//! Posted forms: the session, the CSRF check and the decoded fields in one extractor, so no state-changing
//! handler can forget the check. Tokens are compared in constant time.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::error::WebError;
use super::session::Session;
use crate::AppState;

/// Largest form body (a product description or bot instructions fit easily).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A form posted by the signed-in user, with a valid CSRF token.
pub struct Posted<T> {
    pub session: Session,
    pub form: T,
}

#[derive(Deserialize)]
struct Token {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let bytes = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| WebError::Api(crate::Error::PayloadTooLarge))?;
        let token: Token = serde_urlencoded::from_bytes(&bytes).map_err(|_| WebError::Csrf)?;
        verify(&session, &token.csrf)?;
        let form = decode(&bytes)?;
        Ok(Posted { session, form })
    }
}

/// Fails unless `token` is the session's CSRF token.
pub fn verify(session: &Session, token: &str) -> Result<(), WebError> {
    if bool::from(token.as_bytes().ct_eq(session.csrf.as_bytes())) && !token.is_empty() {
        Ok(())
    } else {
        Err(WebError::Csrf)
    }
}

/// Form fields arrive as text; a body that does not even decode is a broken client, not a user mistake.
pub fn decode<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, WebError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| {
        WebError::Api(crate::Error::BadRequest(format!(
            "Formulaire illisible ({e})."
        )))
    })
}
