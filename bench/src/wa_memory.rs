//! Memory per idle tenant connection: starts N whatsapp-rust sessions in one process, each on the crate's
//! in-memory store and a fake transport that never connects (so every client sits in its first connect
//! attempt, as an offline tenant would), and prints the resident memory they add, per tenant.
//!
//! It measures the connection object (client, caches, tasks, our supervisor and channels), not a linked
//! session: Signal sessions, the TLS socket and app-state keys of a real account come on top.
//!
//! `cargo run --release -p tdjaasa-bench --bin wa_memory -- --tenants 200`

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use clap::{Parser, ValueEnum};
use ingress::gateway::{Connection, StartOptions};
use ingress::whatsapp::{Network, SessionBackend, WaConfig, start_session};
use uuid::Uuid;
use whatsapp_rust::async_channel;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse};
use whatsapp_rust::transport::{Transport, TransportEvent, TransportFactory};
use whatsapp_rust::wacore::store::InMemoryBackend;

#[derive(Parser)]
struct Args {
    /// Tenant connections to start.
    #[arg(long, default_value_t = 200)]
    tenants: usize,
    /// What the fake network does with each connection attempt.
    #[arg(long, value_enum, default_value_t = Mode::Hang)]
    mode: Mode,
    /// How long to let the clients settle before measuring.
    #[arg(long, default_value_t = 3)]
    settle_secs: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    /// The connect never completes: each client waits in its first attempt.
    Hang,
    /// The connect is refused at once: each client sleeps in its reconnect backoff.
    Refuse,
}

struct OfflineNetwork(Mode);

#[async_trait]
impl TransportFactory for OfflineNetwork {
    async fn create_transport(
        &self,
    ) -> anyhow::Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>)> {
        match self.0 {
            Mode::Hang => std::future::pending().await,
            Mode::Refuse => anyhow::bail!("offline benchmark: no network"),
        }
    }
}

struct NoHttp;

#[async_trait]
impl HttpClient for NoHttp {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        anyhow::bail!("offline benchmark: refused HTTP {}", request.url)
    }
}

/// Resident set size in bytes, from `/proc/self/statm` (pages; the page size from `getconf`).
fn rss_bytes() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("read /proc/self/statm")?;
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .context("statm has no resident field")?
        .parse()
        .context("statm resident field")?;
    Ok(resident * page_size())
}

fn page_size() -> u64 {
    std::process::Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = WaConfig {
        version: Some((2, 3000, 1_023_000_000)),
        shutdown_timeout: Duration::from_secs(1),
        ..WaConfig::default()
    };
    let network = Network::new(Arc::new(OfflineNetwork(args.mode)), Arc::new(NoHttp));
    let start = |_: usize| {
        start_session(
            &config,
            &network,
            Uuid::new_v4(),
            StartOptions::default(),
            SessionBackend::Other(Arc::new(InMemoryBackend::new())),
        )
    };

    // Warm up lazily initialised statics, the runtime's workers and allocator arenas before the baseline.
    let (warm, _warm_events) = start(0).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    warm.shutdown().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let before = rss_bytes()?;
    let mut connections = Vec::with_capacity(args.tenants);
    for i in 0..args.tenants {
        connections.push(start(i).await?);
    }
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let after = rss_bytes()?;

    let added = after.saturating_sub(before);
    let tenants = args.tenants.max(1) as u64;
    println!(
        "tenants={} mode={} rss_before={:.1} MiB rss_after={:.1} MiB added={:.1} MiB per_tenant={} bytes ({:.1} KiB)",
        args.tenants,
        match args.mode {
            Mode::Hang => "hang",
            Mode::Refuse => "refuse",
        },
        mib(before),
        mib(after),
        mib(added),
        added / tenants,
        (added / tenants) as f64 / 1024.0
    );

    // Concurrently: a client stuck connecting only stops at the shutdown timeout.
    futures::future::join_all(connections.iter().map(|(c, _)| c.shutdown())).await;
    drop(connections);
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("rss_after_shutdown={:.1} MiB", mib(rss_bytes()?));
    Ok(())
}
