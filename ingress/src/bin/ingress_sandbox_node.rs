//! An ingress node with the sandbox gateway, as a process of its own: the multi-process fail-over test runs
//! several and kills or pauses them. (Production runs `tdjaasa ingress`.)

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use ingress::{IngressConfig, SandboxGateway};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    db: store::DbConfig,
    #[command(flatten)]
    nats: tdj_nats::NatsConfig,
    #[command(flatten)]
    ingress: IngressConfig,
    /// `TDJ_MASTER_KEY`, shared by every node (else a development key file).
    #[command(flatten)]
    crypto: store::crypto::CryptoConfig,
    #[command(flatten)]
    media: store::media::MediaConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // A sandbox is never production: without TDJ_MASTER_KEY, the development key file is used.
    let master = store::crypto::MasterKey::load(&args.crypto, false)?;
    let db = store::Db::connect(&args.db).await?;
    let nats = tdj_nats::connect(&args.nats).await?;
    let subjects = args.nats.subjects()?;
    let gateway = Arc::new(SandboxGateway::new(
        db.clone(),
        nats.clone(),
        subjects.clone(),
        args.ingress.sandbox_qr_interval,
        args.ingress.sandbox_qr_count,
    ));
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        stop.cancel();
    });
    ingress::run_node(
        db,
        nats,
        subjects,
        gateway,
        args.ingress,
        master,
        args.media,
        shutdown,
    )
    .await
    .context("ingress node")?;
    Ok(())
}
