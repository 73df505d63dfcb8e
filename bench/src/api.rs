//! API benchmark: authenticated `GET /api/v1/products?limit=20` and `GET /api/v1/orders?limit=20` with `oha`,
//! against the SQL each request issues replayed by prepared `pgbench` at the same concurrency, in the same run
//! on the same machine.
//!
//! Run on purpose, on an otherwise idle machine, in release mode (`oha`: `cargo install oha --locked`):
//! `cargo run --release -p tdjaasa-bench --bin api -- --seconds 10 --connections 16`
//! It creates a scratch database and NATS namespace and removes them at the end. With `pg_stat_statements`
//! loaded it prints the statements each request issued, which the replay script mirrors.

use std::process::Command;

use anyhow::Context;
use clap::Parser;
use serde_json::{Value, json};
use store::TenantCtx;
use store::orders::{self, NewOrder};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

// Shared by the benchmarks; this one has no NATS namespace to delete (the API provisions none).
#[allow(dead_code)]
mod scratch;
use scratch::{Scratch, Servers, with_scratch};

#[derive(Parser)]
struct Args {
    /// Seconds each load runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections (oha) and clients (pgbench).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    #[command(flatten)]
    servers: Servers,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let connections = u32::try_from(args.connections).unwrap_or(16) + 4;
    with_scratch(&args.servers.database_url, connections, false, |scratch| {
        run(&args, scratch)
    })
    .await
}

async fn run(args: &Args, scratch: Scratch) -> anyhow::Result<()> {
    let subjects = scratch.subjects()?;
    let Scratch {
        run_id: _,
        db_name,
        owner,
        app_pool,
        platform_pool,
        db,
    } = scratch;
    let db_name = db_name.as_str();
    let nats = async_nats::connect(&args.servers.nats_url).await?;

    let config = api::ApiConfig::for_tests();
    let tokens = api::auth::TokenKeys::from_secret(b"a benchmark signing key, 32 bytes", 60);
    let state = api::AppState::new(db.clone(), nats, subjects, config, tokens);
    let app = api::Application::build(state).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(app.run_until_stopped(async move { stopped.cancelled().await }));

    let (token, tenant_id, email) = seed_shop(&base, &db).await?;
    let session = web_session(&base, &email).await?;
    let statements_on = sqlx::query("create extension if not exists pg_stat_statements")
        .execute(&owner)
        .await
        .is_ok();

    println!(
        "{} s per load, {} connections; 20 products and 20 orders listed per request",
        args.seconds, args.connections
    );
    println!(
        "  {:<34} {:>10} {:>10} {:>10} {:>7}",
        "request", "API req/s", "p50 ms", "p99 ms", "vs SQL"
    );
    for (name, path, replay) in [
        (
            "GET /api/v1/products?limit=20",
            "/api/v1/products?limit=20",
            PRODUCTS_SQL,
        ),
        (
            "GET /api/v1/orders?limit=20",
            "/api/v1/orders?limit=20",
            ORDERS_SQL,
        ),
    ] {
        if statements_on {
            sqlx::query("select pg_stat_statements_reset()")
                .execute(&owner)
                .await?;
        }
        let load = oha(
            &format!("{base}{path}"),
            &format!("Authorization: Bearer {token}"),
            args,
        )?;
        let issued = if statements_on {
            issued_statements(&owner, db_name, load.requests).await?
        } else {
            Vec::new()
        };
        let sql_tps = pgbench(args, db_name, tenant_id, replay)?;
        println!(
            "  {name:<34} {:>10.0} {:>10.2} {:>10.2} {:>6.0}%",
            load.rps,
            load.p50_ms,
            load.p99_ms,
            100.0 * load.rps / sql_tps
        );
        println!(
            "  {:<34} {sql_tps:>10.0}   (the same transaction, prepared pgbench)",
            ""
        );
        for (query, per_request) in issued {
            println!("      {per_request:>4.2} × {query}");
        }
    }
    // The shop owner's dashboard home: every figure and alert of the shop, rendered as HTML.
    let load = oha(
        &format!("{base}/app"),
        &format!("Cookie: {}={session}", api::web::SESSION_COOKIE),
        args,
    )?;
    println!(
        "  {:<34} {:>10.0} {:>10.2} {:>10.2}",
        "GET /app (dashboard home, HTML)", load.rps, load.p50_ms, load.p99_ms
    );
    stop.cancel();
    app_pool.close().await;
    platform_pool.close().await;
    Ok(())
}

const PASSWORD: &str = "motdepasse-solide-du-bench";

/// A shop with 20 products and 20 orders; its owner's bearer token, the shop's id and the owner's e-mail.
async fn seed_shop(base: &str, db: &store::Db) -> anyhow::Result<(String, Uuid, String)> {
    let http = reqwest::Client::new();
    let email = format!("{}@bench.example", Uuid::new_v4().simple());
    let signup: Value = http
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({
            "business_name": "Boutique Bench",
            "email": email,
            "password": PASSWORD,
            "plan": "business",
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = signup["token"].as_str().context("token")?.to_owned();
    let tenant_id: Uuid = signup["tenant_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .context("tenant id")?;
    let mut product_ids = Vec::new();
    for n in 0..20 {
        let product: Value = http
            .post(format!("{base}/api/v1/products"))
            .bearer_auth(&token)
            .json(&json!({ "name": format!("Pagne wax {n}"), "price_xof": 5000 + n * 100, "stock": 1000 }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        product_ids.push(
            product["product_id"]
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok())
                .context("product id")?,
        );
    }
    let mut tx = db.tenant(TenantCtx::new(tenant_id)).await?;
    for (n, product_id) in product_ids.iter().enumerate() {
        let order_id = Uuid::new_v4();
        orders::place(
            &mut tx,
            &NewOrder {
                order_id,
                chat_id: None,
                customer_name: format!("Client {n}"),
                customer_phone: format!("+22507{n:08}"),
                customer_jid: format!("22507{n:08}@s.whatsapp.net"),
                delivery_address: "Cocody".into(),
                delivery_zone: String::new(),
                delivery_fee_xof: schemas::commerce::Xof::new(0)?,
                note: String::new(),
                idempotency_key: format!("bench-{order_id}"),
                lines: vec![(*product_id, 1)],
                hold_until: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok((token, tenant_id, email))
}

/// Signs the owner in on the web sign-in form, as a browser does; the session cookie's value.
async fn web_session(base: &str, email: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // The sign-in form's token only has to match its cookie.
    let csrf = Uuid::new_v4().simple().to_string();
    let response = http
        .post(format!("{base}/login"))
        .header("Cookie", format!("tdj_csrf={csrf}"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    let prefix = format!("{}=", api::web::SESSION_COOKIE);
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| cookie.strip_prefix(&prefix))
        .and_then(|rest| rest.split(';').next())
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .with_context(|| format!("no session from the sign-in form ({})", response.status()))
}

struct Load {
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs `oha` against `url` with one request `header` and reads its JSON summary.
fn oha(url: &str, header: &str, args: &Args) -> anyhow::Result<Load> {
    let output = Command::new("oha")
        .args(["--no-tui", "--json", "-z"])
        .arg(format!("{}s", args.seconds))
        .args(["-c", &args.connections.to_string()])
        .args(["-H", header])
        .arg(url)
        .output()
        .context("oha (cargo install oha --locked)")?;
    anyhow::ensure!(
        output.status.success(),
        "oha failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).context("oha's JSON")?;
    let statuses = &summary["statusCodeDistribution"];
    let ok = statuses["200"].as_u64().unwrap_or(0);
    let all: u64 = statuses
        .as_object()
        .map(|codes| codes.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    anyhow::ensure!(ok > 0 && ok == all, "non-200 answers: {statuses}");
    Ok(Load {
        requests: ok,
        rps: summary["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
        p50_ms: summary["latencyPercentiles"]["p50"].as_f64().unwrap_or(0.0) * 1000.0,
        p99_ms: summary["latencyPercentiles"]["p99"].as_f64().unwrap_or(0.0) * 1000.0,
    })
}

/// What each request issued, from `pg_stat_statements`: statements with their calls per request.
async fn issued_statements(
    pool: &sqlx::PgPool,
    db_name: &str,
    requests: u64,
) -> anyhow::Result<Vec<(String, f64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select regexp_replace(query, '\\s+', ' ', 'g'), calls from pg_stat_statements
         where dbid = (select oid from pg_database where datname = $1) and query not like '%pg_stat_%'
         order by calls desc",
    )
    .bind(db_name)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(query, calls)| {
            (
                query.chars().take(100).collect(),
                calls as f64 / requests.max(1) as f64,
            )
        })
        .filter(|(_, per_request)| *per_request >= 0.5)
        .collect())
}

/// The product list's transaction as the API issues it (`store::products::list`, `count_matching`, the shop's
/// product count), with the same parameters: the bench prints what the API issued, to compare.
const PRODUCTS_SQL: &str = r"BEGIN;
select set_config('app.tenant_id', :tenant, true);
select p.product_id, p.sku, p.name, p.description, p.category, p.price_xof, p.stock, p.image_url, p.attributes, p.active, p.created_at, p.updated_at, (p.active and exists (select 1 from product d where d.tenant_id = p.tenant_id and d.active and d.name_key = p.name_key and d.product_id <> p.product_id)) from product p where p.tenant_id = :tenant::uuid and (null::text is null or p.name_key like tdj_fold(null::text)) and (null::text is null or p.category = null::text) and (null::bool is null or p.active = null::bool) order by lower(p.name), p.product_id limit 20 offset 0;
select count(*) from product p where p.tenant_id = :tenant::uuid and (null::text is null or p.name_key like tdj_fold(null::text)) and (null::text is null or p.category = null::text) and (null::bool is null or p.active = null::bool);
select count(*) from product where tenant_id = :tenant::uuid;
COMMIT;
";

/// The order list's transaction as the API issues it (`store::orders::list`: the page, then its items).
const ORDERS_SQL: &str = r"BEGIN;
select set_config('app.tenant_id', :tenant, true);
select order_id, order_ref, chat_id, customer_name, customer_phone, delivery_address, delivery_zone, delivery_fee_xof, note, status, total_xof, created_at, updated_at from customer_order where tenant_id = :tenant::uuid and (null::text is null or status = null::text) and (null::uuid is null or chat_id = null::uuid) order by created_at desc, order_id limit 20 offset 0;
select order_id, line_no, product_id, product_name, unit_price_xof, quantity from order_item where tenant_id = :tenant::uuid and order_id in (select order_id from customer_order where tenant_id = :tenant::uuid order by created_at desc, order_id limit 20) order by order_id, line_no;
COMMIT;
";

/// Replays `script` with prepared `pgbench` as the app role, at the benchmark's concurrency; its tps.
fn pgbench(args: &Args, db_name: &str, tenant_id: Uuid, script: &str) -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!("tdjaasa-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("replay.sql");
    std::fs::write(&file, script)?;
    let url: sqlx::postgres::PgConnectOptions = args.servers.database_url.parse()?;
    let output = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-T", &args.seconds.to_string()])
        .args(["-c", &args.connections.to_string(), "-j", "2"])
        .args(["-h", url.get_host(), "-p", &url.get_port().to_string()])
        .args(["-U", store::db::APP_ROLE])
        .args(["-D", &format!("tenant={tenant_id}")])
        .arg("-f")
        .arg(&file)
        .arg(db_name)
        .output()
        .context("pgbench (apt: postgresql-contrib or postgresql-15)")?;
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .context("pgbench's tps")
}
