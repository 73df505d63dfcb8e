//! Tenants: the shops using Tdjaasa.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::error::OptionalExt;
use crate::{PlatformTx, Result, TenantTx};

/// The fixed tenant that platform administrators belong to.
pub const PLATFORM_TENANT_ID: Uuid = Uuid::from_u128(0x7d1a_a5a0_0000_4000_8000_0000_0000_0001);

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    pub tenant_id: Uuid,
    pub name: String,
    pub slug: String,
    /// `active` or `suspended` (by the platform operator).
    pub status: String,
    pub plan_code: String,
    pub created_at: DateTime<Utc>,
}

/// Inserts the tenant of the transaction. The slug gets a numeric suffix when another shop already uses it.
pub async fn create(tx: &mut TenantTx<'_>, name: &str, plan_code: &str) -> Result<Tenant> {
    let base = slugify(name);
    for attempt in 0..20u32 {
        let slug = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{}", attempt + 1)
        };
        let created = sqlx::query_as::<_, Tenant>(
            "insert into tenant (tenant_id, name, slug, plan_code) values ($1, $2, $3, $4)
             on conflict (slug) do nothing
             returning tenant_id, name, slug, status, plan_code, created_at",
        )
        .bind(tx.tenant_id())
        .bind(name)
        .bind(&slug)
        .bind(plan_code)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(tenant) = created {
            return Ok(tenant);
        }
    }
    Err(anyhow::anyhow!("no free slug for {base:?}").into())
}

pub async fn get(tx: &mut TenantTx<'_>) -> Result<Tenant> {
    sqlx::query_as::<_, Tenant>(
        "select tenant_id, name, slug, status, plan_code, created_at from tenant where tenant_id = $1",
    )
    .bind(tx.tenant_id())
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Creates the platform tenant if needed (platform admins belong to it).
pub async fn ensure_platform_tenant(tx: &mut PlatformTx) -> Result<()> {
    sqlx::query(
        "insert into tenant (tenant_id, name, slug, plan_code) values ($1, 'Tdjaasa (plateforme)', 'tdjaasa-platform', 'business')
         on conflict (tenant_id) do nothing",
    )
    .bind(PLATFORM_TENANT_ID)
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
pub async fn onboarding_step(tx: &mut TenantTx<'_>) -> Result<String> {
    sqlx::query_scalar("select onboarding_step from tenant where tenant_id = $1")
        .bind(tx.tenant_id())
        .fetch_optional(&mut **tx)
        .await?
        .or_not_found()
}

/// Moves the onboarding to `step` (the caller decides the order; steps are `plan`, `pay`, `whatsapp`,
/// `products`, `bot` and `done`).
pub async fn set_onboarding_step(tx: &mut TenantTx<'_>, step: &str) -> Result<()> {
    sqlx::query("update tenant set onboarding_step = $2 where tenant_id = $1")
        .bind(tx.tenant_id())
        .bind(step)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Renames the shop (2 to 120 characters, validated by the caller). The slug stays: links keep working.
pub async fn rename(tx: &mut TenantTx<'_>, name: &str) -> Result<Tenant> {
    sqlx::query_as::<_, Tenant>(
        "update tenant set name = $2 where tenant_id = $1
         returning tenant_id, name, slug, status, plan_code, created_at",
    )
    .bind(tx.tenant_id())
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found()
}

/// Changes the plan of a shop that has not paid yet (its first payment will be for that plan). Once a
/// payment went through, plans change by paying for the new one.
pub async fn choose_plan_before_payment(tx: &mut TenantTx<'_>, plan_code: &str) -> Result<bool> {
    let changed = sqlx::query(
        "with s as (
           update subscription set plan_code = $2, updated_at = now()
           where tenant_id = $1 and status = 'pending' returning tenant_id)
         update tenant t set plan_code = $2 from s where t.tenant_id = s.tenant_id",
    )
    .bind(tx.tenant_id())
    .bind(plan_code)
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
}
