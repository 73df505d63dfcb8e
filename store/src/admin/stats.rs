//! Revenue and activity across shops: the operator's figures and the series behind its charts.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use schemas::billing::Provider;
use serde::Serialize;

use crate::tenants::PLATFORM_TENANT_ID;
use crate::{PlatformTx, Result};

/// Payments that succeeded through one provider.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderStats {
    pub provider: Provider,
    pub payments: i64,
    pub amount_xof: i64,
}

/// The operator's headline numbers. Shops are counted by their subscription's status (each shop in exactly one
/// of `pending`, `active`, `past_due`, `suspended_unpaid`); an operator suspension is counted apart, whatever
/// the subscription says.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlatformStats {
    /// Shops whose subscription is `active`.
    pub active_tenants: i64,
    /// Shops whose subscription expired and is in its grace period (still answered, expected to pay).
    pub past_due_tenants: i64,
    /// Shops suspended for non-payment (subscription `suspended`).
    pub suspended_unpaid_tenants: i64,
    /// Shops that signed up and never paid.
    pub pending_tenants: i64,
    /// Shops the operator suspended (`tenant.status`), whatever their subscription.
    pub suspended_by_operator_tenants: i64,
    /// Monthly recurring revenue in XOF: the plan prices of the shops whose subscription is `active` or
    /// `past_due` (paid, or expected to renew within the grace period).
    pub mrr_xof: i64,
    /// Succeeded payments per provider, all time.
    pub payments_by_provider: Vec<ProviderStats>,
    /// Shops whose subscription lapsed (went past due) in the last 30 days and are still not paid.
    pub churned_last_30_days: i64,
    /// `churned_last_30_days / (active_tenants + churned_last_30_days)`, 0 when both are 0.
    pub churn_rate_30_days: f64,
}

pub async fn stats(tx: &mut PlatformTx, now: DateTime<Utc>) -> Result<PlatformStats> {
    let counts = sqlx::query!(
        r#"select
             count(*) filter (where s.status = 'active')::bigint as "active_tenants!",
             count(*) filter (where s.status = 'past_due')::bigint as "past_due_tenants!",
             count(*) filter (where s.status = 'suspended')::bigint as "suspended_unpaid_tenants!",
             count(*) filter (where s.status = 'pending' or s.status is null)::bigint as "pending_tenants!",
             count(*) filter (where t.status = 'suspended')::bigint as "suspended_by_operator_tenants!",
             coalesce(sum(p.price_xof) filter (where s.status in ('active', 'past_due')), 0)::bigint
               as "mrr_xof!",
             count(*) filter (where s.status in ('past_due', 'suspended') and s.past_due_since >= $2)::bigint
               as "churned_last_30_days!"
           from tenant t
           left join subscription s on s.tenant_id = t.tenant_id
           left join plan p on p.plan_code = s.plan_code
           where t.tenant_id <> $1"#,
        PLATFORM_TENANT_ID,
        now - Duration::days(30),
    )
    .fetch_one(&mut **tx)
    .await?;
    let payments_by_provider = sqlx::query_as!(
        ProviderStats,
        r#"select provider as "provider: Provider", count(*)::bigint as "payments!",
                  coalesce(sum(amount_xof), 0)::bigint as "amount_xof!"
           from payment where status = 'succeeded' group by provider order by provider"#,
    )
    .fetch_all(&mut **tx)
    .await?;
    let base = counts.active_tenants + counts.churned_last_30_days;
    Ok(PlatformStats {
        active_tenants: counts.active_tenants,
        past_due_tenants: counts.past_due_tenants,
        suspended_unpaid_tenants: counts.suspended_unpaid_tenants,
        pending_tenants: counts.pending_tenants,
        suspended_by_operator_tenants: counts.suspended_by_operator_tenants,
        mrr_xof: counts.mrr_xof,
        payments_by_provider,
        churned_last_30_days: counts.churned_last_30_days,
        churn_rate_30_days: if base == 0 {
            0.0
        } else {
            counts.churned_last_30_days as f64 / base as f64
        },
    })
}

/// New shops and churned shops in one UTC month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthlyShops {
    /// First day of the month.
    pub month: NaiveDate,
    /// Shops that signed up that month.
    pub new_shops: i64,
    /// Shops that churned that month. Churn is an event: a shop churns in the month its subscription is
    /// suspended for non-payment (its grace period ended without a payment; the expiry job's
    /// `subscription.suspended` audit entry). A shop that pays again later still counts as churned that month;
    /// an operator suspension is not churn.
    pub churned_shops: i64,
}

/// The last `months` UTC months, oldest first, the current one included.
pub async fn monthly(
    tx: &mut PlatformTx,
    now: DateTime<Utc>,
    months: i32,
) -> Result<Vec<MonthlyShops>> {
    Ok(sqlx::query_as!(
        MonthlyShops,
        r#"with months as (
           select generate_series(
             date_trunc('month', $1::timestamptz at time zone 'UTC') - make_interval(months => $3 - 1),
             date_trunc('month', $1::timestamptz at time zone 'UTC'),
             interval '1 month') as first
         )
         select m.first::date as "month!",
           (select count(*) from tenant t where t.tenant_id <> $2
              and t.created_at >= m.first at time zone 'UTC'
              and t.created_at < (m.first + interval '1 month') at time zone 'UTC')::bigint as "new_shops!",
           (select count(distinct a.tenant_id) from audit_log a where a.action = 'subscription.suspended'
              and a.created_at >= m.first at time zone 'UTC'
              and a.created_at < (m.first + interval '1 month') at time zone 'UTC')::bigint as "churned_shops!"
         from months m order by m.first"#,
        now,
        PLATFORM_TENANT_ID,
        months.max(1),
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Customer messages and orders of one UTC day, across shops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailyActivity {
    pub day: NaiveDate,
    /// Messages from WhatsApp customers (the simulator is not counted).
    pub messages: i64,
    /// Orders taken (cancelled ones included: they were taken that day).
    pub orders: i64,
}

/// The last `days` UTC days, oldest first, today included.
pub async fn daily(
    tx: &mut PlatformTx,
    now: DateTime<Utc>,
    days: i32,
) -> Result<Vec<DailyActivity>> {
    Ok(sqlx::query_as!(
        DailyActivity,
        r#"with days as (
           select generate_series(
             (($1::timestamptz at time zone 'UTC')::date - ($2 - 1))::timestamp,
             ($1::timestamptz at time zone 'UTC')::date::timestamp,
             interval '1 day')::date as day
         )
         select d.day as "day!",
           (select count(*) from message m
              join chat c on c.tenant_id = m.tenant_id and c.chat_id = m.chat_id
            where m.direction = 'inbound' and c.channel = 'whatsapp'
              and m.created_at >= d.day::timestamp at time zone 'UTC'
              and m.created_at < (d.day + 1)::timestamp at time zone 'UTC')::bigint as "messages!",
           (select count(*) from customer_order o
            where o.created_at >= d.day::timestamp at time zone 'UTC'
              and o.created_at < (d.day + 1)::timestamp at time zone 'UTC')::bigint as "orders!"
         from days d order by d.day"#,
        now,
        days.max(1),
    )
    .fetch_all(&mut **tx)
    .await?)
}
