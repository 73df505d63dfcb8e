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

words!(Provider {
    Wave => "wave",
    OrangeMoney => "orange_money",
    Stripe => "stripe",
    Sandbox => "sandbox",
});

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

words!(PaymentStatus {
    Pending => "pending",
    Succeeded => "succeeded",
    Failed => "failed",
    Flagged => "flagged",
});

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

words!(SubscriptionStatus {
    Pending => "pending",
    Active => "active",
    PastDue => "past_due",
    Suspended => "suspended",
});

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

/// Where a customer's payment of an order stands (`order_payment.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OrderPaymentStatus {
    /// The link is out; nothing paid yet.
    Pending,
    /// The provider confirmed exactly the order's total.
    Paid,
    /// The link expired unpaid.
    Expired,
    /// The provider reported a failure, or paid another amount (the shop must look).
    Failed,
}

words!(OrderPaymentStatus {
    Pending => "pending",
    Paid => "paid",
    Expired => "expired",
    Failed => "failed",
});

/// A paid order that was cancelled: its refund, for the shop to do (or done by the provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RefundStatus {
    ToDo,
    Done,
}

words!(RefundStatus {
    ToDo => "to_do",
    Done => "done",
});

/// Who made a done refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "text", rename_all = "snake_case"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RefundedBy {
    /// The payment provider, on the platform's request (Wave).
    Provider,
    /// The shop, by hand.
    Shop,
}

words!(RefundedBy {
    Provider => "provider",
    Shop => "shop",
});

/// A worker's question on `tdj.pay.check.<tenant>` when a customer says they paid: the API asks the provider
/// about the order's pending links (and settles one that is paid) before it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayCheck {
    pub order_id: uuid::Uuid,
}

/// The API's answer to a [`PayCheck`]: where the order's payment stands now, as the provider says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayCheckReply {
    /// `paid` (the order is paid: now or before), `pending` (a link is open, the provider has no payment yet),
    /// `none` (no open link: expired, failed or never asked), or `unknown` (the provider could not be asked).
    pub status: PayCheckStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayCheckStatus {
    Paid,
    Pending,
    None,
    Unknown,
}
