//! The workers' metrics and their help lines (the README's "Metrics" table lists every service's).

use tdj_nats::telemetry::MetricDoc;

pub const CATALOGUE: &[MetricDoc] = &[
    (
        "pipeline_inbound_total",
        "Customer messages stored by the workers, by channel (a redelivery is not counted again).",
    ),
    ("pipeline_replies_total", "Replies committed, by channel."),
    (
        "pipeline_not_answered_total",
        "Customer messages the bot deliberately left unanswered, by reason.",
    ),
    (
        "pipeline_reply_latency_seconds",
        "From the customer's message received to the reply sent (published, for the simulator), by channel.",
    ),
    (
        "pipeline_messages_total",
        "Inbound deliveries handled by a worker, by outcome (ack, retry, dead_letter).",
    ),
    (
        "pipeline_message_seconds",
        "Time a worker spent on one inbound delivery.",
    ),
    (
        "pipeline_turn_seconds",
        "One bot turn, model calls and tools included, by provider.",
    ),
    (
        "pipeline_turn_failures_total",
        "Bot turns that failed; the chat is retried after a backoff.",
    ),
    (
        "pipeline_dead_letters_total",
        "Messages set aside as dead letters, by reason (invalid, exhausted).",
    ),
    (
        "pipeline_handovers_total",
        "Conversations the bot handed over to the shop's team.",
    ),
    (
        "pipeline_customer_throttled_total",
        "Messages over a customer's rate limit (answered later).",
    ),
    (
        "pipeline_tenant_throttled_total",
        "Chat claims deferred because the shop already runs its maximum of concurrent turns.",
    ),
    (
        "pipeline_swept_chats_total",
        "Chats the sweeper picked up (left by a dead worker, or whose backoff passed).",
    ),
    (
        "llm_requests_total",
        "Requests to the model provider, by provider and outcome.",
    ),
    (
        "llm_request_duration_seconds",
        "Time of one request to the model provider.",
    ),
    (
        "llm_errors_total",
        "Failed requests to the model provider, by provider and kind.",
    ),
    (
        "llm_tokens_total",
        "Tokens billed by the model provider, by provider, model and kind (prompt, output).",
    ),
    (
        "llm_media_tokens_total",
        "Of the prompt tokens, those of customers' voice notes and photos, by provider and model.",
    ),
    (
        "pipeline_media_answers_total",
        "Customer voice notes, photos and other media answered, by kind and how (model, offline, refused).",
    ),
    (
        "pipeline_photos_sent_total",
        "Product photos the bot sent, by outcome (sent, refused: the shop's image could not be used).",
    ),
    (
        "llm_cost_xof_total",
        "Estimated cost of the model's tokens in XOF, by provider and model.",
    ),
    ("llm_tool_calls_total", "Tools the model called, by tool."),
    (
        "llm_refused_total",
        "Prompts the model refused; the offline assistant answered instead.",
    ),
    (
        "llm_fallback_opened_total",
        "Times a shop's model kept failing and its turns switched to the offline assistant for a while.",
    ),
    (
        "llm_fallback_replies_total",
        "Turns answered by the offline assistant because the model was unavailable.",
    ),
    (
        "orders_created_total",
        "Orders the bot took in a conversation.",
    ),
    (
        "orders_value_xof_total",
        "Sum of the totals of the orders the bot took, in XOF.",
    ),
];

/// Registers the help lines of the workers' metrics.
pub fn describe() {
    tdj_nats::telemetry::describe(CATALOGUE);
}
