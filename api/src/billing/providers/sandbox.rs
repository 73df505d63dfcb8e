//! The sandbox provider: no account, no money. Checkout leads to a local page (`/billing/sandbox/{id}`)
//! whose Approve / Refuse buttons fire a signed webhook at our own API, exactly like a real provider.
//! The signing secret is derived from the master key, so every API instance shares it.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretBox};

use super::{CheckoutRequest, CheckoutSession, PaymentProvider, Provider, ProviderError};
use crate::billing::signature::{self, Scheme};

/// The header carrying the sandbox signature (`t=<unix>,v1=<hex>`, HMAC-SHA256 over timestamp + body).
pub const SIGNATURE_HEADER: &str = "tdjaasa-signature";

pub struct Sandbox {
    pub(crate) secret: SecretBox<[u8; 32]>,
}

impl Sandbox {
    pub(crate) fn secret(&self) -> &[u8] {
        self.secret.expose_secret().as_slice()
    }

    /// The signature header for `body` at `timestamp`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        signature::header(self.secret(), Scheme::Concatenated, timestamp, body)
    }
}

#[async_trait]
impl PaymentProvider for Sandbox {
    fn id(&self) -> Provider {
        Provider::Sandbox
    }

    fn label(&self) -> &'static str {
        "Bac à sable (test)"
    }

    async fn create_checkout(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, ProviderError> {
        Ok(CheckoutSession {
            checkout_url: format!(
                "{}/billing/sandbox/{}",
                req.public_url.trim_end_matches('/'),
                req.payment_id
            ),
            provider_ref: None,
            pay_token: None,
            notif_token: None,
        })
    }
}
