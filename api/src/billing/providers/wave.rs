//! Wave Checkout (reference/external-apis.md §1): `POST /v1/checkout/sessions` with a bearer key, the
//! amount as an integer string in XOF, our payment id as `client_reference`; sessions are re-read with
//! `GET /v1/checkout/sessions/:id` before a webhook grants anything.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::{
    CheckoutRequest, CheckoutSession, PaymentProvider, Provider, ProviderError, json, send,
};

pub struct Wave {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) api_key: SecretString,
    pub(crate) webhook_secret: Option<SecretString>,
    pub(crate) timeout: Duration,
}

/// The fields of a checkout session we use (§1.4).
#[derive(Debug, Clone, Deserialize)]
pub struct WaveSession {
    pub id: String,
    pub amount: String,
    pub currency: String,
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub client_reference: Option<String>,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub wave_launch_url: Option<String>,
}

/// A Wave session id goes into a URL path: only `cos-…`-like ids are sent.
fn plausible_session_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Wave {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    pub(crate) fn webhook_secret(&self) -> Option<&SecretString> {
        self.webhook_secret.as_ref()
    }

    /// Proves the key with a read that changes nothing: a search by a reference we never use (§1.2). Wave
    /// authenticates before anything else (§1.6: 401 and 403 are its key errors), so a 404 from a search that
    /// found nothing proves the key too; the search's answer itself is not relied on (its shape is unconfirmed).
    pub async fn check_key(&self) -> Result<(), ProviderError> {
        let request = self
            .http
            .get(self.url("/v1/checkout/sessions/search?client_reference=tdjaasa-check"))
            .bearer_auth(self.api_key.expose_secret());
        match send(request, self.timeout).await {
            Ok(_) | Err(ProviderError::Status { status: 404 }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Re-reads a session server-to-server.
    pub async fn retrieve(&self, session_id: &str) -> Result<WaveSession, ProviderError> {
        if !plausible_session_id(session_id) {
            return Err(ProviderError::InvalidResponse("bad session id".into()));
        }
        let request = self
            .http
            .get(self.url(&format!("/v1/checkout/sessions/{session_id}")))
            .bearer_auth(self.api_key.expose_secret());
        json(send(request, self.timeout).await?, self.timeout).await
    }
}

/// Why Wave did not refund.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// Wave answered and refused (`checkout-refund-failed`, `insufficient-funds`…): asking again will not help.
    #[error("Wave refused the refund: HTTP {status} {code}")]
    Refused { status: u16, code: String },
    /// Wave could not be asked (timeout, network, 5xx, 429): ask again later.
    #[error(transparent)]
    Unavailable(ProviderError),
}

impl Wave {
    /// Expires an open checkout session (§1.2, `POST /v1/checkout/sessions/:id/expire`), so it can no longer be
    /// paid.
    pub async fn expire(&self, session_id: &str) -> Result<(), ProviderError> {
        if !plausible_session_id(session_id) {
            return Err(ProviderError::InvalidResponse("bad session id".into()));
        }
        let request = self
            .http
            .post(self.url(&format!("/v1/checkout/sessions/{session_id}/expire")))
            .bearer_auth(self.api_key.expose_secret());
        send(request, self.timeout).await.map(|_| ())
    }

    /// Refunds a completed checkout session (§1.2, `POST /v1/checkout/sessions/:id/refund`). Wave documents
    /// the call as idempotent: refunding twice makes no second transaction, so a retry after a lost answer
    /// is safe.
    pub async fn refund(&self, session_id: &str) -> Result<(), RefundError> {
        if !plausible_session_id(session_id) {
            return Err(RefundError::Refused {
                status: 0,
                code: "bad-session-id".into(),
            });
        }
        let request = self
            .http
            .post(self.url(&format!("/v1/checkout/sessions/{session_id}/refund")))
            .bearer_auth(self.api_key.expose_secret())
            .timeout(self.timeout);
        let response = tokio::time::timeout(self.timeout, request.send())
            .await
            .map_err(|_| RefundError::Unavailable(ProviderError::Timeout(self.timeout)))?
            .map_err(|e| RefundError::Unavailable(ProviderError::from_reqwest(e, self.timeout)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(RefundError::Unavailable(ProviderError::Status {
                status: status.as_u16(),
            }));
        }
        // §1.6: errors carry `{"code": …}`; the code is what the shop (and support) can act on.
        let body = tokio::time::timeout(self.timeout, response.bytes())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
            .filter(|c| {
                c.len() <= 60
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .unwrap_or_else(|| "unknown".into());
        Err(RefundError::Refused {
            status: status.as_u16(),
            code,
        })
    }
}

#[async_trait]
impl PaymentProvider for Wave {
    fn id(&self) -> Provider {
        Provider::Wave
    }

    fn label(&self) -> &'static str {
        "Wave"
    }

    async fn create_checkout(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let body = json!({
            "amount": req.amount_xof.to_string(),
            "currency": "XOF",
            "success_url": req.success_url,
            "error_url": req.error_url,
            "client_reference": req.payment_id.to_string(),
        });
        let request = self
            .http
            .post(self.url("/v1/checkout/sessions"))
            .bearer_auth(self.api_key.expose_secret())
            // Not documented for checkout creation (§1.5, ❓): harmless if ignored, protective if honoured.
            .header("Idempotency-Key", req.payment_id.to_string())
            .json(&body);
        let session: WaveSession = json(send(request, self.timeout).await?, self.timeout).await?;
        let checkout_url = session
            .wave_launch_url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or_else(|| ProviderError::InvalidResponse("no wave_launch_url".into()))?;
        Ok(CheckoutSession {
            checkout_url,
            provider_ref: Some(session.id),
            pay_token: None,
            notif_token: None,
        })
    }
}
