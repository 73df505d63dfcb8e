//! Ingress benchmark: customer messages per second from the sandbox gateway into the inbound stream, each
//! acknowledged to the sender only once JetStream stored it (the ingress's durability contract), through one
//! ingress node holding every shop's lease.
//!
//! `cargo run --release -p tdjaasa-bench --bin ingress -- --tenants 50 --messages 20000 --senders 64`
//! (Memory per idle tenant connection: `--bin wa_memory`.) It creates a scratch database and NATS namespace
//! and removes them at the end; no worker runs, so the messages stay in the stream to be counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use ingress::sandbox::{SandboxAccepted, SandboxInbound};
use ingress::{GatewayKind, IngressConfig, IngressNode, SandboxGateway, names};
use schemas::Subjects;
use schemas::whatsapp::WaStatus;
use store::{TenantCtx, tenants, whatsapp_sessions};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

// Shared by the benchmarks; this one needs only the database handle.
#[allow(dead_code)]
mod scratch;
use scratch::{Scratch, Servers, with_scratch};

#[derive(Parser)]
struct Args {
    /// Shops with a linked (sandbox) number, all on the one node.
    #[arg(long, default_value_t = 50)]
    tenants: usize,
    /// Customer messages to inject.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Messages awaiting their acknowledgement at once (as many customers writing at the same time).
    #[arg(long, default_value_t = 64)]
    senders: usize,
    #[command(flatten)]
    servers: Servers,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = &Args::parse();
    with_scratch(&args.servers.database_url, 8, false, |scratch| {
        run(args, scratch)
    })
    .await
}

async fn run(args: &Args, scratch: Scratch) -> anyhow::Result<()> {
    let subjects = scratch.subjects()?;
    let nats = async_nats::connect(&args.servers.nats_url).await?;
    let layout = tdj_nats::StreamLayout {
        replicas: 1,
        inbound_max_bytes: 512 << 20,
        outbound_max_bytes: 64 << 20,
        events_max_bytes: 64 << 20,
    };
    tdj_nats::provision(&nats, &subjects, &layout).await?;
    let result = load(args, &scratch, &nats, &subjects).await;
    scratch::delete_namespace(&nats, &subjects).await;
    result
}

async fn load(
    args: &Args,
    scratch: &Scratch,
    nats: &async_nats::Client,
    subjects: &Subjects,
) -> anyhow::Result<()> {
    let db = &scratch.db;
    let mut tenant_ids = Vec::with_capacity(args.tenants);
    for i in 0..args.tenants {
        let tenant_id = Uuid::new_v4();
        let ctx = TenantCtx::new(tenant_id);
        let mut tx = db.billing(ctx).await?;
        tenants::create(&mut tx, &format!("Boutique {i}"), "business").await?;
        tx.commit().await?;
        // A number linked before: the sandbox resumes it connected, as a stored session would.
        let mut tx = db.tenant(ctx).await?;
        let phone = format!("22507{i:08}");
        whatsapp_sessions::set_status(&mut tx, WaStatus::Connected, "", Some(&phone)).await?;
        tx.commit().await?;
        tenant_ids.push(tenant_id);
    }

    // Production timings, the sandbox instead of WhatsApp.
    let config = IngressConfig {
        gateway: GatewayKind::Sandbox,
        ..IngressConfig::defaults()
    };
    let gateway = Arc::new(SandboxGateway::new(
        db.clone(),
        nats.clone(),
        subjects.clone(),
        config.sandbox_qr_interval,
        config.sandbox_qr_count,
    ));
    let node = IngressNode::new(
        db.clone(),
        nats.clone(),
        subjects.clone(),
        gateway,
        config,
        store::crypto::MasterKey::generate(),
        store::media::MediaConfig::default(),
    )
    .await?;
    let stop = CancellationToken::new();
    let running = tokio::spawn(node.clone().run(stop.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.owned_tenants().len() < tenant_ids.len() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the node took only {} of {} shops in 60 s",
            node.owned_tenants().len(),
            tenant_ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A message is accepted only once the shop's connection is up: the first one per shop waits for it.
    for (i, tenant_id) in tenant_ids.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !send(nats, subjects, *tenant_id, &format!("warm-{i}"), i).await? {
            anyhow::ensure!(Instant::now() < deadline, "shop {i} never connected");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let senders: Vec<_> = (0..args.senders.max(1))
        .map(|_| {
            let (nats, subjects, tenant_ids, next) = (
                nats.clone(),
                subjects.clone(),
                tenant_ids.clone(),
                next.clone(),
            );
            let total = args.messages;
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut refused = 0usize;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let tenant_id = tenant_ids[n % tenant_ids.len()];
                    let sent = Instant::now();
                    // A message not acknowledged is sent again with the same id, as WhatsApp redelivers.
                    while !send(&nats, &subjects, tenant_id, &format!("bench-{n}"), n % 1000)
                        .await?
                    {
                        refused += 1;
                    }
                    latencies.push(sent.elapsed());
                }
                Ok::<_, anyhow::Error>((latencies, refused))
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(args.messages);
    let mut refused = 0;
    for sender in senders {
        let (mine, not_acked) = sender.await.context("sender")??;
        latencies.extend(mine);
        refused += not_acked;
    }
    let elapsed = started.elapsed();

    let js = async_nats::jetstream::new(nats.clone());
    let stored = js
        .get_stream(subjects.inbound_stream())
        .await?
        .info()
        .await?
        .state
        .messages;
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(20), running).await;

    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "shops: {}  messages: {}  senders: {}",
        args.tenants, args.messages, args.senders
    );
    println!(
        "inbound: {:.0} messages/s stored in JetStream and acknowledged ({} in {elapsed:.2?}; {refused} sent again)",
        args.messages as f64 / elapsed.as_secs_f64(),
        args.messages
    );
    println!(
        "acknowledgement latency: p50 {:.1?}  p99 {:.1?}  max {:.1?}",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    let expected = (args.messages + args.tenants) as u64;
    println!("inbound stream: {stored} messages (expected {expected}, the warm-up's included)");
    anyhow::ensure!(
        stored == expected,
        "the stream holds {stored}, not {expected}"
    );
    Ok(())
}

/// Injects one message of customer number `customer` as a request; true once the ingress acknowledged it
/// stored.
async fn send(
    nats: &async_nats::Client,
    subjects: &Subjects,
    tenant_id: Uuid,
    id: &str,
    customer: usize,
) -> anyhow::Result<bool> {
    let message = SandboxInbound {
        id: Some(id.to_owned()),
        from: format!("22501{customer:08}@s.whatsapp.net"),
        name: "Client".into(),
        text: Some(format!("Bonjour, le pagne {id} est disponible ?")),
        kind: "direct".into(),
        from_me: false,
        ..Default::default()
    };
    let request = nats.request(
        names::sandbox_inbound(subjects, tenant_id),
        serde_json::to_vec(&message)?.into(),
    );
    match tokio::time::timeout(Duration::from_secs(5), request).await {
        Ok(Ok(reply)) => Ok(serde_json::from_slice::<SandboxAccepted>(&reply.payload)
            .map(|accepted| accepted.accepted)
            .unwrap_or(false)),
        // No answer: not stored; the caller sends it again.
        Ok(Err(_)) | Err(_) => Ok(false),
    }
}
