//! Billing: the subscription's life (paid, past due, suspended), payments and their webhooks' effects, the
//! expiry job's transitions, and what the worker asks before answering a customer. The operator's view across
//! shops is in [`crate::admin`].
//!
//! Money is integer XOF everywhere. A paid period is one calendar month, stacked on the later of now and the
//! current expiry.

mod expiry;
mod payments;
mod permission;

pub use expiry::{ExpiryReport, run_expiry, status_counts};
pub use payments::{
    NewPayment, Outcome, OutcomeStatus, Payment, PaymentOwner, Subscription, WebhookDecision,
    apply_outcome, attach_checkout, create_pending, find_by_key, get_payment, list_payments,
    mark_failed, open_subscription, owner_by_notif_token_hash, owner_of_payment, subscription,
};
pub use permission::{
    AnswerPermission, OperatorSuspension, SuspendReason, Tokens, answer_permission, fold_usage,
    month_start, operator_suspension, record_bot_reply, record_inbound, record_test_turn,
    test_allowance,
};

pub use schemas::billing::{PaymentStatus, Provider, SubscriptionStatus};
