//! Subject and stream names.
//!
//! | subject                          | stream        | what                                      |
//! |----------------------------------|---------------|-------------------------------------------|
//! | `tdj.in.<tenant>.<chat>`         | `TDJ_IN`      | inbound customer messages (ingress, simulator) |
//! | `tdj.out.<tenant>`               | `TDJ_OUT`     | replies to send on WhatsApp               |
//! | `tdj.events.<tenant>.<kind>`     | `TDJ_EVENTS`  | domain events for integrators (replayable) |
//!
//! An optional prefix (`NATS_PREFIX`) namespaces everything, so several environments or test runs can share
//! one NATS server without seeing each other's messages.

use std::fmt::Display;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subjects {
    /// Empty in production; otherwise lower-case letters, digits and `_`.
    prefix: String,
}

impl Subjects {
    /// The production namespace: `tdj.…` subjects and `TDJ_…` streams.
    pub fn new() -> Self {
        Self::default()
    }

    /// A namespace for one environment or test run. Returns `None` for a prefix NATS cannot carry.
    pub fn with_prefix(prefix: &str) -> Option<Self> {
        let valid = prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        valid.then(|| Self {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A subject under this namespace's `tdj.` root.
    pub(crate) fn namespaced(&self, tail: impl Display) -> String {
        self.subject(tail)
    }

    fn subject(&self, tail: impl Display) -> String {
        if self.prefix.is_empty() {
            format!("tdj.{tail}")
        } else {
            format!("{}.tdj.{tail}", self.prefix)
        }
    }

    fn stream(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            format!("TDJ_{name}")
        } else {
            format!("{}_TDJ_{name}", self.prefix.to_ascii_uppercase())
        }
    }

    /// Inbound messages of one chat.
    pub fn inbound(&self, tenant: impl Display, chat: impl Display) -> String {
        self.subject(format_args!("in.{tenant}.{chat}"))
    }

    /// Every inbound message.
    pub fn inbound_all(&self) -> String {
        self.subject("in.>")
    }

    /// Replies to deliver for one tenant.
    pub fn outbound(&self, tenant: impl Display) -> String {
        self.subject(format_args!("out.{tenant}"))
    }

    /// Every reply to deliver.
    pub fn outbound_all(&self) -> String {
        self.subject("out.>")
    }

    /// One domain event kind of one tenant, e.g. `order.created`.
    pub fn event(&self, tenant: impl Display, kind: &str) -> String {
        self.subject(format_args!("events.{tenant}.{kind}"))
    }

    /// Every event.
    pub fn events_all(&self) -> String {
        self.subject("events.>")
    }

    pub fn inbound_stream(&self) -> String {
        self.stream("IN")
    }

    pub fn outbound_stream(&self) -> String {
        self.stream("OUT")
    }

    pub fn events_stream(&self) -> String {
        self.stream("EVENTS")
    }

    /// The durable consumer the workers share on the inbound stream.
    pub fn workers_consumer(&self) -> String {
        "workers".to_owned()
    }

    /// Core NATS request/reply, workers → api (queue group `api`): "has this customer paid?" asked of the
    /// provider before the bot answers ([`crate::billing::PayCheck`]).
    pub fn pay_check(&self, tenant: impl Display) -> String {
        self.subject(format!("pay.check.{tenant}"))
    }

    pub fn pay_check_all(&self) -> String {
        self.subject("pay.check.*")
    }

    /// The KV bucket holding per-tenant WhatsApp connection leases.
    pub fn lease_bucket(&self) -> String {
        self.stream("LEASES")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_names_have_no_prefix() {
        let s = Subjects::new();
        assert_eq!(s.inbound("t1", "c1"), "tdj.in.t1.c1");
        assert_eq!(s.outbound("t1"), "tdj.out.t1");
        assert_eq!(
            s.event("t1", "order.created"),
            "tdj.events.t1.order.created"
        );
        assert_eq!(s.inbound_stream(), "TDJ_IN");
    }

    #[test]
    fn prefixed_names_are_namespaced() {
        let s = Subjects::with_prefix("test_42").expect("valid prefix");
        assert_eq!(s.inbound_all(), "test_42.tdj.in.>");
        assert_eq!(s.events_stream(), "TEST_42_TDJ_EVENTS");
        assert!(
            Subjects::with_prefix("a.b").is_none(),
            "dots would split the subject"
        );
        assert!(Subjects::with_prefix("A").is_none());
    }
}
