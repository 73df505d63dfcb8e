//! A scratch database for one benchmark run: created, migrated, and dropped at the end, whatever the run's
//! outcome.

use std::future::Future;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

/// Where the benchmark's PostgreSQL and NATS are.
#[derive(clap::Args)]
pub struct Servers {
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
}

/// Deletes a run's NATS namespace: its three streams and its lease bucket.
pub async fn delete_namespace(nats: &async_nats::Client, subjects: &schemas::Subjects) {
    let js = async_nats::jetstream::new(nats.clone());
    for stream in [
        subjects.inbound_stream(),
        subjects.outbound_stream(),
        subjects.events_stream(),
        format!("KV_{}", subjects.lease_bucket()),
    ] {
        let _ = js.delete_stream(&stream).await;
    }
}

/// The run's database: its name, an owner pool (statistics, seeding) and the services' pools.
pub struct Scratch {
    /// Unique per run; also names the run's NATS namespace.
    pub run_id: String,
    pub db_name: String,
    pub owner: PgPool,
    pub app_pool: PgPool,
    pub platform_pool: PgPool,
    pub db: store::Db,
}

impl Scratch {
    /// The run's NATS namespace (its prefix comes from the run id).
    pub fn subjects(&self) -> anyhow::Result<schemas::Subjects> {
        schemas::Subjects::with_prefix(&format!("bench{}", &self.run_id[..8]))
            .context("a benchmark NATS prefix")
    }
}

/// Creates and migrates a scratch database on the server of `database_url`, runs `bench` on it with an app
/// pool of `app_connections`, then drops it. With `log_statements`, the server logs every statement the
/// services' pools run in it (the owner's own statements are not logged).
pub async fn with_scratch<F, Fut, T>(
    database_url: &str,
    app_connections: u32,
    log_statements: bool,
    bench: F,
) -> anyhow::Result<T>
where
    F: FnOnce(Scratch) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let run_id = Uuid::new_v4().simple().to_string();
    let db_name = format!("tdjaasa_bench_{}", &run_id[..12]);
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(database_url)
        .await
        .context("PostgreSQL")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {db_name}")))
        .execute(&admin)
        .await?;
    let result = async {
        let options: PgConnectOptions = database_url.parse()?;
        let owner = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone().database(&db_name))
            .await?;
        store::MIGRATOR.run(&owner).await?;
        if log_statements {
            // Applies to the connections opened from now on: the services' pools below.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "alter database {db_name} set log_statement = 'all'"
            )))
            .execute(&owner)
            .await?;
        }
        let app_pool = PgPoolOptions::new()
            .max_connections(app_connections.max(4))
            .connect_with(
                options
                    .clone()
                    .database(&db_name)
                    .username(store::db::APP_ROLE),
            )
            .await?;
        let platform_pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(
                options
                    .database(&db_name)
                    .username(store::db::PLATFORM_ROLE),
            )
            .await?;
        let db = store::Db::from_pools(app_pool.clone(), platform_pool.clone());
        let result = bench(Scratch {
            run_id,
            db_name: db_name.clone(),
            owner: owner.clone(),
            app_pool,
            platform_pool,
            db,
        })
        .await?;
        owner.close().await;
        Ok::<_, anyhow::Error>(result)
    }
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {db_name} with (force)"
    )))
    .execute(&admin)
    .await?;
    result
}
