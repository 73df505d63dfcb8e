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
