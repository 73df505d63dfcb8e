//! What the services share for Prometheus: the help lines of their metrics (each crate lists its own in a
//! catalogue; the README's table lists them all) and the JetStream consumer figures sampled from the server.

use std::time::Duration;

use async_nats::jetstream;

/// A metric's name and its `# HELP` text. The kind follows Prometheus's naming: `_total` counters, `_seconds`
/// histograms, anything else a gauge.
pub type MetricDoc = (&'static str, &'static str);

/// Registers the help lines of `catalogue` with the installed recorder (call it after installing one).
pub fn describe(catalogue: &[MetricDoc]) {
    for (name, help) in catalogue {
        if name.ends_with("_total") {
            metrics::describe_counter!(*name, *help);
        } else if name.ends_with("_seconds") {
            metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help);
        } else {
            metrics::describe_gauge!(*name, *help);
        }
    }
}

/// This crate's metrics: the outbox publisher's marks and the consumer figures sampled from the server.
pub const CATALOGUE: &[MetricDoc] = &[
    (
        "outbox_marked_total",
        "Outbox entries (replies, events) marked published after NATS stored them.",
    ),
    (
        "nats_consumer_pending_messages",
        "Messages of the stream not yet delivered to the consumer, sampled from the server.",
    ),
    (
        "nats_consumer_ack_pending",
        "Messages delivered to the consumer and not yet acknowledged, sampled from the server.",
    ),
    (
        "nats_consumer_redelivered",
        "Messages delivered more than once and not yet acknowledged, sampled from the server.",
    ),
];

/// How often [`sample_consumer`] asks the server.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// Sets the consumer gauges from the server's view of `consumer` on `stream`, every [`SAMPLE_EVERY`], forever
/// (a failed sample is skipped: the gauges keep their last value, and the scrape's age tells).
pub async fn sample_consumer(js: jetstream::Context, stream: String, consumer: String) {
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match consumer_info(&js, &stream, &consumer).await {
            Ok(info) => record(&stream, &consumer, &info),
            Err(e) => tracing::debug!(error = %e, %stream, %consumer, "consumer sample failed"),
        }
    }
}

/// What the server says of `consumer` on `stream` (also read by [`crate::inspect`]).
pub(crate) async fn consumer_info(
    js: &jetstream::Context,
    stream: &str,
    consumer: &str,
) -> Result<jetstream::consumer::Info, String> {
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_stream(stream)
        .await
        .map_err(|e| e.to_string())?
        .get_consumer(consumer)
        .await
        .map_err(|e| e.to_string())?;
    consumer.info().await.cloned().map_err(|e| e.to_string())
}

fn record(stream: &str, consumer: &str, info: &jetstream::consumer::Info) {
    let labels = [
        ("stream", stream.to_owned()),
        ("consumer", consumer.to_owned()),
    ];
    metrics::gauge!("nats_consumer_pending_messages", &labels).set(info.num_pending as f64);
    metrics::gauge!("nats_consumer_ack_pending", &labels).set(info.num_ack_pending as f64);
    metrics::gauge!("nats_consumer_redelivered", &labels).set(info.num_redelivered as f64);
}
