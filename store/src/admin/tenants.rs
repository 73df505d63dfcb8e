//! Shops as the operator sees them: the searchable list and one shop's users, usage and audit trail.

use chrono::{DateTime, NaiveDate, Utc};
use schemas::billing::SubscriptionStatus;
use schemas::whatsapp::WaStatus;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::contains_pattern;
use crate::billing::month_start;
use crate::error::OptionalExt;
use crate::tenants::{PLATFORM_TENANT_ID, TenantStatus};
use crate::users::Role;
use crate::{PlatformTx, Result};

/// One shop as the operator sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminTenant {
    pub tenant_id: Uuid,
    pub name: String,
    pub slug: String,
    /// Suspended by the operator, or not.
    pub status: TenantStatus,
    /// Why the operator suspended the shop (shown to the shop); null unless suspended.
    pub suspended_reason: Option<String>,
    pub suspended_at: Option<DateTime<Utc>>,
    /// The operator who suspended it.
    pub suspended_by: Option<Uuid>,
    pub plan_code: String,
    /// The shop owner's e-mail (the first owner if there are several).
    pub owner_email: Option<String>,
    /// Null if the shop has no subscription row.
    pub subscription_status: Option<SubscriptionStatus>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The WhatsApp link (`disconnected` if it was never started).
    pub whatsapp_status: WaStatus,
    /// Customer messages received this UTC month.
    pub inbound_messages_this_month: i64,
    /// Bot replies sent this UTC month.
    pub bot_replies_this_month: i64,
    /// The latest message of any of the shop's conversations.
    pub last_activity_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// `sqlx::query_as!(AdminTenant, …)`: one row per shop ($1: the usage month), then the SQL in brackets (string
/// literals joined with `+`).
macro_rules! query_admin_tenant {
    ([$($sql:tt)+] $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            AdminTenant,
            r#"select t.tenant_id, t.name, t.slug, t.status as "status: TenantStatus", t.suspended_reason,
                      t.suspended_at, t.suspended_by, t.plan_code,
                      (select o.email from app_user o where o.tenant_id = t.tenant_id and o.role = 'owner'
                       order by o.created_at limit 1) as owner_email,
                      s.status as "subscription_status?: SubscriptionStatus", s.expires_at as "expires_at?",
                      coalesce(w.status, 'disconnected') as "whatsapp_status!: WaStatus",
                      coalesce(u.inbound_messages, 0)::bigint as "inbound_messages_this_month!",
                      coalesce(u.bot_replies, 0)::bigint as "bot_replies_this_month!",
                      (select max(c.last_message_at) from chat c where c.tenant_id = t.tenant_id)
                        as last_activity_at,
                      t.created_at
               from tenant t
               left join subscription s on s.tenant_id = t.tenant_id
               left join tenant_usage_now u on u.tenant_id = t.tenant_id and u.month = $1
               left join whatsapp_session w on w.tenant_id = t.tenant_id "#
                + $($sql)+
            $(, $arg)*
        )
    };
}

/// How many shops: `sqlx::query_scalar!` over the joins the list's filter needs, then the SQL in brackets.
macro_rules! query_tenant_count {
    ([$($sql:tt)+] $(, $arg:expr)* $(,)?) => {
        sqlx::query_scalar!(
            r#"select count(*) as "count!" from tenant t
               left join subscription s on s.tenant_id = t.tenant_id "#
                + $($sql)+
            $(, $arg)*
        )
    };
}

/// Calls `$query!` with the conditions shared by the list and its count ($2 to $6, in [`TenantFilter`]'s
/// order) before its own SQL.
macro_rules! filtered {
    ($query:ident!([$($sql:tt)+] $(, $arg:expr)* $(,)?)) => {
        $query!(
            [r#"where t.tenant_id <> $2
                 and ($3::text is null or tdj_fold(t.name) like $3 escape '\' or t.slug like $3 escape '\'
                      or exists (select 1 from app_user o where o.tenant_id = t.tenant_id and o.role = 'owner'
                                 and o.email like $3 escape '\'))
                 and ($4::text is null or t.status = $4)
                 and ($5::text is null or s.status = $5)
                 and ($6::text is null or t.plan_code = $6) "#
                + $($sql)+]
            $(, $arg)*
        )
    };
}

/// What the operator's list is narrowed to. Values are trusted to be valid (the API checks them).
#[derive(Debug, Clone, Default)]
pub struct TenantFilter {
    /// Part of the name (accents and case ignored), the slug or the owner's e-mail.
    pub search: Option<String>,
    /// The operator's status.
    pub status: Option<TenantStatus>,
    /// The subscription's status.
    pub subscription: Option<SubscriptionStatus>,
    pub plan: Option<String>,
}

impl TenantFilter {
    fn pattern(&self) -> Option<String> {
        self.search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| contains_pattern(&crate::text::fold(s)))
    }
}

/// Shops matching `filter` (never the platform's own tenant), newest first.
pub async fn list_tenants(
    tx: &mut PlatformTx,
    filter: &TenantFilter,
    limit: i64,
    offset: i64,
    now: DateTime<Utc>,
) -> Result<Vec<AdminTenant>> {
    Ok(filtered!(query_admin_tenant!(
        ["order by t.created_at desc, t.tenant_id limit $7 offset $8"],
        month_start(now),
        PLATFORM_TENANT_ID,
        filter.pattern(),
        filter.status as _,
        filter.subscription as _,
        filter.plan.as_deref(),
        limit,
        offset,
    ))
    .fetch_all(&mut **tx)
    .await?)
}

/// How many shops match `filter`.
pub async fn count_tenants(tx: &mut PlatformTx, filter: &TenantFilter) -> Result<i64> {
    // $1 (the usage month of the list) is not needed here: bound as null so the filter keeps its numbers.
    Ok(filtered!(query_tenant_count!(
        ["and $1::date is null"],
        None::<NaiveDate>,
        PLATFORM_TENANT_ID,
        filter.pattern(),
        filter.status as _,
        filter.subscription as _,
        filter.plan.as_deref(),
    ))
    .fetch_one(&mut **tx)
    .await?)
}

/// One shop (the platform's own tenant and unknown ids are not found).
pub async fn get_tenant(
    tx: &mut PlatformTx,
    tenant_id: Uuid,
    now: DateTime<Utc>,
) -> Result<AdminTenant> {
    query_admin_tenant!(
        ["where t.tenant_id <> $2 and t.tenant_id = $3"],
        month_start(now),
        PLATFORM_TENANT_ID,
        tenant_id,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// A user of a shop, as the operator sees it: never the password hash.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantUser {
    pub user_id: Uuid,
    pub email: String,
    /// `owner` or `staff`.
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

pub async fn tenant_users(tx: &mut PlatformTx, tenant_id: Uuid) -> Result<Vec<TenantUser>> {
    Ok(sqlx::query_as!(
        TenantUser,
        r#"select user_id, email, role as "role: Role", created_at from app_user where tenant_id = $1
           order by role = 'owner' desc, created_at"#,
        tenant_id,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// A shop's usage in one UTC month.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthlyUsage {
    /// First day of the month.
    pub month: NaiveDate,
    pub inbound_messages: i64,
    pub bot_replies: i64,
    pub llm_prompt_tokens: i64,
    pub llm_output_tokens: i64,
    /// Of the prompt tokens, those of customers' voice notes and photos.
    pub llm_media_tokens: i64,
    /// Customer voice notes and photos received (the plan's monthly media allowance counts these).
    pub media_received: i64,
}

/// The shop's usage, latest `months` months first.
pub async fn tenant_usage(
    tx: &mut PlatformTx,
    tenant_id: Uuid,
    months: i64,
) -> Result<Vec<MonthlyUsage>> {
    Ok(sqlx::query_as!(
        MonthlyUsage,
        r#"select month as "month!", inbound_messages::bigint as "inbound_messages!",
                  bot_replies::bigint as "bot_replies!", llm_prompt_tokens as "llm_prompt_tokens!",
                  llm_output_tokens as "llm_output_tokens!", llm_media_tokens as "llm_media_tokens!",
                  (select count(*) from media m
                   where m.tenant_id = u.tenant_id and m.product_id is null
                     and m.created_at >= u.month and m.created_at < u.month + interval '1 month') as "media_received!"
           from tenant_usage_now u where tenant_id = $1 order by month desc limit $2"#,
        tenant_id,
        months,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// One line of a shop's audit trail, with the e-mail of whoever did it (a shop user or an operator).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub audit_id: i64,
    pub action: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: Value,
    /// Null when the platform itself acted (webhooks, the expiry job, the pipeline).
    pub actor_user_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The shop's latest `limit` audit entries, newest first.
pub async fn tenant_audit(
    tx: &mut PlatformTx,
    tenant_id: Uuid,
    limit: i64,
) -> Result<Vec<AuditEntry>> {
    Ok(sqlx::query_as!(
        AuditEntry,
        r#"select a.audit_id, a.action, a.detail, a.actor_user_id, u.email as "actor_email?", a.created_at
           from audit_log a left join app_user u on u.user_id = a.actor_user_id
           where a.tenant_id = $1 order by a.audit_id desc limit $2"#,
        tenant_id,
        limit,
    )
    .fetch_all(&mut **tx)
    .await?)
}
