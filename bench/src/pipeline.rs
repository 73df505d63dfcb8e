//! Pipeline benchmark: messages per second through the whole pipeline (NATS → worker → PostgreSQL →
//! outbox → NATS) with a zero-latency model, and the latency it adds per message (publish of the inbound
//! message → reply on `tdj.out`), p50/p99.
//!
//! Run on purpose, on an otherwise idle machine, in release mode:
//! `cargo run --release -p tdjaasa-bench --bin pipeline -- --messages 3000 --chats 300`
//! Concurrency (many chats waiting on a slow model in one worker process):
//! `cargo run --release -p tdjaasa-bench --bin pipeline -- --messages 5000 --chats 5000 --tenants 50 \
//!   --workers 1 --concurrency 5000 --model-latency-ms 2000`
//! It creates a scratch database and NATS namespace and removes them at the end. With `pg_stat_statements`
//! loaded by the server it also prints the statements per message and the costliest ones.
//! The limit the pipeline's own SQL sets (`--replay`, needs the server's log readable, see [`replay`]):
//! `cargo run --release -p tdjaasa-bench --bin pipeline -- --messages 3000 --chats 300 --replay`

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use clap::Parser;
use futures::StreamExt;
use schemas::{Channel, InboundMessage, OutboundReply};
use store::{TenantCtx, tenants};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use workers::llm::{LlmError, LlmProvider, Reply, ToolExecutor, Turn};
use workers::{Pipeline, WorkerConfig};

mod replay;
mod scratch;
use scratch::{Scratch, Servers, with_scratch};

#[derive(Parser)]
struct Args {
    /// Inbound messages to push through.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Distinct customer chats they are spread over.
    #[arg(long, default_value_t = 200)]
    chats: usize,
    /// Shops the chats belong to.
    #[arg(long, default_value_t = 10)]
    tenants: usize,
    /// Worker pipelines (as separate processes would run them).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Publish at this many messages per second (0: as fast as possible, which measures saturation; a rate
    /// below it measures the latency the pipeline adds rather than queueing).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Concurrency per worker (turns in flight).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// How long the fake model takes to answer (0: at once).
    #[arg(long, default_value_t = 0)]
    model_latency_ms: u64,
    /// Database connections shared by the workers (a turn holds none while the model answers).
    #[arg(long, default_value_t = 40)]
    pool: u32,
    /// Turns of one shop at a time (`WORKER_TENANT_CONCURRENT_TURNS`); 0: no cap.
    #[arg(long, default_value_t = 0)]
    tenant_turns: u32,
    #[command(flatten)]
    servers: Servers,
    /// After the timed run, run the same load again with every statement logged by PostgreSQL, and replay
    /// that SQL on a twin database at the same concurrency: the limit the pipeline's database work sets.
    #[arg(long)]
    replay: bool,
    /// The PostgreSQL server's log file (default: Debian's, for the server's major version).
    #[arg(long)]
    pg_log: Option<std::path::PathBuf>,
}

/// Answers after a fixed delay (none by default), without tools: the benchmark measures the pipeline, not a
/// model.
struct FixedLatency(Duration);

#[async_trait]
impl LlmProvider for FixedLatency {
    fn name(&self) -> &'static str {
        "fixed-latency"
    }

    async fn respond(&self, turn: &Turn, _tools: &mut dyn ToolExecutor) -> Result<Reply, LlmError> {
        if !self.0.is_zero() {
            tokio::time::sleep(self.0).await;
        }
        Ok(Reply {
            text: format!("Bien reçu ({} message(s)).", turn.incoming.len()),
            ..Reply::default()
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = &Args::parse();
    let url = args.servers.database_url.as_str();
    let throughput = with_scratch(url, args.pool, false, |scratch| async move {
        let tenant_ids = seed(&scratch.db, &new_tenant_ids(args.tenants)).await?;
        run(args, scratch, &tenant_ids).await
    })
    .await?;
    if args.replay {
        compare_with_replay(args, throughput).await?;
    }
    Ok(())
}

fn new_tenant_ids(n: usize) -> Vec<Uuid> {
    (0..n).map(|_| Uuid::new_v4()).collect()
}

/// Creates the shops, each with a paid subscription (the bot answers real WhatsApp customers only then).
async fn seed(db: &store::Db, tenant_ids: &[Uuid]) -> anyhow::Result<Vec<Uuid>> {
    for (i, tenant_id) in tenant_ids.iter().enumerate() {
        // A shop and its subscription are billing state: written on the platform path.
        let mut tx = db.billing(TenantCtx::new(*tenant_id)).await?;
        tenants::create(&mut tx, &format!("Boutique {i}"), "business").await?;
        sqlx::query(
            "insert into subscription (tenant_id, plan_code, status, expires_at)
             values ($1, 'business', 'active', now() + interval '30 days')",
        )
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(tenant_ids.to_vec())
}

/// Runs the load a second time with every statement logged, replays that SQL on a twin database seeded with
/// the same shops, and prints the timed run's throughput against the replay's.
async fn compare_with_replay(args: &Args, throughput: f64) -> anyhow::Result<()> {
    let url = args.servers.database_url.as_str();
    let tenant_ids = &new_tenant_ids(args.tenants);
    println!();
    println!(
        "capture: the same load again, every statement logged by PostgreSQL (slower than the timed run)"
    );
    with_scratch(url, args.pool, true, |capture| async move {
        with_scratch(url, 4, false, |twin| async move {
            seed(&capture.db, tenant_ids).await?;
            seed(&twin.db, tenant_ids).await?;
            let log = match &args.pg_log {
                Some(path) => path.clone(),
                None => {
                    let version: String = sqlx::query_scalar("show server_version")
                        .fetch_one(&capture.owner)
                        .await?;
                    replay::debian_log_path(&version).into()
                }
            };
            let from = replay::log_len(&log)?;
            let capture_db = capture.db_name.clone();
            let capture_owner = capture.owner.clone();
            run(args, capture, tenant_ids).await?;
            copy_chats(&capture_owner, &twin.owner).await?;
            // The last backends log as they finish.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let to = replay::log_len(&log)?;
            let sessions = replay::read_sessions(
                &log,
                from,
                to,
                &capture_db,
                &[store::db::APP_ROLE, store::db::PLATFORM_ROLE],
            )?;
            let options: sqlx::postgres::PgConnectOptions = url.parse()?;
            let replayed = replay::replay(&options.database(&twin.db_name), sessions).await?;
            let seconds = replayed.elapsed.as_secs_f64();
            let equivalent = args.messages as f64 / seconds;
            println!();
            println!(
                "replay: {} statements ({:.1} per message), {} transactions over {} connections in {:.2?}: \
                 {:.0} statements/s, {:.0} transactions/s",
                replayed.statements,
                replayed.statements as f64 / args.messages as f64,
                replayed.transactions,
                replayed.connections,
                replayed.elapsed,
                replayed.statements as f64 / seconds,
                replayed.transactions as f64 / seconds
            );
            if replayed.inlined > 0 {
                println!(
                    "  {} statements ran with inlined values (the server could not prepare them untyped)",
                    replayed.inlined
                );
            }
            if replayed.errors > 0 {
                println!(
                    "  {} statements failed on the twin (a different interleaving), e.g.: {:?}",
                    replayed.errors, replayed.first_errors
                );
            }
            println!(
                "pipeline {throughput:.0} messages/s (timed run) vs its SQL alone {equivalent:.0} messages/s: {:.0} %",
                100.0 * throughput / equivalent
            );
            Ok(())
        })
        .await
    })
    .await
}

/// Gives the twin the capture's chats, as they were when created: their ids come from the server, and the
/// replayed statements refer to them.
async fn copy_chats(from: &sqlx::PgPool, to: &sqlx::PgPool) -> anyhow::Result<()> {
    let chats: serde_json::Value = sqlx::query_scalar(
        "select coalesce(jsonb_agg(jsonb_build_object(
                  'tenant_id', tenant_id, 'chat_id', chat_id, 'channel', channel,
                  'customer_jid', customer_jid, 'customer_name', customer_name)), '[]')
         from chat",
    )
    .fetch_one(from)
    .await?;
    sqlx::query(
        "insert into chat (tenant_id, chat_id, channel, customer_jid, customer_name)
         select tenant_id, chat_id, channel, customer_jid, customer_name
         from jsonb_to_recordset($1)
           as c(tenant_id uuid, chat_id uuid, channel text, customer_jid text, customer_name text)",
    )
    .bind(chats)
    .execute(to)
    .await?;
    Ok(())
}

/// Pushes the messages through the workers and prints what it measured; returns the throughput.
async fn run(args: &Args, scratch: Scratch, tenant_ids: &[Uuid]) -> anyhow::Result<f64> {
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
    // Limits a benchmark run cannot reach, small enough not to crowd a shared development server.
    let layout = tdj_nats::StreamLayout {
        replicas: 1,
        inbound_max_bytes: 512 << 20,
        outbound_max_bytes: 256 << 20,
        events_max_bytes: 512 << 20,
    };
    tdj_nats::provision(&nats, &subjects, &layout).await?;

    let stop = CancellationToken::new();
    for _ in 0..args.workers {
        let config = WorkerConfig {
            concurrency: args.concurrency,
            tenant_concurrent_turns: if args.tenant_turns == 0 {
                100_000
            } else {
                args.tenant_turns
            },
            ..WorkerConfig::for_tests()
        };
        let pipeline = Pipeline::new(
            db.clone(),
            nats.clone(),
            subjects.clone(),
            Arc::new(FixedLatency(Duration::from_millis(args.model_latency_ms))),
            config,
            store::crypto::MasterKey::generate(),
        );
        tokio::spawn(pipeline.run(stop.clone()));
    }

    // Replies are timestamped as they arrive, concurrently with publishing, so latency is not inflated by
    // the publish loop.
    let mut replies = nats.subscribe(subjects.outbound_all()).await?;
    let expected = args.messages;
    let receiver = tokio::spawn(async move {
        let mut received: Vec<(String, Instant)> = Vec::with_capacity(expected);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        while received.len() < expected {
            let Ok(Some(reply)) = tokio::time::timeout_at(deadline, replies.next()).await else {
                break;
            };
            let now = Instant::now();
            if let Ok(reply) = serde_json::from_slice::<OutboundReply>(&reply.payload) {
                received.extend(reply.in_reply_to.into_iter().map(|id| (id, now)));
            }
        }
        received
    });
    let js = async_nats::jetstream::new(nats.clone());
    let statements_on = statements::enable(&owner).await;
    let transactions_before = transactions(&owner, db_name).await?;
    // When each message was published, and to which shop.
    let mut sent_at: HashMap<String, (Instant, usize)> = HashMap::with_capacity(args.messages);
    let started = Instant::now();
    let mut pace = (args.rate > 0)
        .then(|| tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate))));
    let mut acks = Vec::with_capacity(256);
    for n in 0..args.messages {
        if let Some(pace) = pace.as_mut() {
            pace.tick().await;
        }
        let chat = n % args.chats;
        let shop = chat % tenant_ids.len();
        let tenant_id = tenant_ids[shop];
        let message = InboundMessage {
            tenant_id,
            channel: Channel::Whatsapp,
            customer_jid: format!("22507{chat:08}@s.whatsapp.net"),
            customer_name: format!("Client {chat}"),
            wa_message_id: format!("bench-{n}"),
            text: format!("message {n}"),
            timestamp: chrono::Utc::now(),
            from_owner: false,
            attachment: None,
            location: None,
        };
        let subject = subjects.inbound(tenant_id, message.chat_key());
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", message.msg_id().as_str());
        sent_at.insert(message.wa_message_id.clone(), (Instant::now(), shop));
        // Acks are awaited in batches: a publisher waiting for each one would pace the run itself.
        acks.push(
            js.publish_with_headers(subject, headers, serde_json::to_vec(&message)?.into())
                .await?,
        );
        if acks.len() >= 256 {
            for ack in acks.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in acks.drain(..) {
        ack.await?;
    }
    let published = started.elapsed();

    let received = receiver.await.context("reply receiver")?;
    let answered: Vec<(Duration, usize)> = received
        .iter()
        .filter_map(|(id, at)| sent_at.get(id).map(|(sent, shop)| (*at - *sent, *shop)))
        .collect();
    let mut latencies: Vec<Duration> = answered.iter().map(|(latency, _)| *latency).collect();
    anyhow::ensure!(
        latencies.len() == args.messages,
        "only {} of {} answered",
        latencies.len(),
        args.messages
    );
    let total = started.elapsed();
    stop.cancel();
    // A backend reports its statistics when it exits: the workers stop, then their connections close.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app_pool.close().await;
    platform_pool.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let transactions_run = transactions(&owner, db_name).await? - transactions_before;

    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "messages: {}  chats: {}  tenants: {}  workers: {} × {}  rate: {}",
        args.messages,
        args.chats,
        args.tenants,
        args.workers,
        args.concurrency,
        if args.rate == 0 {
            "max".to_owned()
        } else {
            format!("{}/s", args.rate)
        }
    );
    println!(
        "published in {:.2?}; all answered in {:.2?}",
        published, total
    );
    println!(
        "throughput: {:.0} messages/s",
        args.messages as f64 / total.as_secs_f64()
    );
    println!(
        "database transactions: {transactions_run} ({:.1} per message, the sweeper's included)",
        transactions_run as f64 / args.messages as f64
    );
    if statements_on {
        statements::report(&owner, db_name, args.messages).await?;
    } else {
        println!(
            "statements: not counted (load pg_stat_statements: shared_preload_libraries, then restart PostgreSQL)"
        );
    }
    println!(
        "latency publish → reply: p50 {:.1?}  p90 {:.1?}  p99 {:.1?}  max {:.1?}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
    // Starvation shows as one shop's messages waiting much longer than another's.
    let mut per_shop: Vec<Vec<Duration>> = vec![Vec::new(); tenant_ids.len()];
    for (latency, shop) in &answered {
        per_shop[*shop].push(*latency);
    }
    let shop_p99: Vec<Duration> = per_shop
        .iter_mut()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.sort();
            l[((l.len() as f64 - 1.0) * 0.99).round() as usize]
        })
        .collect();
    if let (Some(best), Some(worst)) = (shop_p99.iter().min(), shop_p99.iter().max()) {
        println!("per-shop p99: best {best:.1?}  worst {worst:.1?}");
    }
    if let Some(peak) = peak_memory_kib() {
        println!(
            "peak resident memory of this process (workers included): {:.0} MiB",
            peak as f64 / 1024.0
        );
    }

    scratch::delete_namespace(&nats, &subjects).await;
    Ok(args.messages as f64 / total.as_secs_f64())
}

/// Transactions committed or rolled back in the database so far (every connection's).
async fn transactions(pool: &sqlx::PgPool, db_name: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "select (xact_commit + xact_rollback)::bigint from pg_stat_database where datname = $1",
    )
    .bind(db_name)
    .fetch_one(pool)
    .await?)
}

/// Statements per message, from `pg_stat_statements` when the server loads it.
mod statements {
    use sqlx::PgPool;

    /// Creates the extension in the scratch database and clears its counters; false when unavailable.
    pub async fn enable(pool: &PgPool) -> bool {
        sqlx::query("create extension if not exists pg_stat_statements")
            .execute(pool)
            .await
            .is_ok()
            && sqlx::query("select pg_stat_statements_reset()")
                .execute(pool)
                .await
                .is_ok()
    }

    /// Prints the statements per message and the ten that took the most database time.
    pub async fn report(pool: &PgPool, db_name: &str, messages: usize) -> anyhow::Result<()> {
        let rows: Vec<(String, i64, f64)> = sqlx::query_as(
            "select regexp_replace(query, '\\s+', ' ', 'g'), calls, total_exec_time
             from pg_stat_statements
             where dbid = (select oid from pg_database where datname = $1)
               and query not like '%pg_stat_%'
             order by total_exec_time desc",
        )
        .bind(db_name)
        .fetch_all(pool)
        .await?;
        let calls: i64 = rows.iter().map(|(_, calls, _)| calls).sum();
        let time: f64 = rows.iter().map(|(_, _, ms)| ms).sum();
        println!(
            "statements: {calls} ({:.1} per message), {:.0} ms of execution in all",
            calls as f64 / messages as f64,
            time
        );
        println!("  {:>6} {:>9} {:>6}  statement", "calls", "ms", "share");
        for (query, calls, ms) in rows.iter().take(12) {
            let query: String = query.chars().take(110).collect();
            println!(
                "  {calls:>6} {ms:>9.0} {:>5.1}%  {query}",
                100.0 * ms / time.max(1e-9)
            );
        }
        Ok(())
    }
}

/// The process's peak resident set size (`VmHWM`), in KiB.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
