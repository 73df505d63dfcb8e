//! Row-level security holds even for a query that forgets its tenant: the app role owns nothing, every
//! tenant table FORCEs its policy, and no `app.tenant_id` means no rows.

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::spawn_app;
use testkit::db::app_role_pool;

/// Every table with a `tenant_id` column.
async fn tenant_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select c.table_name::text from information_schema.columns c
         join information_schema.tables t using (table_schema, table_name)
         where c.table_schema = 'public' and c.column_name = 'tenant_id' and t.table_type = 'BASE TABLE'
         order by 1",
    )
    .fetch_all(pool)
    .await
    .expect("tables")
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn every_tenant_table_forces_row_level_security(pool: PgPool) {
    let tables = tenant_tables(&pool).await;
    assert!(tables.len() >= 12, "found {tables:?}");
    for table in &tables {
        let (enabled, forced, owner): (bool, bool, String) = sqlx::query_as(
            "select relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner)::text from pg_class
             where oid = ('public.' || $1)::regclass",
        )
        .bind(table)
        .fetch_one(&pool)
        .await
        .expect("pg_class");
        assert!(enabled && forced, "{table}: RLS enabled and forced");
        assert_ne!(
            owner,
            store::db::APP_ROLE,
            "{table}: the app role must not own it"
        );
    }
    let owned: i64 = sqlx::query_scalar("select count(*) from pg_tables where tableowner = $1")
        .bind(store::db::APP_ROLE)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(owned, 0, "the app role owns no table at all");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_query_without_a_tenant_sees_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let shop = app.signup("Friperie").await;
    app.create_product_ok(&shop, json!({"name": "Robe", "price_xof": 1000}))
        .await;
    let app_pool = app_role_pool(&pool, 5).await;

    for table in tenant_tables(&pool).await {
        let sql = format!("select count(*) from {table}");
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&app_pool)
            .await
            .expect("query");
        assert_eq!(rows, 0, "{table} without app.tenant_id");
        let superuser_rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .expect("query");
        if [
            "tenant",
            "app_user",
            "product",
            "subscription",
            "bot_setting",
        ]
        .contains(&table.as_str())
        {
            assert!(
                superuser_rows > 0,
                "{table} really has data the app role could not see"
            );
        }
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_tenant_transaction_cannot_read_or_write_another_tenant(pool: PgPool) {
    let app = spawn_app(pool).await;
    let abobo = app.signup("Abobo").await;
    let marcory = app.signup("Marcory").await;
    app.create_product_ok(&abobo, json!({"name": "Robe", "price_xof": 1000}))
        .await;

    let mut tx = app
        .db
        .tenant(store::TenantCtx::new(marcory.tenant_id))
        .await
        .expect("tx");
    let visible: i64 = sqlx::query_scalar("select count(*) from product")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(
        visible, 0,
        "Marcory's transaction does not see Abobo's product"
    );
    let updated = sqlx::query("update product set price_xof = 1 where tenant_id = $1")
        .bind(abobo.tenant_id)
        .execute(&mut *tx)
        .await
        .expect("update runs")
        .rows_affected();
    assert_eq!(updated, 0, "nor can it change it");
    let insert =
        sqlx::query("insert into product (tenant_id, name, price_xof) values ($1, 'Intrus', 1)")
            .bind(abobo.tenant_id)
            .execute(&mut *tx)
            .await;
    assert!(insert.is_err(), "nor insert rows for Abobo (WITH CHECK)");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_app_role_cannot_become_another_role_whatever_sql_it_runs(pool: PgPool) {
    let app_pool = app_role_pool(&pool, 1).await;
    for statement in [
        "set role tdjaasa_platform",
        "set role postgres",
        "set session authorization tdjaasa_platform",
        "set session authorization postgres",
        "grant tdjaasa_platform to tdjaasa_app",
        "alter role tdjaasa_app bypassrls",
        "create role intrus login superuser",
    ] {
        let mut tx = app_pool.begin().await.expect("tx");
        let outcome = sqlx::query(statement).execute(&mut *tx).await;
        assert!(outcome.is_err(), "{statement} must be refused");
    }
    let member_of: Vec<String> = sqlx::query_scalar(
        "select r.rolname::text from pg_auth_members m join pg_roles r on r.oid = m.roleid
         join pg_roles u on u.oid = m.member where u.rolname = 'tdjaasa_app'",
    )
    .fetch_all(&pool)
    .await
    .expect("memberships");
    assert!(
        member_of.is_empty(),
        "the app role is a member of {member_of:?}"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn tenant_scoped_code_reads_billing_state_but_cannot_change_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    let shop = app.signup_on("Friperie Abobo", "starter").await;
    let mut tx = app
        .db
        .tenant(store::TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    let plan: String = sqlx::query_scalar("select plan_code from subscription")
        .fetch_one(&mut *tx)
        .await
        .expect("the shop reads its subscription");
    assert_eq!(plan, "starter");
    tx.commit().await.expect("commit");

    for statement in [
        "update subscription set status = 'active', expires_at = now() + interval '10 years'",
        "update tenant set plan_code = 'business'",
        "update tenant set status = 'active'",
        "update payment set status = 'succeeded'",
        "insert into payment (tenant_id, plan_code, provider, amount_xof, currency, idempotency_key)
         values (current_setting('app.tenant_id')::uuid, 'business', 'sandbox', 1, 'XOF', 'x')",
        "delete from subscription",
        "insert into billing_event (tenant_id, provider, event_id) values
         (current_setting('app.tenant_id')::uuid, 'sandbox', 'x')",
    ] {
        let mut tx = app
            .db
            .tenant(store::TenantCtx::new(shop.tenant_id))
            .await
            .expect("tx");
        let refused = sqlx::query(statement).execute(&mut *tx).await;
        assert!(
            refused.as_ref().is_err_and(|e| e.to_string().contains("permission denied")),
            "{statement}: {refused:?}"
        );
    }
    let mut tx = app
        .db
        .tenant(store::TenantCtx::new(shop.tenant_id))
        .await
        .expect("tx");
    sqlx::query("update tenant set name = 'Friperie Abobo Plus'")
        .execute(&mut *tx)
        .await
        .expect("the shop still renames itself");
    tx.commit().await.expect("commit");
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_platform_role_cannot_rewrite_the_plans(pool: PgPool) {
    let platform = testkit::db::platform_role_pool(&pool, 1).await;
    let refused = sqlx::query("update plan set price_xof = 1 where plan_code = 'business'")
        .execute(&platform)
        .await;
    assert!(refused.is_err_and(|e| e.to_string().contains("permission denied")));
}
