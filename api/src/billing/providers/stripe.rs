//! Stripe Checkout (reference/external-apis.md §4): a form-encoded `POST /v1/checkout/sessions` in
//! `payment` mode; XOF is zero-decimal and sent lower case; our payment id goes in `client_reference_id`
//! and `metadata[payment_id]`, and is the `Idempotency-Key`.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{
    CheckoutRequest, CheckoutSession, PaymentProvider, Provider, ProviderError, json, send,
};

/// The API version the request and webhook shapes were written against (§4.1: pin it).
pub const STRIPE_VERSION: &str = "2025-03-31.basil";

pub struct Stripe {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) secret_key: SecretString,
    pub(crate) webhook_secret: Option<SecretString>,
    pub(crate) timeout: Duration,
}

#[derive(Deserialize)]
struct Session {
    id: String,
    url: Option<String>,
}

impl Stripe {
    pub(crate) fn webhook_secret(&self) -> Option<&SecretString> {
        self.webhook_secret.as_ref()
    }
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn id(&self) -> Provider {
        Provider::Stripe
    }

    fn label(&self) -> &'static str {
        "Carte bancaire (Stripe)"
    }

    async fn create_checkout(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        let payment_id = req.payment_id.to_string();
        let form: Vec<(&str, String)> = vec![
            ("mode", "payment".into()),
            ("line_items[0][price_data][currency]", "xof".into()),
            (
                "line_items[0][price_data][unit_amount]",
                req.amount_xof.to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                req.description.clone(),
            ),
            ("line_items[0][quantity]", "1".into()),
            ("success_url", req.success_url.clone()),
            ("cancel_url", req.error_url.clone()),
            ("client_reference_id", payment_id.clone()),
            ("metadata[payment_id]", payment_id.clone()),
            (
                "payment_intent_data[metadata][payment_id]",
                payment_id.clone(),
            ),
            ("locale", "fr".into()),
        ];
        let request = self
            .http
            .post(format!(
                "{}/v1/checkout/sessions",
                self.base_url.trim_end_matches('/')
            ))
            .bearer_auth(self.secret_key.expose_secret())
            .header("Idempotency-Key", payment_id)
            .header("Stripe-Version", STRIPE_VERSION)
            .form(&form);
        let session: Session = json(send(request, self.timeout).await?, self.timeout).await?;
        let checkout_url = session
            .url
            .ok_or_else(|| ProviderError::InvalidResponse("no session url".into()))?;
        Ok(CheckoutSession {
            checkout_url,
            provider_ref: Some(session.id),
            pay_token: None,
            notif_token: None,
        })
    }
}
