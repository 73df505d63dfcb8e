//! Connecting to PostgreSQL: creating the database, migrating it as the owner, and the app-role pool.

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::scope::{PlatformTx, TenantCtx, TenantTx};
use crate::{MIGRATOR, Result};

#[cfg(test)]
mod tests {
    use super::credentials;

    #[test]
    fn credentials_are_read_and_percent_decoded() {
        assert_eq!(
            credentials("postgres://tdjaasa_app:p%40ss%27w@db:5432/tdjaasa"),
            Some(("tdjaasa_app".into(), "p@ss'w".into()))
        );
        assert_eq!(credentials("postgres://tdjaasa_app@db/tdjaasa"), None);
    }
}

/// The role the services log in as. It owns no table, so every FORCEd row-level-security policy applies.
pub const APP_ROLE: &str = "tdjaasa_app";

/// The role of the platform path (login by e-mail, the operator, scheduled jobs, billing): it sees every
/// tenant. Its own login, on its own pool: the app role cannot become it.
pub const PLATFORM_ROLE: &str = "tdjaasa_platform";

/// PostgreSQL settings.
#[derive(Debug, Clone, clap::Args)]
pub struct DbConfig {
    /// URL of the schema owner: creates the database if missing and runs the migrations.
    #[arg(long, env = "DATABASE_URL", default_value = "postgres://postgres@127.0.0.1:5432/tdjaasa", value_parser = parse_secret)]
    pub database_url: SecretString,
    /// URL the services use, logging in as the `tdjaasa_app` role. Defaults to DATABASE_URL's host and
    /// database with that user and no password (enough with local trust authentication).
    #[arg(long, env = "DATABASE_APP_URL", value_parser = parse_secret)]
    pub database_app_url: Option<SecretString>,
    /// URL of the platform path, logging in as the `tdjaasa_platform` role. Defaults like DATABASE_APP_URL.
    #[arg(long, env = "DATABASE_PLATFORM_URL", value_parser = parse_secret)]
    pub database_platform_url: Option<SecretString>,
    /// Size of each process's connection pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub max_connections: u32,
    /// Longest a single statement may run (including waiting for a lock) before PostgreSQL cancels it, so a
    /// stuck query fails (and is retried) instead of holding a connection and a turn forever.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_SECS", default_value_t = 15)]
    pub statement_timeout_secs: u64,
}

fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

impl DbConfig {
    /// Connection options of the schema owner (`DATABASE_URL`): migrations only.
    pub fn owner_options(&self) -> anyhow::Result<PgConnectOptions> {
        self.database_url
            .expose_secret()
            .parse()
            .context("DATABASE_URL is not a valid PostgreSQL URL")
    }

    /// Connection options of the app role.
    pub fn app_options(&self) -> anyhow::Result<PgConnectOptions> {
        self.role_options(self.database_app_url.as_ref(), "DATABASE_APP_URL", APP_ROLE)
    }

    /// Connection options of the platform role.
    pub fn platform_options(&self) -> anyhow::Result<PgConnectOptions> {
        self.role_options(
            self.database_platform_url.as_ref(),
            "DATABASE_PLATFORM_URL",
            PLATFORM_ROLE,
        )
    }

    fn role_options(
        &self,
        url: Option<&SecretString>,
        variable: &str,
        role: &str,
    ) -> anyhow::Result<PgConnectOptions> {
        if let Some(url) = url {
            return url
                .expose_secret()
                .parse()
                .with_context(|| format!("{variable} is not a valid PostgreSQL URL"));
        }
        let owner = self.owner_options()?;
        let mut options = PgConnectOptions::new_without_pgpass()
            .host(owner.get_host())
            .port(owner.get_port())
            .username(role);
        if let Some(database) = owner.get_database() {
            options = options.database(database);
        }
        Ok(options)
    }
}

/// Creates the database if it does not exist, then applies the migrations as the schema owner.
pub async fn prepare(config: &DbConfig) -> Result<()> {
    let url = config.database_url.expose_secret();
    if !Postgres::database_exists(url)
        .await
        .context("cannot reach PostgreSQL at DATABASE_URL")?
    {
        tracing::info!("creating the database");
        Postgres::create_database(url)
            .await
            .context("cannot create the database")?;
    }
    let owner = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(config.owner_options()?)
        .await
        .context("cannot connect to PostgreSQL with DATABASE_URL")?;
    MIGRATOR.run(&owner).await?;
    set_role_password(config.database_app_url.as_ref(), APP_ROLE, &owner).await?;
    set_role_password(config.database_platform_url.as_ref(), PLATFORM_ROLE, &owner).await?;
    owner.close().await;
    Ok(())
}

/// When a service URL carries a password for its role, the owner sets it, so a deployment needs no manual
/// `alter role`. The password is quoted as a SQL literal (it cannot be a bind parameter here).
async fn set_role_password(url: Option<&SecretString>, role: &str, owner: &PgPool) -> Result<()> {
    let Some(url) = url else {
        return Ok(());
    };
    let Some((user, password)) = credentials(url.expose_secret()) else {
        return Ok(());
    };
    if user != role || password.is_empty() {
        return Ok(());
    }
    let literal = password.replace('\'', "''");
    // A role statement with a literal built at run time: dynamic SQL, not a compile-checked macro.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "alter role {role} with login password '{literal}'"
    )))
    .execute(owner)
    .await?;
    Ok(())
}

/// User and (percent-decoded) password of a `postgres://user:password@host/db` URL.
fn credentials(url: &str) -> Option<(String, String)> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    let (user, password) = userinfo.split_once(':')?;
    Some((percent_decode(user), percent_decode(password)))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The services' way to the data: the app-role pool for everything a shop does, and the platform-role pool
/// for the deliberate cross-tenant paths.
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
    platform: PgPool,
}

impl Db {
    pub async fn connect(config: &DbConfig) -> Result<Self> {
        let timeout = (
            "statement_timeout",
            format!("{}s", config.statement_timeout_secs.max(1)),
        );
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(config.app_options()?.options([timeout.clone()]))
            .await
            .context("cannot connect to PostgreSQL as the tdjaasa_app role (run `tdjaasa migrate` first)")?;
        let platform = PgPoolOptions::new()
            .max_connections((config.max_connections / 2).max(2))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(config.platform_options()?.options([timeout]))
            .await
            .context(
                "cannot connect to PostgreSQL as the tdjaasa_platform role (run `tdjaasa migrate` first)",
            )?;
        Ok(Self { pool, platform })
    }

    /// Wraps existing pools: `app` must log in as the app role and `platform` as the platform role for
    /// isolation to hold.
    pub fn from_pools(app: PgPool, platform: PgPool) -> Self {
        Self {
            pool: app,
            platform,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn tenant(&self, ctx: TenantCtx) -> Result<TenantTx<'static>> {
        TenantTx::begin(&self.pool, ctx).await
    }

    pub async fn platform(&self) -> Result<PlatformTx> {
        PlatformTx::begin(&self.platform).await
    }

    /// One shop's transaction on the platform path: the only one that may write billing state (the shop's
    /// status and plan, its subscription and payments). For sign-up, webhooks, checkouts and the operator.
    pub async fn billing(&self, ctx: TenantCtx) -> Result<TenantTx<'static>> {
        TenantTx::begin(&self.platform, ctx).await
    }

    /// A round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query_scalar!("select 1 as ping")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }
}
