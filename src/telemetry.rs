//! Logging and tracing: human-readable logs by default, JSON lines with `LOG_FORMAT=json`, filtered by
//! `RUST_LOG`; colour codes only when the log goes to a terminal. Every span also becomes an OpenTelemetry span, so
//! a customer message is one trace across the queue (`tdj_nats::trace`) and its log lines carry the trace id; the
//! spans are exported over OTLP (HTTP) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Log targets that print secrets at info level and are always capped at `warn`, whatever `RUST_LOG` says:
/// whatsapp-rust logs the pairing code and phone number when linking by code.
const SECRET_TARGETS: [&str; 2] = ["Client/PairCode", "Bot/PairCode"];

/// Flushes the spans still buffered for export when dropped (at the end of `main`).
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

pub fn init(json: bool) -> Telemetry {
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn"));
    for target in SECRET_TARGETS {
        if let Ok(directive) = format!("{target}=warn").parse() {
            filter = filter.add_directive(directive);
        }
    }
    let (provider, export_error) = tracer_provider();
    let traces = tracing_opentelemetry::layer().with_tracer(provider.tracer("tdjaasa"));
    let logs = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    let registry = tracing_subscriber::registry().with(filter).with(traces);
    if json {
        registry.with(logs.json()).init();
    } else {
        registry.with(logs).init();
    }
    if let Some(error) = export_error {
        tracing::warn!(%error, "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter could not be built: spans are not exported");
    }
    Telemetry { provider }
}

/// Spans get trace ids in any case (the logs name them); with `OTEL_EXPORTER_OTLP_ENDPOINT` they are also
/// exported in batches over OTLP/HTTP (the exporter reads the standard `OTEL_EXPORTER_OTLP_*` variables).
fn tracer_provider() -> (SdkTracerProvider, Option<String>) {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("tdjaasa")
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let wanted = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some_and(|v| !v.is_empty());
    if !wanted {
        return (builder.build(), None);
    }
    match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => (builder.with_batch_exporter(exporter).build(), None),
        Err(e) => (builder.build(), Some(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::SECRET_TARGETS;

    #[test]
    fn secret_targets_parse_as_filter_directives() {
        for target in SECRET_TARGETS {
            let directive: Result<tracing_subscriber::filter::Directive, _> =
                format!("{target}=warn").parse();
            assert!(directive.is_ok(), "{target}");
        }
    }
}
