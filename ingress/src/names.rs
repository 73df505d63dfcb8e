//! Ingress-private subjects, in the same namespace as [`schemas::Subjects`] (whose own helper is private to
//! the schemas crate): `[<prefix>.]tdj.wa.node.…` and `[<prefix>.]tdj.wa.sandbox.…`. None of them matches
//! `tdj.wa.ctl.*`, the api's command subjects.

use std::fmt::Display;

use schemas::Subjects;

fn namespaced(subjects: &Subjects, tail: impl Display) -> String {
    if subjects.prefix().is_empty() {
        format!("tdj.{tail}")
    } else {
        format!("{}.tdj.{tail}", subjects.prefix())
    }
}

/// Commands forwarded by another node to the node holding a tenant's lease (request/reply).
pub fn node_control(subjects: &Subjects, node_id: &str) -> String {
    namespaced(subjects, format_args!("wa.node.{node_id}.ctl"))
}

/// Sandbox: a message here "scans" the tenant's QR code (payload: optional [`crate::sandbox::SandboxScan`]).
pub fn sandbox_scan(subjects: &Subjects, tenant: impl Display) -> String {
    namespaced(subjects, format_args!("wa.sandbox.{tenant}.scan"))
}

/// Sandbox: customer messages to inject ([`crate::sandbox::SandboxInbound`]).
pub fn sandbox_inbound(subjects: &Subjects, tenant: impl Display) -> String {
    namespaced(subjects, format_args!("wa.sandbox.{tenant}.inbound"))
}

/// Sandbox: every text "sent on WhatsApp" ([`crate::sandbox::SandboxSent`]), for demos and tests.
pub fn sandbox_sent(subjects: &Subjects, tenant: impl Display) -> String {
    namespaced(subjects, format_args!("wa.sandbox.{tenant}.sent"))
}

/// Sandbox: a connection announces itself here; older connections of the tenant then end as `Replaced`,
/// as WhatsApp does when a second client opens the same session.
pub fn sandbox_claim(subjects: &Subjects, tenant: impl Display) -> String {
    namespaced(subjects, format_args!("wa.sandbox.{tenant}.claim"))
}
