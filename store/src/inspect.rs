//! Read-only facts about a database for `tdjaasa doctor`: who a login is, which migrations are applied, and
//! whether every shop table keeps its row-level security. Nothing here writes.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::{MIGRATOR, Result};

/// What the checks run on and connect with (the binary names them without depending on sqlx).
pub type Pool = PgPool;
pub type ConnectOptions = PgConnectOptions;

/// A one-connection pool for the checks, failing after `timeout` when the server does not answer.
pub async fn connect(options: PgConnectOptions, timeout: Duration) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(timeout)
        .connect_with(options)
        .await?)
}

/// What PostgreSQL says about the role a pool logs in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub role: String,
    pub superuser: bool,
    /// A role with `BYPASSRLS` sees every shop's rows: the app role must not have it.
    pub bypass_rls: bool,
}

pub async fn login(pool: &PgPool) -> Result<Login> {
    let (role, superuser, bypass_rls): (String, bool, bool) = sqlx::query_as(
        "select rolname::text, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
    )
    .fetch_one(pool)
    .await?;
    Ok(Login {
        role,
        superuser,
        bypass_rls,
    })
}

/// The migrations this binary knows that the database has not applied (by version and description); `None`
/// when the login may not read the migration table.
pub async fn missing_migrations(pool: &PgPool) -> Result<Option<Vec<String>>> {
    let applied: std::result::Result<Vec<i64>, sqlx::Error> =
        sqlx::query_scalar("select version from _sqlx_migrations where success")
            .fetch_all(pool)
            .await;
    let applied = match applied {
        Ok(applied) => applied,
        // 42501: insufficient privilege; 42P01: no such table (never migrated).
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => return Ok(None),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(
        MIGRATOR
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect(),
    ))
}

/// Tables with a `tenant_id` column whose row-level security is off or not forced on their owner.
pub async fn tables_without_rls(pool: &PgPool) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "select c.relname::text from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p')
           and exists (select 1 from pg_attribute a
                       where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
           and not (c.relrowsecurity and c.relforcerowsecurity)
         order by 1",
    )
    .fetch_all(pool)
    .await?)
}
