//! The expiry job, run from the API process: periodically moves expired subscriptions to past due, then
//! suspends them when the grace period ends ([`store::billing::run_expiry`]). Several instances may run it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use store::billing::ExpiryReport;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The values of the `subscriptions` gauge's `status` label.
const SUBSCRIPTION_STATUSES: [&str; 5] = ["pending", "trial", "active", "past_due", "suspended"];

/// One pass at `now` (injected so tests control the clock).
pub async fn run_expiry_once(
    db: &store::Db,
    now: DateTime<Utc>,
    grace: chrono::Duration,
) -> store::Result<ExpiryReport> {
    let mut tx = db.platform().await?;
    let report = store::billing::run_expiry(&mut tx, now, grace).await?;
    let counts = store::billing::status_counts(&mut tx, now).await?;
    tx.commit().await?;
    // Every API instance samples the same figures (dashboards take the max); each expiry is counted once,
    // by the instance whose pass moved it.
    for status in SUBSCRIPTION_STATUSES {
        let count = counts
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, count)| *count);
        metrics::gauge!("subscriptions", "status" => status).set(count as f64);
    }
    metrics::counter!("subscription_renewals_failed_total").increment(report.past_due.len() as u64);
    if !report.past_due.is_empty() || !report.suspended.is_empty() {
        tracing::info!(
            past_due = report.past_due.len(),
            suspended = report.suspended.len(),
            "subscriptions expired"
        );
    }
    Ok(report)
}

/// Runs [`run_expiry_once`] every `every` until `shutdown` is cancelled. Errors are logged and retried at
/// the next tick.
pub fn spawn_expiry_job(
    db: store::Db,
    every: Duration,
    grace: chrono::Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = run_expiry_once(&db, Utc::now(), grace).await {
                tracing::error!(error.cause_chain = ?e, error.message = %e, "expiry job failed");
            }
        }
    })
}
