//! The platform operator's console: every shop at a glance and one shop in detail, the operator's actions on a
//! shop (suspend, reactivate, extend the subscription, change the plan — each audited with who and why),
//! revenue and activity figures, payments and dead letters across shops.
//!
//! Reads across shops run in a [`PlatformTx`](crate::PlatformTx) (the deliberate cross-tenant path). An action
//! on one shop runs in that shop's own [`TenantTx`](crate::TenantTx), so it cannot touch another shop's rows.

mod actions;
mod dead_letters;
mod payments;
mod stats;
mod tenants;

pub use actions::{
    Extension, ExtensionOutcome, OperatorAction, change_plan, extend_subscription, set_status,
};
pub use dead_letters::{
    AdminDeadLetter, DeadLetterFilter, count_open_dead_letters, dead_letter_tenant,
    list_dead_letters,
};
pub use payments::{
    AdminPayment, PaymentFilter, ReviewOutcome, count_payments_to_review, list_payments,
    payment_tenant, review_payment,
};
pub use stats::{DailyActivity, MonthlyShops, PlatformStats, ProviderStats, daily, monthly, stats};
pub use tenants::{
    AdminTenant, AuditEntry, MonthlyUsage, TenantFilter, TenantUser, count_tenants, get_tenant,
    list_tenants, tenant_audit, tenant_usage, tenant_users,
};

/// `%text%` for `like … escape '\'`, the text's own `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn search_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("abobo"), "%abobo%");
        assert_eq!(contains_pattern("50%_\\"), "%50\\%\\_\\\\%");
    }
}
