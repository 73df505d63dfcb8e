//! Trace context across the queue: a customer message is one trace from the ingress (or the simulator) through
//! the worker to the reply's send. The W3C `traceparent` of the current span travels in the NATS message's
//! headers, and the consumer's span continues it. With no OpenTelemetry layer installed, nothing is added.

use async_nats::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|value| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

/// Adds the current span's trace context to `headers` (nothing when the span is not traced).
pub fn inject_current(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
    }
}

/// Makes `span` continue the trace whose context `headers` carry (a message without one starts its own), and
/// records the trace id in its `trace_id` field, so every log line inside names it.
pub fn continue_trace(span: &tracing::Span, headers: Option<&HeaderMap>) {
    if let Some(headers) = headers {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
    }
    record_trace_id(span);
}

/// Records the span's trace id in its `trace_id` field (declared `tracing::field::Empty`).
pub fn record_trace_id(span: &tracing::Span) {
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn a_message_published_in_a_span_is_consumed_in_the_same_trace() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let mut headers = HeaderMap::new();
            let producer = tracing::info_span!("inbound", trace_id = tracing::field::Empty);
            producer.in_scope(|| inject_current(&mut headers));
            assert!(headers.get("traceparent").is_some(), "{headers:?}");
            let sent = producer.context().span().span_context().trace_id();

            let consumer = tracing::info_span!("message", trace_id = tracing::field::Empty);
            continue_trace(&consumer, Some(&headers));
            assert_eq!(consumer.context().span().span_context().trace_id(), sent);
            // And without a header the consumer starts a trace of its own.
            let alone = tracing::info_span!("message", trace_id = tracing::field::Empty);
            continue_trace(&alone, None);
            assert_ne!(alone.context().span().span_context().trace_id(), sent);
        });
    }
}
