//! Per-tenant leases in the NATS KV bucket `subjects.lease_bucket()`: which node runs which tenant's
//! WhatsApp connection, so two nodes never run the same session.
//!
//! - key = tenant id, value = node id. **Acquire** = `create` (create-if-absent; also succeeds over a
//!   release tombstone). **Renew** = `update(key, node, revision)` every TTL/3, a compare-and-set on the
//!   revision we last wrote. **Release** = `delete_expect_revision(key, our revision)`: a tombstone written
//!   only if nobody wrote after us, so a late release can never free another node's lease.
//! - **Expiry without synchronised clocks**: a node takes over a tenant whose entry it has *observed
//!   unchanged for a whole TTL on its own monotonic clock* (CAS `update` on that stale revision). The owner
//!   self-fences once its last successful renewal — timed from when the renewal was *sent* — is older than
//!   TTL − margin, so it always stops before anyone may take over, whatever the wall clocks say. Monotonic
//!   time keeps running while a process is SIGSTOPped, so a resumed process sees its lease as expired at once.
//!   (It does not run during a machine suspend; servers do not suspend.)
//! - The bucket's 30 s `max_age` removes the entries of crashed nodes on its own; renewals every TTL/3 keep
//!   a live entry far younger than that.
//! - The revision at acquisition is the lease **epoch**: work started under one epoch (an outbound reply being
//!   sent) is dropped if the tenant's lease epoch has changed by the time it would act.
//! - Node heartbeats live in the same bucket under `node.<node id>`, rewritten every renewal period; the
//!   heartbeats seen changing within a TTL tell how many nodes are alive (used only to share new tenants fairly, never
//!   for safety).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use bytes::Bytes;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Error, Result};

/// Node-wide access to the lease bucket.
pub struct LeaseStore {
    kv: kv::Store,
    node_id: String,
    ttl: Duration,
    margin: Duration,
    /// What this node saw of each key it looked at: the clock-free expiry (see module doc). Keys not looked
    /// at for [`FORGET_AFTER_TTLS`] TTLs are dropped, so tenants and nodes that came and went do not pile up.
    observed: Mutex<HashMap<String, Observed>>,
}

/// Looking at a key again after this many TTLs starts its observation afresh, which only delays a
/// takeover.
const FORGET_AFTER_TTLS: u32 = 2;

#[derive(Debug, Clone, Copy)]
struct Observed {
    revision: u64,
    /// First seen at `revision`.
    since: Instant,
    /// Last looked at.
    seen: Instant,
}

/// Who holds a tenant when we could not take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Another node, live as far as we can tell.
    Node(String),
}

/// A lease this node holds on one tenant.
#[derive(Debug)]
pub struct Lease {
    pub tenant_id: Uuid,
    /// The revision at acquisition; stamps work done under this lease.
    pub epoch: u64,
    revision: AtomicU64,
    /// When the last successful renewal (or the acquisition) was sent.
    renewed_at: Mutex<Instant>,
    /// Valid for this long after `renewed_at`: TTL − margin.
    valid_for: Duration,
    fenced: CancellationToken,
}

impl Lease {
    fn new(tenant_id: Uuid, revision: u64, sent_at: Instant, valid_for: Duration) -> Self {
        Self {
            tenant_id,
            epoch: revision,
            revision: AtomicU64::new(revision),
            renewed_at: Mutex::new(sent_at),
            valid_for,
            fenced: CancellationToken::new(),
        }
    }

    /// The revision to compare-and-set against.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::SeqCst)
    }

    /// When the lease stops being valid unless renewed first.
    pub fn deadline(&self) -> Instant {
        let renewed_at = *self
            .renewed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        renewed_at + self.valid_for
    }

    /// Still ours for sure: not fenced, and renewed recently enough (monotonic clock). Checked before every
    /// send, status write and inbound publish.
    pub fn is_valid(&self) -> bool {
        !self.fenced.is_cancelled() && Instant::now() < self.deadline()
    }

    /// Stops everything done under this lease; idempotent.
    pub fn fence(&self, why: &str) {
        if !self.fenced.is_cancelled() {
            tracing::warn!(tenant_id = %self.tenant_id, reason = why, "lease lost: self-fencing the tenant");
            metrics::counter!("whatsapp_lease_fences_total").increment(1);
            self.fenced.cancel();
        }
    }

    pub fn is_fenced(&self) -> bool {
        self.fenced.is_cancelled()
    }

    /// Resolves when the lease is fenced.
    pub async fn fenced(&self) {
        self.fenced.cancelled().await;
    }

    fn renewed(&self, revision: u64, sent_at: Instant) {
        self.revision.store(revision, Ordering::SeqCst);
        *self
            .renewed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = sent_at;
    }
}

fn key(tenant_id: Uuid) -> String {
    tenant_id.to_string()
}

fn node_key(node_id: &str) -> String {
    format!("node.{node_id}")
}

impl LeaseStore {
    pub async fn open(
        nats: &async_nats::Client,
        bucket: &str,
        node_id: String,
        ttl: Duration,
        margin: Duration,
    ) -> Result<Self> {
        let js = async_nats::jetstream::new(nats.clone());
        let kv = js.get_key_value(bucket).await.map_err(Error::nats)?;
        Ok(Self {
            kv,
            node_id,
            ttl,
            margin,
            observed: Mutex::new(HashMap::new()),
        })
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lease(&self, tenant_id: Uuid, revision: u64, sent_at: Instant) -> Lease {
        Lease::new(
            tenant_id,
            revision,
            sent_at,
            self.ttl.saturating_sub(self.margin),
        )
    }

    /// Takes the tenant if nobody holds it, or if its holder let the lease go stale. `Err(holder)` when a
    /// live holder has it.
    pub async fn try_acquire(&self, tenant_id: Uuid) -> Result<Result<Lease, Holder>> {
        let key = key(tenant_id);
        let value = Bytes::from(self.node_id.clone());
        let sent_at = Instant::now();
        match self.kv.create(&key, value.clone()).await {
            Ok(revision) => {
                self.forget(&key);
                return Ok(Ok(self.lease(tenant_id, revision, sent_at)));
            }
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::nats(e)),
        }
        let Some(entry) = self.kv.entry(&key).await.map_err(Error::nats)? else {
            // Expired between the two calls: the next scan creates it.
            return Ok(Err(Holder::Node(String::new())));
        };
        let holder = String::from_utf8_lossy(&entry.value).into_owned();
        let ours = holder == self.node_id;
        let free = matches!(entry.operation, Operation::Delete | Operation::Purge);
        // Our own entry without a running session (a session that ended without releasing) is ours to retake.
        if ours || free || self.is_stale(&key, entry.revision) {
            let sent_at = Instant::now();
            return match self.kv.update(&key, value, entry.revision).await {
                Ok(revision) => {
                    self.forget(&key);
                    if !ours && !free {
                        tracing::info!(%tenant_id, previous = %holder, "took over a stale lease");
                        metrics::counter!("whatsapp_lease_takeovers_total").increment(1);
                    }
                    Ok(Ok(self.lease(tenant_id, revision, sent_at)))
                }
                // Someone renewed or took it meanwhile.
                Err(_) => Ok(Err(Holder::Node(holder))),
            };
        }
        Ok(Err(Holder::Node(holder)))
    }

    /// The node holding `tenant_id`, if any (`None` when free or released).
    pub async fn holder(&self, tenant_id: Uuid) -> Result<Option<(String, u64)>> {
        let entry = self.kv.entry(key(tenant_id)).await.map_err(Error::nats)?;
        Ok(entry.and_then(|e| match e.operation {
            Operation::Put => Some((String::from_utf8_lossy(&e.value).into_owned(), e.revision)),
            Operation::Delete | Operation::Purge => None,
        }))
    }

    /// Authoritative check against the bucket: the entry still names us at or after the lease's epoch.
    /// (Compared to the epoch, not the latest revision, so a renewal racing the check is not a false alarm;
    /// only this node ever writes its own id, and the local epoch check catches a lost-and-retaken lease.)
    pub async fn confirm(&self, lease: &Lease) -> Result<bool> {
        Ok(match self.holder(lease.tenant_id).await? {
            Some((node, revision)) => node == self.node_id && revision >= lease.epoch,
            None => false,
        })
    }

    /// One renewal. A NATS hiccup (timeout, disconnection) is retried until the lease's own deadline: only
    /// then is the lease fenced, so a stall of a few seconds does not stop every session on every node. A
    /// revision conflict (someone else wrote the key) fences at once — unless an earlier attempt went
    /// unanswered and the entry names us at a newer revision: that attempt was stored and its
    /// acknowledgement lost. The lease then counts from when that first unanswered attempt was *sent*
    /// (the write happened no earlier), never from when we found out, so it cannot outlive what other
    /// nodes observed.
    pub async fn renew(&self, lease: &Lease) -> bool {
        let mut wait = Duration::from_millis(200);
        // When the first attempt whose outcome we do not know was sent.
        let mut unsure_since: Option<Instant> = None;
        loop {
            if !lease.is_valid() {
                lease.fence(
                    "renewal came too late (process paused, overloaded, or NATS unreachable)",
                );
                return false;
            }
            let sent_at = Instant::now();
            let budget = lease.deadline().saturating_duration_since(sent_at);
            let update = self.kv.update(
                key(lease.tenant_id),
                Bytes::from(self.node_id.clone()),
                lease.revision(),
            );
            let failure = match tokio::time::timeout(budget, update).await {
                Ok(Ok(revision)) => {
                    lease.renewed(revision, sent_at);
                    return true;
                }
                Ok(Err(e)) if e.kind() == UpdateErrorKind::WrongLastRevision => {
                    if let Some(first_sent) = unsure_since
                        && let Some(revision) = self.own_write(lease).await
                    {
                        lease.renewed(revision, first_sent);
                        return true;
                    }
                    lease.fence(&format!("renewal refused: {e}"));
                    return false;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_owned(),
            };
            unsure_since.get_or_insert(sent_at);
            tracing::warn!(tenant_id = %lease.tenant_id, error = %failure, "lease renewal failed; retrying until the lease's deadline");
            metrics::counter!("whatsapp_lease_renewal_retries_total").increment(1);
            let left = lease.deadline().saturating_duration_since(Instant::now());
            tokio::select! {
                () = lease.fenced() => return false,
                () = tokio::time::sleep(wait.min(left)) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// The entry's revision when it names us at a revision newer than the lease's: a write of ours. (Only
    /// this node writes its own id, and never for a tenant it already runs under another lease.)
    async fn own_write(&self, lease: &Lease) -> Option<u64> {
        let budget = lease.deadline().saturating_duration_since(Instant::now());
        match tokio::time::timeout(budget, self.holder(lease.tenant_id)).await {
            Ok(Ok(Some((node, revision))))
                if node == self.node_id && revision > lease.revision() =>
            {
                Some(revision)
            }
            _ => None,
        }
    }

    /// Gives the tenant up if it is still ours (tombstone conditioned on our revision).
    pub async fn release(&self, lease: &Lease) {
        lease.fenced.cancel();
        match self
            .kv
            .delete_expect_revision(key(lease.tenant_id), Some(lease.revision()))
            .await
        {
            Ok(()) => tracing::debug!(tenant_id = %lease.tenant_id, "lease released"),
            Err(e) => {
                tracing::debug!(tenant_id = %lease.tenant_id, error = %e, "lease not released (no longer ours)")
            }
        }
    }

    /// Seen at this revision for a whole TTL on our monotonic clock?
    fn is_stale(&self, key: &str, revision: u64) -> bool {
        let mut observed = self
            .observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        match observed.get_mut(key) {
            Some(entry) if entry.revision == revision => {
                entry.seen = now;
                now.duration_since(entry.since) >= self.ttl
            }
            _ => {
                observed.insert(
                    key.to_owned(),
                    Observed {
                        revision,
                        since: now,
                        seen: now,
                    },
                );
                false
            }
        }
    }

    /// Forgets the keys not looked at lately (a tenant that moved away, a node that stopped): the map stays
    /// as large as what the scans look at, not as the bucket's history. Each scan calls it.
    fn prune_observed(&self) {
        let horizon = self.ttl * FORGET_AFTER_TTLS;
        self.observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, entry| entry.seen.elapsed() <= horizon);
    }

    /// Test hook: how many keys this node keeps observations of.
    #[cfg(feature = "test-support")]
    pub fn observed_keys(&self) -> usize {
        self.observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    fn forget(&self, key: &str) {
        self.observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }

    /// Writes this node's heartbeat.
    pub async fn heartbeat(&self) -> Result<()> {
        self.kv
            .put(node_key(&self.node_id), Bytes::from(self.node_id.clone()))
            .await
            .map_err(Error::nats)?;
        Ok(())
    }

    /// Removes this node's heartbeat on a clean stop.
    pub async fn remove_heartbeat(&self) {
        let _ = self.kv.delete(node_key(&self.node_id)).await;
    }

    /// Nodes whose heartbeat changed within the last TTL as this node observed it (at least 1: this node).
    /// Judged on our monotonic clock like lease expiry, so no wall-clock agreement is needed.
    pub async fn live_nodes(&self) -> Result<usize> {
        self.prune_observed();
        // The node keys come from the stream's own per-subject state: exact. A `keys()` listing relies on an
        // ordered consumer's pending count, which on nats-server 2.9 can end the listing early under load.
        let prefix = self.kv.prefix.clone();
        let mut subjects = self
            .kv
            .stream
            .info_with_subjects(format!("{prefix}node.>"))
            .await
            .map_err(Error::nats)?;
        let mut node_keys = Vec::new();
        while let Some(subject) = subjects.next().await {
            let (subject, _) = subject.map_err(Error::nats)?;
            if let Some(key) = subject.strip_prefix(prefix.as_str())
                && key != node_key(&self.node_id)
            {
                node_keys.push(key.to_owned());
            }
        }
        let mut live = 1usize;
        for key in node_keys {
            if let Some(entry) = self.kv.entry(key.clone()).await.map_err(Error::nats)?
                && entry.operation == Operation::Put
                && !self.is_stale(&key, entry.revision)
            {
                live += 1;
            }
        }
        Ok(live)
    }
}
