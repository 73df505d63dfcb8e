//! The ingress's metrics and their help lines (the README's "Metrics" table lists every service's).

use tdj_nats::telemetry::MetricDoc;

pub const CATALOGUE: &[MetricDoc] = &[
    (
        "whatsapp_tenants",
        "Shops run by this ingress node, by connection state.",
    ),
    (
        "whatsapp_reconnects_total",
        "Reconnections of a shop's WhatsApp session after it dropped.",
    ),
    (
        "whatsapp_terminal_total",
        "Shops' WhatsApp sessions that ended for good and need the owner, by reason (logged_out, banned, replaced).",
    ),
    (
        "whatsapp_watchdog_rebuilds_total",
        "Sessions the watchdog rebuilt because they stopped making progress.",
    ),
    (
        "whatsapp_lease_takeovers_total",
        "Shops' leases this node took over from another node.",
    ),
    (
        "whatsapp_lease_fences_total",
        "Times this node stopped running a shop because its lease expired or someone else wrote it.",
    ),
    (
        "whatsapp_lease_renewal_retries_total",
        "Lease renewals retried after a failed attempt.",
    ),
    (
        "whatsapp_inbound_total",
        "Messages received from WhatsApp, by what the ingress did with them (outcome, reason).",
    ),
    (
        "media_inbound_total",
        "Customer voice notes, photos and other media, by kind and by what the ingress did with them (stored, too_large, quota_reached, unsupported, unavailable).",
    ),
    (
        "whatsapp_sends_total",
        "Replies the ingress took from the outbound stream, by result.",
    ),
    (
        "pipeline_reply_latency_seconds",
        "From the customer's message received to the reply sent on WhatsApp, by channel.",
    ),
];

/// Registers the help lines of the ingress's metrics.
pub fn describe() {
    tdj_nats::telemetry::describe(CATALOGUE);
}
