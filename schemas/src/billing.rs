//! Billing values shared by the store (text columns with a CHECK constraint, feature `sqlx`) and the REST API
//! (JSON, and the OpenAPI document with feature `openapi`): the payment providers, and the statuses of a
//! payment and of a subscription.

use serde::{Deserialize, Serialize};

/// A payment provider, as stored in `payment.provider` and `billing_event.provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Provider {
    Wave,
    OrangeMoney,
    Stripe,
    /// The local sandbox: the same flow without any account, for demos and tests.
    Sandbox,
}

impl Provider {
    /// Every provider, in display order.
    pub const ALL: [Provider; 4] = [
        Provider::Wave,
        Provider::OrangeMoney,
        Provider::Stripe,
        Provider::Sandbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Wave => "wave",
            Provider::OrangeMoney => "orange_money",
            Provider::Stripe => "stripe",
            Provider::Sandbox => "sandbox",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PaymentStatus {
    /// Recorded before the provider was called; waiting for its verdict.
    Pending,
    Succeeded,
    Failed,
    /// The provider's amount or currency differ from the recorded payment: nothing was activated, the operator
    /// must look.
    Flagged,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 4] = [
        PaymentStatus::Pending,
        PaymentStatus::Succeeded,
        PaymentStatus::Failed,
        PaymentStatus::Flagged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Flagged => "flagged",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// Where a shop's subscription stands: `pending` (never paid) → `active` → `past_due` (expired, within the
/// grace period) → `suspended` (for non-payment); a payment makes it `active` again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SubscriptionStatus {
    Pending,
    Active,
    PastDue,
    Suspended,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 4] = [
        SubscriptionStatus::Pending,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Suspended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

macro_rules! display_as_str {
    ($($ty:ty),*) => {$(
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

display_as_str!(Provider, PaymentStatus, SubscriptionStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_stored_names_are_the_same_snake_case_words() {
        for provider in Provider::ALL {
            assert_eq!(
                serde_json::to_value(provider).expect("json"),
                provider.as_str(),
                "{provider:?}"
            );
            assert_eq!(Provider::parse(provider.as_str()), Some(provider));
        }
        for status in PaymentStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).expect("json"),
                status.as_str(),
                "{status:?}"
            );
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
        }
        for status in SubscriptionStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).expect("json"),
                status.as_str(),
                "{status:?}"
            );
            assert_eq!(SubscriptionStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(Provider::parse("paypal"), None);
    }
}
