//! [`NodeState`]: what every task of one ingress node shares — connections to PostgreSQL and NATS, the
//! gateway, the master key and media limits, the lease store, the send rate limiter and the [`TenantSlot`]s
//! of the tenants it runs.
//!
//! A leaf of the ingress like [`crate::tenant_slot`]: the node creates it, the tenant sessions and both message
//! directions read it, and it calls none of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_nats::jetstream;
use governor::DefaultKeyedRateLimiter;
use schemas::Subjects;
use schemas::whatsapp::WaEvent;
use store::Db;
use store::crypto::MasterKey;
use store::media::MediaConfig;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::IngressConfig;
use crate::gateway::WhatsAppGateway;
use crate::lease::{Lease, LeaseStore};
use crate::status::StateGauge;
use crate::tenant_slot::{SessionCtl, TenantSlot};

/// State shared by the node's tasks.
pub(crate) struct NodeState {
    pub db: Db,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub subjects: Subjects,
    pub gateway: Arc<dyn WhatsAppGateway>,
    pub config: IngressConfig,
    /// Unwraps each shop's data key, which seals its media.
    pub master: MasterKey,
    /// The largest customer media kept, and for how long.
    pub media: MediaConfig,
    pub leases: LeaseStore,
    pub limiter: DefaultKeyedRateLimiter<Uuid>,
    pub tenants: Mutex<HashMap<Uuid, TenantSlot>>,
    pub gauge: StateGauge,
    /// Serialises lease acquisitions on this node, so two paths never start the same tenant twice.
    pub acquiring: tokio::sync::Mutex<()>,
    /// Cancelled when the node stops; everything spawned dies with it (a crash leaves leases to expire).
    pub root: CancellationToken,
    /// Test hook: renewals are skipped while set, as if the renew loop were stalled.
    #[cfg(feature = "test-support")]
    pub hold_renewals: std::sync::atomic::AtomicBool,
}

impl NodeState {
    /// Spawns a task that stops as soon as the node does, wherever it is waiting.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let root = self.root.clone();
        tokio::spawn(async move {
            tokio::select! {
                biased;
                () = root.cancelled() => {}
                () = task => {}
            }
        });
    }

    pub fn tenants(&self) -> MutexGuard<'_, HashMap<Uuid, TenantSlot>> {
        self.tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn slot_lease(&self, tenant_id: Uuid) -> Option<Arc<Lease>> {
        self.tenants()
            .get(&tenant_id)
            .map(|slot| slot.lease.clone())
    }

    /// Forgets the tenant if its slot still belongs to `lease` (a newer session may have replaced it).
    pub fn remove_slot(&self, lease: &Lease) {
        let mut tenants = self.tenants();
        if tenants
            .get(&lease.tenant_id)
            .is_some_and(|slot| slot.lease.epoch == lease.epoch)
        {
            tenants.remove(&lease.tenant_id);
        }
    }

    /// The code a tenant running here shows right now, while its lease is valid.
    pub fn slot_live(&self, tenant_id: Uuid) -> Option<Vec<WaEvent>> {
        self.tenants()
            .get(&tenant_id)
            .filter(|slot| slot.lease.is_valid())
            .map(|slot| slot.live.events())
    }

    pub fn slot_ctl(&self, tenant_id: Uuid) -> Option<mpsc::Sender<SessionCtl>> {
        self.tenants().get(&tenant_id).map(|slot| slot.ctl.clone())
    }

    pub fn running(&self) -> usize {
        self.tenants().len()
    }

    /// Whether renewals are held by the test hook (never outside tests).
    pub fn renewals_held(&self) -> bool {
        #[cfg(feature = "test-support")]
        {
            self.hold_renewals.load(std::sync::atomic::Ordering::SeqCst)
        }
        #[cfg(not(feature = "test-support"))]
        {
            false
        }
    }
}
