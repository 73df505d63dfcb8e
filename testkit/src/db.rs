//! The test database as the services see it. `sqlx::test` hands each test a superuser pool, which bypasses
//! even FORCEd row-level security; the services connect as the app role, so tests do too.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

/// An app-role pool of `size` connections over the same database as sqlx::test's superuser `pool`.
pub async fn app_role_pool(pool: &PgPool, size: u32) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .username(store::db::APP_ROLE);
    PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .expect("connect as the app role")
}

/// A platform-role pool of `size` connections over the same database.
pub async fn platform_role_pool(pool: &PgPool, size: u32) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .username(store::db::PLATFORM_ROLE);
    PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .expect("connect as the platform role")
}

/// The services' `Db` handle over the test database: `size` app-role connections and a few platform-role
/// ones.
pub async fn app_db_sized(pool: &PgPool, size: u32) -> store::Db {
    store::Db::from_pools(
        app_role_pool(pool, size).await,
        platform_role_pool(pool, (size / 2).max(2)).await,
    )
}

/// The services' `Db` handle (5 app-role connections) over the test database.
pub async fn app_db(pool: &PgPool) -> store::Db {
    app_db_sized(pool, 5).await
}

/// Inserts a bare tenant (starter plan, no user, no subscription) as the superuser; returns its id.
pub async fn create_tenant(pool: &PgPool) -> Uuid {
    let tenant_id = Uuid::new_v4();
    sqlx::query(
        "insert into tenant (tenant_id, name, slug, plan_code) values ($1, $2, $3, 'starter')",
    )
    .bind(tenant_id)
    .bind(format!("Shop {}", tenant_id.simple()))
    .bind(format!("shop-{}", tenant_id.simple()))
    .execute(pool)
    .await
    .expect("insert tenant");
    tenant_id
}
