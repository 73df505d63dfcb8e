//! Tenants: the shops using Tdjaasa.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{PlatformTx, Result, TenantTx};

/// The fixed tenant that platform administrators belong to.
pub const PLATFORM_TENANT_ID: Uuid = Uuid::from_u128(0x7d1a_a5a0_0000_4000_8000_0000_0000_0001);

/// Whether the platform operator lets the shop run (`tenant.status`). Independent of its subscription: a
/// suspension is lifted by the operator, never by paying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    /// Suspended by the platform operator: the bot is silent, sign-ins are revoked.
    Suspended,
}

impl TenantStatus {
    pub const ALL: [TenantStatus; 2] = [TenantStatus::Active, TenantStatus::Suspended];

    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl std::fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the shop stands in the dashboard's onboarding (`tenant.onboarding_step`), in order: choose a plan,
/// pay, link WhatsApp, add products, name the bot, done.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum OnboardingStep {
    Plan,
    Pay,
    Whatsapp,
    Products,
    Bot,
    Done,
}

impl OnboardingStep {
    /// Every step, in order.
    pub const ALL: [OnboardingStep; 6] = [
        OnboardingStep::Plan,
        OnboardingStep::Pay,
        OnboardingStep::Whatsapp,
        OnboardingStep::Products,
        OnboardingStep::Bot,
        OnboardingStep::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OnboardingStep::Plan => "plan",
            OnboardingStep::Pay => "pay",
            OnboardingStep::Whatsapp => "whatsapp",
            OnboardingStep::Products => "products",
            OnboardingStep::Bot => "bot",
            OnboardingStep::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.as_str() == s)
    }

    /// Its position in [`OnboardingStep::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The step after this one (`Done` stays `Done`).
    pub fn next(self) -> Self {
        Self::ALL[(self.index() + 1).min(Self::ALL.len() - 1)]
    }
}

impl std::fmt::Display for OnboardingStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    pub tenant_id: Uuid,
    pub name: String,
    pub slug: String,
    /// Suspended by the platform operator, or not.
    pub status: TenantStatus,
    pub plan_code: String,
    pub created_at: DateTime<Utc>,
}

/// Slugs a shop may never take: the platform's own tenant and anything posing as the platform.
pub const RESERVED_SLUG_PREFIX: &str = "tdjaasa";

/// Inserts the tenant of the transaction. The slug gets a numeric suffix when another shop already uses it,
/// and a `boutique-` prefix when it would pose as the platform.
pub async fn create(tx: &mut TenantTx<'_>, name: &str, plan_code: &str) -> Result<Tenant> {
    let mut base = slugify(name);
    if base.starts_with(RESERVED_SLUG_PREFIX) {
        base = format!("boutique-{base}");
        base.truncate(56);
    }
    for attempt in 0..20u32 {
        let slug = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{}", attempt + 1)
        };
        let created = sqlx::query_as!(
            Tenant,
            r#"insert into tenant (tenant_id, name, slug, plan_code) values ($1, $2, $3, $4)
               on conflict (slug) do nothing
               returning tenant_id, name, slug, status as "status: TenantStatus", plan_code, created_at"#,
            tx.tenant_id(),
            name,
            &slug,
            plan_code,
        )
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(tenant) = created {
            return Ok(tenant);
        }
    }
    Err(anyhow::anyhow!("no free slug for {base:?}").into())
}

pub async fn get(tx: &mut TenantTx<'_>) -> Result<Tenant> {
    sqlx::query_as!(
        Tenant,
        r#"select tenant_id, name, slug, status as "status: TenantStatus", plan_code, created_at
           from tenant where tenant_id = $1"#,
        tx.tenant_id(),
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Creates the platform tenant if needed (platform admins belong to it).
pub async fn ensure_platform_tenant(tx: &mut PlatformTx) -> Result<()> {
    sqlx::query!(
        "insert into tenant (tenant_id, name, slug, plan_code) values ($1, 'Tdjaasa (plateforme)', 'tdjaasa-platform', 'business')
         on conflict (tenant_id) do nothing",
        PLATFORM_TENANT_ID,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A URL-safe identifier from a business name: ASCII lower case, accents folded, dashes between words.
pub fn slugify(name: &str) -> String {
    let slug: String = crate::text::words(name, '-').chars().take(50).collect();
    let slug = slug.trim_end_matches('-');
    if slug.len() < 2 {
        format!("boutique-{slug}").trim_end_matches('-').to_owned()
    } else {
        slug.to_owned()
    }
}

/// Where the shop stands in the dashboard's onboarding.
pub async fn onboarding_step(tx: &mut TenantTx<'_>) -> Result<OnboardingStep> {
    sqlx::query_scalar!(
        r#"select onboarding_step as "step: OnboardingStep" from tenant where tenant_id = $1"#,
        tx.tenant_id(),
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Moves the onboarding to `step` (the caller decides the order).
pub async fn set_onboarding_step(tx: &mut TenantTx<'_>, step: OnboardingStep) -> Result<()> {
    sqlx::query!(
        "update tenant set onboarding_step = $2 where tenant_id = $1",
        tx.tenant_id(),
        step as _,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Renames the shop (2 to 120 characters, validated by the caller). The slug stays: links keep working.
pub async fn rename(tx: &mut TenantTx<'_>, name: &str) -> Result<Tenant> {
    sqlx::query_as!(
        Tenant,
        r#"update tenant set name = $2 where tenant_id = $1
           returning tenant_id, name, slug, status as "status: TenantStatus", plan_code, created_at"#,
        tx.tenant_id(),
        name,
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Changes the plan of a shop that has not paid yet (its first payment will be for that plan). Once a
/// payment went through, plans change by paying for the new one.
pub async fn choose_plan_before_payment(tx: &mut TenantTx<'_>, plan_code: &str) -> Result<bool> {
    let changed = sqlx::query!(
        "with s as (
           update subscription set plan_code = $2, updated_at = now()
           where tenant_id = $1 and status = 'pending' returning tenant_id)
         update tenant t set plan_code = $2 from s where t.tenant_id = s.tenant_id",
        tx.tenant_id(),
        plan_code,
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_fold_accents_and_punctuation() {
        for (name, expected) in [
            ("Friperie d'Abobo", "friperie-d-abobo"),
            ("Maquis Chez Tantie Éléonore", "maquis-chez-tantie-eleonore"),
            ("  Cœur & Beauté  ", "coeur-beaute"),
            ("é", "boutique-e"),
            ("!!!", "boutique"),
        ] {
            assert_eq!(slugify(name), expected, "slug of {name:?}");
        }
    }

    #[test]
    fn onboarding_steps_run_in_order_and_stop_at_done() {
        use super::OnboardingStep;
        for (i, step) in OnboardingStep::ALL.into_iter().enumerate() {
            assert_eq!(step.index(), i, "{step:?}");
            assert_eq!(OnboardingStep::parse(step.as_str()), Some(step));
        }
        assert_eq!(OnboardingStep::Pay.next(), OnboardingStep::Whatsapp);
        assert_eq!(OnboardingStep::Done.next(), OnboardingStep::Done);
        assert!(OnboardingStep::Plan < OnboardingStep::Done);
    }
}
