//! Orange Money WebPay (reference/external-apis.md §2): an OAuth2 client-credentials token (cached until it
//! expires), `POST …/webpayment` with our `order_id` and `notif_url`, a per-payment `notif_token` that
//! authenticates the notification, and `POST …/transactionstatus` to confirm server-to-server.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::{
    CheckoutRequest, CheckoutSession, PaymentProvider, Provider, ProviderError, json, send,
};

pub struct OrangeMoney {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) token_path: String,
    pub(crate) api_path: String,
    pub(crate) currency: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) merchant_key: SecretString,
    pub(crate) timeout: Duration,
    /// The access token and when to stop using it, shared by every client of the same credentials.
    pub(crate) token: TokenCache,
}

/// An access token and when to stop using it. Orange's tokens live about 90 days (§2.2): one per credentials,
/// not one per request.
pub(crate) type TokenCache = Arc<Mutex<Option<(SecretString, DateTime<Utc>)>>>;

/// Orange's `order_id` (≤ 30 characters, unique): derived from the payment id, so it needs no column.
pub fn order_id(payment_id: Uuid) -> String {
    payment_id.simple().to_string().chars().take(30).collect()
}

/// One web payment to open (§2.3). Orange limits each URL to 120 characters and the reference to 30.
#[derive(Debug, Clone)]
pub struct WebPayment<'a> {
    /// Unique in Orange's system (≤ 30 characters): reusing one is refused.
    pub order_id: &'a str,
    pub amount_xof: i64,
    pub return_url: &'a str,
    pub cancel_url: &'a str,
    pub notif_url: &'a str,
    /// The merchant name shown on Orange's page.
    pub reference: &'a str,
}

/// A transaction's state from the status API: `INITIATED`, `PENDING`, `EXPIRED`, `SUCCESS` or `FAILED`.
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionStatus {
    pub status: String,
    #[serde(default)]
    pub txnid: Option<String>,
    /// The order the answer is about: must be ours.
    #[serde(default)]
    pub order_id: Option<String>,
    /// The amount, when the API reports it (some versions do).
    #[serde(default)]
    pub amount: Option<Value>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// A string in Orange's examples, a number elsewhere.
    #[serde(default)]
    expires_in: Option<Value>,
}

impl OrangeMoney {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    /// The cached access token, or a new one.
    async fn access_token(&self) -> Result<SecretString, ProviderError> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Utc::now() < *until
        {
            return Ok(token.clone());
        }
        let basic = BASE64.encode(format!(
            "{}:{}",
            self.client_id,
            self.client_secret.expose_secret()
        ));
        let request = self
            .http
            .post(self.url(&self.token_path))
            .header("Authorization", format!("Basic {basic}"))
            .header("Accept", "application/json")
            .form(&[("grant_type", "client_credentials")]);
        let response: TokenResponse =
            json(send(request, self.timeout).await?, self.timeout).await?;
        let lifetime = response
            .expires_in
            .as_ref()
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(3600);
        // Renew a minute early so a token never expires mid-request.
        let until = Utc::now() + chrono::Duration::seconds((lifetime - 60).max(0));
        let token = SecretString::from(response.access_token);
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// Proves the client id and secret by obtaining a token (§2.2). The merchant key has no check of its own
    /// short of opening a web payment.
    pub async fn check_credentials(&self) -> Result<(), ProviderError> {
        self.forget_token().await;
        self.access_token().await.map(|_| ())
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// POSTs JSON with the bearer token; on a 401 the token is renewed once.
    async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ProviderError> {
        for attempt in 0..2 {
            let token = self.access_token().await?;
            let request = self
                .http
                .post(self.url(&format!("{}{path}", self.api_path)))
                .bearer_auth(token.expose_secret())
                .header("Accept", "application/json")
                .json(body);
            match send(request, self.timeout).await {
                Err(ProviderError::Status { status: 401 }) if attempt == 0 => {
                    self.forget_token().await;
                }
                Err(e) => return Err(e),
                Ok(response) => return json(response, self.timeout).await,
            }
        }
        Err(ProviderError::Status { status: 401 })
    }

    /// Confirms a subscription payment server-to-server (§2.5): see [`Self::transaction_status_of`].
    pub async fn transaction_status(
        &self,
        payment_id: Uuid,
        amount_xof: i64,
        pay_token: &str,
    ) -> Result<TransactionStatus, ProviderError> {
        self.transaction_status_of(&order_id(payment_id), amount_xof, pay_token)
            .await
    }

    /// Confirms web payment `order_id` server-to-server (§2.5). The amount is part of the query, so
    /// `SUCCESS` also confirms the amount.
    pub async fn transaction_status_of(
        &self,
        order_id: &str,
        amount_xof: i64,
        pay_token: &str,
    ) -> Result<TransactionStatus, ProviderError> {
        let body = json!({
            "order_id": order_id,
            "amount": amount_xof,
            "pay_token": pay_token,
        });
        let value = self.post_json("/transactionstatus", &body).await?;
        let value = value.get("data").cloned().unwrap_or(value);
        serde_json::from_value(value).map_err(|e| ProviderError::InvalidResponse(e.to_string()))
    }
}

#[async_trait]
impl PaymentProvider for OrangeMoney {
    fn id(&self) -> Provider {
        Provider::OrangeMoney
    }

    fn label(&self) -> &'static str {
        "Orange Money"
    }

    async fn create_checkout(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let notif_url = format!(
            "{}/api/v1/webhooks/orange-money",
            req.public_url.trim_end_matches('/')
        );
        self.open_web_payment(&WebPayment {
            order_id: &order_id(req.payment_id),
            amount_xof: req.amount_xof,
            return_url: &req.success_url,
            cancel_url: &req.error_url,
            notif_url: &notif_url,
            reference: "Tdjaasa",
        })
        .await
    }
}

impl OrangeMoney {
    /// Opens a web payment (§2.3): where to send the payer, the pay token and the notification token.
    pub async fn open_web_payment(
        &self,
        payment: &WebPayment<'_>,
    ) -> Result<CheckoutSession, ProviderError> {
        let body = json!({
            "merchant_key": self.merchant_key.expose_secret(),
            "currency": self.currency,
            "order_id": payment.order_id,
            "amount": payment.amount_xof,
            "return_url": payment.return_url,
            "cancel_url": payment.cancel_url,
            "notif_url": payment.notif_url,
            "lang": "fr",
            "reference": payment.reference.chars().take(30).collect::<String>(),
        });
        let value = self.post_json("/webpayment", &body).await?;
        // The official example has the fields at the top level; some integrations read them under `data`.
        let field = |name: &str| {
            value
                .get(name)
                .or_else(|| value.get("data").and_then(|d| d.get(name)))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (Some(payment_url), Some(pay_token), Some(notif_token)) = (
            field("payment_url"),
            field("pay_token"),
            field("notif_token"),
        ) else {
            return Err(ProviderError::InvalidResponse(
                "payment_url, pay_token or notif_token missing".into(),
            ));
        };
        Ok(CheckoutSession {
            checkout_url: payment_url.replace(['\n', ' '], ""),
            provider_ref: Some(pay_token.clone()),
            pay_token: Some(pay_token),
            notif_token: Some(SecretString::from(notif_token)),
        })
    }
}
