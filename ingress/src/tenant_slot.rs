//! What a node keeps about one tenant it runs ([`TenantSlot`]), and the per-tenant values its tasks share: the
//! live connection ([`ConnectionWatch`]), recently sent ids ([`RecentIds`]), the code on screen ([`LiveCode`])
//! and the commands relayed to the tenant's session ([`SessionCtl`]).
//!
//! A leaf of the ingress: the node, the tenant session and both directions use these types, and this module
//! uses none of them.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemas::whatsapp::{WaCommandReply, WaEvent};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::gateway::{Connection, Simulation, StartOptions};
use crate::lease::Lease;

/// The tenant's live connection, `None` while not connected.
pub type ConnectionWatch = watch::Receiver<Option<Arc<dyn Connection>>>;

/// A tenant this node runs.
pub(crate) struct TenantSlot {
    pub lease: Arc<Lease>,
    pub ctl: mpsc::Sender<SessionCtl>,
    pub stop: CancellationToken,
    /// The live connection and recent ids, for the test entry into outbound delivery (the session hands its
    /// own copies to the outbound task).
    #[cfg(feature = "test-support")]
    pub connection: ConnectionWatch,
    #[cfg(feature = "test-support")]
    pub recent: Arc<RecentIds>,
    /// The QR or pairing code on screen (memory only).
    pub live: Arc<LiveCode>,
}

/// Commands the node relays to a running tenant session.
pub(crate) enum SessionCtl {
    Connect {
        options: StartOptions,
        reply: oneshot::Sender<WaCommandReply>,
    },
    Logout {
        reply: oneshot::Sender<WaCommandReply>,
    },
    /// Sandbox: play a scan or a customer message on the running connection.
    Simulate {
        simulation: Simulation,
        reply: oneshot::Sender<WaCommandReply>,
    },
}

/// Recently sent outbound ids and WhatsApp ids of one tenant (redelivery dedup and echo filtering).
#[derive(Default)]
pub struct RecentIds {
    inner: Mutex<(VecDeque<String>, HashSet<String>)>,
}

impl RecentIds {
    const CAPACITY: usize = 1024;

    pub fn insert(&self, id: &str) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (order, set) = &mut *inner;
        if set.insert(id.to_owned()) {
            order.push_back(id.to_owned());
            if order.len() > Self::CAPACITY
                && let Some(old) = order.pop_front()
            {
                set.remove(&old);
            }
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
            .contains(id)
    }
}

/// The QR or pairing code shown right now, so that a viewer who arrives between two codes sees it at once.
/// Memory only: a code is a credential while valid, never stored or logged.
#[derive(Default)]
pub(crate) struct LiveCode(Mutex<Option<Shown>>);

struct Shown {
    pairing: bool,
    code: String,
    until: Instant,
}

impl LiveCode {
    pub fn show(&self, pairing: bool, code: String, valid_for: Duration) {
        *self.lock() = Some(Shown {
            pairing,
            code,
            until: Instant::now() + valid_for,
        });
    }

    pub fn clear(&self) {
        *self.lock() = None;
    }

    /// The code as a live event with its remaining validity; nothing once it expired.
    pub fn events(&self) -> Vec<WaEvent> {
        let shown = self.lock();
        let Some(shown) = shown.as_ref() else {
            return Vec::new();
        };
        let left = shown
            .until
            .saturating_duration_since(Instant::now())
            .as_secs();
        if left == 0 {
            return Vec::new();
        }
        let code = shown.code.clone();
        vec![if shown.pairing {
            WaEvent::PairingCode {
                code,
                expires_in_secs: left,
            }
        } else {
            WaEvent::Qr {
                code,
                expires_in_secs: left,
            }
        }]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Shown>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
