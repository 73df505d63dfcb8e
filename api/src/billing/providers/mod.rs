//! The payment providers behind one trait. Each speaks its documented wire format
//! (reference/external-apis.md): Wave Checkout (§1), Orange Money WebPay (§2), Stripe Checkout (§4), and a
//! local sandbox that walks the same flow without any account.

pub mod orange_money;
pub mod sandbox;
pub mod stripe;
pub mod wave;

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use store::billing::Provider;
use uuid::Uuid;

/// What a provider needs to open a checkout for one payment.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub payment_id: Uuid,
    pub amount_xof: i64,
    /// Shown to the payer, e.g. "Tdjaasa Pro (1 mois)".
    pub description: String,
    /// Browser return pages after success and failure.
    pub success_url: String,
    pub error_url: String,
    /// Our public base URL (server-to-server notifications, sandbox page).
    pub public_url: String,
}

/// The checkout the provider opened.
#[derive(Debug)]
pub struct CheckoutSession {
    /// Where to send the payer.
    pub checkout_url: String,
    /// The provider's session reference (Wave `cos-…`, Stripe `cs_…`, Orange Money pay_token).
    pub provider_ref: Option<String>,
    /// Orange Money: the pay_token, needed by the transaction-status API.
    pub pay_token: Option<String>,
    /// Orange Money: the token its notification will carry. Only its hash is stored.
    pub notif_token: Option<SecretString>,
}

/// A provider call that did not produce a checkout. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the provider answered HTTP {status}")]
    Status { status: u16 },
    #[error("cannot reach the provider: {0}")]
    Transport(String),
    #[error("unexpected provider response: {0}")]
    InvalidResponse(String),
}

impl ProviderError {
    pub(crate) fn from_reqwest(e: reqwest::Error, timeout: Duration) -> Self {
        if e.is_timeout() {
            ProviderError::Timeout(timeout)
        } else if let Some(status) = e.status() {
            ProviderError::Status {
                status: status.as_u16(),
            }
        } else {
            // Without the URL: it may carry query parameters.
            ProviderError::Transport(e.without_url().to_string())
        }
    }

    /// A short code for the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Timeout(_) => "timeout",
            ProviderError::Status { .. } => "http_status",
            ProviderError::Transport(_) => "transport",
            ProviderError::InvalidResponse(_) => "invalid_response",
        }
    }
}

/// A way for a shop to pay its subscription.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Which provider this is (`payment.provider`).
    fn id(&self) -> Provider;
    /// The name shown to shops.
    fn label(&self) -> &'static str;
    /// Opens a checkout. Implementations send `payment_id` as the provider's idempotency key and
    /// correlation reference, and must fail within the configured timeout.
    async fn create_checkout(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError>;
}

/// Sends a request with the overall time limit, mapping errors (status ≥ 400 included).
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<reqwest::Response, ProviderError> {
    let response = tokio::time::timeout(timeout, request.timeout(timeout).send())
        .await
        .map_err(|_| ProviderError::Timeout(timeout))?
        .map_err(|e| ProviderError::from_reqwest(e, timeout))?;
    if !response.status().is_success() {
        return Err(ProviderError::Status {
            status: response.status().as_u16(),
        });
    }
    Ok(response)
}

/// Reads a JSON body within the time limit.
pub(crate) async fn json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    timeout: Duration,
) -> Result<T, ProviderError> {
    let bytes = tokio::time::timeout(timeout, response.bytes())
        .await
        .map_err(|_| ProviderError::Timeout(timeout))?
        .map_err(|e| ProviderError::from_reqwest(e, timeout))?;
    serde_json::from_slice(&bytes).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
}

/// Parses an XOF amount sent as a decimal string ("5000", "5000.00"); XOF has no minor unit.
pub fn parse_xof(amount: &str) -> Option<i64> {
    let (whole, fraction) = amount.trim().split_once('.').unwrap_or((amount.trim(), ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b == b'0')
    {
        return None;
    }
    whole.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_xof;

    #[test]
    fn xof_amounts_are_whole_numbers() {
        for (input, expected) in [
            ("5000", Some(5000)),
            ("5000.00", Some(5000)),
            (" 125 ", Some(125)),
            ("5000.5", None),
            ("-5", None),
            ("", None),
            ("5e3", None),
        ] {
            assert_eq!(parse_xof(input), expected, "{input:?}");
        }
    }
}
