//! `IngressNode`: one ingress process. It heartbeats in the lease bucket, takes the leases of tenants that
//! want a connection (a fair share of them, so new tenants spread over live nodes), runs one session task
//! per leased tenant, and answers the api's `WaCommand`s — forwarding them to the lease holder when that is
//! another node. `Connect` and `Logout` may start the tenant here; `LiveState` and the sandbox simulations
//! only ever reach a running session.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use governor::{Quota, RateLimiter};
use rand::seq::SliceRandom;
use schemas::Subjects;
use schemas::whatsapp::{WaCommand, WaCommandReply};
use serde::{Deserialize, Serialize};
use store::crypto::MasterKey;
use store::media::MediaConfig;
use store::{Db, whatsapp_sessions};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::IngressConfig;
use crate::gateway::{Simulation, StartOptions, WhatsAppGateway};
use crate::lease::{Holder, LeaseStore};
use crate::node_state::NodeState;
use crate::status::{self, StateGauge};
use crate::tenant_session::{self, Initial};
use crate::tenant_slot::{LiveCode, RecentIds, SessionCtl, TenantSlot};
use crate::{Error, Result, names};

/// How long a forwarded or local command may take before the api hears "unavailable".
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a clean stop waits for sessions to flush and release their leases.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A command relayed to the node holding the tenant's lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardedCommand {
    pub tenant_id: Uuid,
    pub command: WaCommand,
}

/// What an attempt to run a tenant here led to.
enum Acquired {
    Started,
    AlreadyRunning,
    HeldBy(Holder),
}

#[derive(Clone)]
pub struct IngressNode {
    shared: Arc<NodeState>,
}

impl IngressNode {
    /// `master` unwraps the shops' data keys, which seal the customer media the node keeps within `media`'s
    /// limits (and open the product photos it sends).
    pub async fn new(
        db: Db,
        nats: async_nats::Client,
        subjects: Subjects,
        gateway: Arc<dyn WhatsAppGateway>,
        config: IngressConfig,
        master: MasterKey,
        media: MediaConfig,
    ) -> Result<Self> {
        config.validate()?;
        let node_id = config.node_id();
        let leases = LeaseStore::open(
            &nats,
            &subjects.lease_bucket(),
            node_id,
            config.lease_ttl,
            config.lease_margin,
        )
        .await?;
        let per_minute = NonZeroU32::new(config.send_rate_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.send_burst).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst));
        Ok(Self {
            shared: Arc::new(NodeState {
                js: jetstream::new(nats.clone()),
                db,
                nats,
                subjects,
                gateway,
                config,
                master,
                media,
                leases,
                limiter,
                tenants: Mutex::new(HashMap::new()),
                gauge: StateGauge::default(),
                acquiring: tokio::sync::Mutex::new(()),
                root: CancellationToken::new(),
                #[cfg(feature = "test-support")]
                hold_renewals: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    pub fn node_id(&self) -> &str {
        self.shared.leases.node_id()
    }

    /// Tenants whose lease this node holds and still considers valid.
    pub fn owned_tenants(&self) -> Vec<Uuid> {
        self.shared
            .tenants()
            .values()
            .filter(|slot| slot.lease.is_valid())
            .map(|slot| slot.lease.tenant_id)
            .collect()
    }

    /// Test hook: the epoch (revision at acquisition) of the tenant's lease, when this node runs it.
    #[cfg(feature = "test-support")]
    pub fn lease_epoch(&self, tenant_id: Uuid) -> Option<u64> {
        self.shared.slot_lease(tenant_id).map(|lease| lease.epoch)
    }

    /// Test hook: stop (or resume) renewing leases, as a stalled renew loop would; the node must self-fence.
    #[cfg(feature = "test-support")]
    pub fn hold_renewals(&self, hold: bool) {
        self.shared
            .hold_renewals
            .store(hold, std::sync::atomic::Ordering::SeqCst);
    }

    /// Test hook: one outbound delivery, as the tenant's consumer does it, stamped with lease epoch `epoch`,
    /// so tests can check that work stamped with an older lease is dropped; not acked/nacked here.
    #[cfg(feature = "test-support")]
    pub async fn handle_outbound(
        &self,
        tenant_id: Uuid,
        payload: &[u8],
        epoch: u64,
    ) -> crate::OutboundOutcome {
        crate::outbound::handle_for(&self.shared, tenant_id, payload, epoch).await
    }

    /// Test hook: one scan, as the node's timer runs it (heartbeat, then take a fair share of the tenants
    /// wanting a connection). Once it returns, whatever this scan took runs here: a tenant it left alone
    /// is observably not taken, without waiting for timers.
    #[cfg(feature = "test-support")]
    pub async fn scan_once(&self) -> Result<()> {
        self.scan().await
    }

    /// Test hook: how many nodes this node currently counts as alive (itself included), as a scan does.
    #[cfg(feature = "test-support")]
    pub async fn live_nodes(&self) -> Result<usize> {
        self.shared.leases.live_nodes().await
    }

    /// Runs until `shutdown`, then stops every session, releasing its lease. If this future is dropped
    /// instead (task aborted), everything stops at once like a crash: leases are left to expire.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let shared = self.shared.clone();
        let _crash = shared.root.clone().drop_guard();
        let mut commands = shared
            .nats
            .queue_subscribe(shared.subjects.wa_commands_all(), "ingress".into())
            .await
            .map_err(Error::nats)?;
        let mut forwarded = shared
            .nats
            .subscribe(names::node_control(&shared.subjects, self.node_id()))
            .await
            .map_err(Error::nats)?;
        tracing::info!(node = %self.node_id(), gateway = shared.gateway.name(), "ingress node started");
        let mut scan = tokio::time::interval(shared.config.scan_interval);
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = scan.tick() => {
                    if let Err(e) = self.scan().await {
                        tracing::warn!(error.cause_chain = ?e, error.message = %e, "tenant scan failed");
                    }
                }
                Some(message) = commands.next() => {
                    let node = self.clone();
                    shared.spawn(async move { node.answer(message, false).await });
                }
                Some(message) = forwarded.next() => {
                    let node = self.clone();
                    shared.spawn(async move { node.answer(message, true).await });
                }
            }
        }
        drop(commands);
        drop(forwarded);
        self.stop_sessions().await;
        shared.leases.remove_heartbeat().await;
        tracing::info!(node = %self.node_id(), "ingress node stopped");
        Ok(())
    }

    async fn stop_sessions(&self) {
        let stops: Vec<CancellationToken> = self
            .shared
            .tenants()
            .values()
            .map(|slot| slot.stop.clone())
            .collect();
        for stop in stops {
            stop.cancel();
        }
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while self.shared.running() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Heartbeat, then take unowned tenants that want a connection, up to this node's fair share.
    async fn scan(&self) -> Result<()> {
        let shared = &self.shared;
        // Forget the send budgets of shops that have not sent for a while (they equal a fresh budget), so the
        // limiter holds the shops sending now, not every shop ever seen.
        shared.limiter.retain_recent();
        shared.leases.heartbeat().await?;
        let live = shared.leases.live_nodes().await?;
        let wanting = {
            let mut tx = shared.db.platform().await?;
            let wanting = whatsapp_sessions::wanting(&mut tx).await?;
            tx.commit().await?;
            wanting
        };
        let share = wanting.len().div_ceil(live);
        let mut candidates: Vec<Uuid> = {
            let tenants = shared.tenants();
            wanting
                .into_iter()
                .filter(|t| !tenants.contains_key(t))
                .collect()
        };
        // Nodes scanning at the same moment then mostly try different tenants first.
        candidates.shuffle(&mut rand::thread_rng());
        for tenant_id in candidates {
            if shared.running() >= share {
                break;
            }
            match self.acquire_and_start(tenant_id, Initial::Resume).await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(%tenant_id, error.cause_chain = ?e, error.message = %e, "cannot take a tenant");
                }
            }
        }
        Ok(())
    }

    /// Takes the tenant's lease and starts its session, unless it already runs here or a live node holds it.
    async fn acquire_and_start(&self, tenant_id: Uuid, initial: Initial) -> Result<Acquired> {
        let shared = &self.shared;
        let _one_at_a_time = shared.acquiring.lock().await;
        if shared.slot_lease(tenant_id).is_some() {
            return Ok(Acquired::AlreadyRunning);
        }
        let lease = match shared.leases.try_acquire(tenant_id).await? {
            Ok(lease) => Arc::new(lease),
            Err(holder) => return Ok(Acquired::HeldBy(holder)),
        };
        tracing::info!(%tenant_id, epoch = lease.epoch, node = %self.node_id(), "lease acquired");
        let (ctl, ctl_rx) = mpsc::channel(8);
        let stop = CancellationToken::new();
        let (connection_tx, connection) = watch::channel(None);
        let recent = Arc::new(RecentIds::default());
        let live = Arc::new(LiveCode::default());
        shared.tenants().insert(
            tenant_id,
            TenantSlot {
                lease: lease.clone(),
                ctl,
                stop: stop.clone(),
                #[cfg(feature = "test-support")]
                connection: connection.clone(),
                #[cfg(feature = "test-support")]
                recent: recent.clone(),
                live: live.clone(),
            },
        );
        shared.spawn(tenant_session::run(
            self.shared.clone(),
            tenant_session::Parts {
                lease,
                initial,
                ctl: ctl_rx,
                stop,
                connection_tx,
                connection,
                recent,
                live,
            },
        ));
        Ok(Acquired::Started)
    }

    /// Answers one command request (from the api, or forwarded by another node).
    async fn answer(&self, message: async_nats::Message, forwarded: bool) {
        let Some(reply_to) = message.reply.clone() else {
            return;
        };
        let parsed = if forwarded {
            serde_json::from_slice::<ForwardedCommand>(&message.payload)
                .ok()
                .map(|f| (f.tenant_id, f.command))
        } else {
            let tenant = message
                .subject
                .rsplit('.')
                .next()
                .and_then(|t| t.parse::<Uuid>().ok());
            tenant.zip(serde_json::from_slice::<WaCommand>(&message.payload).ok())
        };
        let reply = match parsed {
            Some((tenant_id, command)) => self.command(tenant_id, command, forwarded).await,
            None => WaCommandReply::refused("Commande WhatsApp illisible."),
        };
        match serde_json::to_vec(&reply) {
            Ok(payload) => {
                if let Err(e) = self.shared.nats.publish(reply_to, payload.into()).await {
                    tracing::warn!(error = %e, "cannot answer a WhatsApp command");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode a WhatsApp command reply"),
        }
    }

    async fn command(
        &self,
        tenant_id: Uuid,
        command: WaCommand,
        forwarded: bool,
    ) -> WaCommandReply {
        match self.try_command(tenant_id, command, forwarded).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(%tenant_id, error.cause_chain = ?e, error.message = %e, "WhatsApp command failed");
                unavailable()
            }
        }
    }

    async fn try_command(
        &self,
        tenant_id: Uuid,
        command: WaCommand,
        forwarded: bool,
    ) -> Result<WaCommandReply> {
        match &command {
            WaCommand::Connect { .. } | WaCommand::Logout => {
                self.lifecycle_command(tenant_id, command, forwarded).await
            }
            WaCommand::LiveState => self.owner_command(tenant_id, command, forwarded).await,
            WaCommand::SandboxScan { .. } | WaCommand::SandboxMessage { .. } => {
                if !self.shared.gateway.simulates() {
                    return Ok(WaCommandReply::refused(status::SANDBOX_ONLY));
                }
                self.owner_command(tenant_id, command, forwarded).await
            }
        }
    }

    /// A command for the lease owner's running session, which never starts one: answered here when the
    /// tenant runs here, forwarded to the holder otherwise.
    async fn owner_command(
        &self,
        tenant_id: Uuid,
        command: WaCommand,
        forwarded: bool,
    ) -> Result<WaCommandReply> {
        if let Some(reply) = self.local_owner_command(tenant_id, &command).await {
            return Ok(reply);
        }
        match self.shared.leases.holder(tenant_id).await? {
            Some((node, _)) if !forwarded && !node.is_empty() && node != self.node_id() => {
                Ok(self.forward(&node, tenant_id, command).await)
            }
            _ => Ok(match command {
                WaCommand::LiveState => WaCommandReply::accepted(""),
                _ => WaCommandReply::refused(status::NOT_RUNNING),
            }),
        }
    }

    /// `None` when the tenant does not run here.
    async fn local_owner_command(
        &self,
        tenant_id: Uuid,
        command: &WaCommand,
    ) -> Option<WaCommandReply> {
        let simulation = match command {
            WaCommand::LiveState => {
                let live = self.shared.slot_live(tenant_id)?;
                return Some(WaCommandReply {
                    live,
                    ..WaCommandReply::accepted("")
                });
            }
            WaCommand::SandboxScan { phone_number } => Simulation::Scan {
                phone_number: phone_number.clone(),
            },
            WaCommand::SandboxMessage {
                from,
                name,
                text,
                media,
                location,
            } => Simulation::CustomerMessage {
                from_jid: from.clone(),
                name: name.clone(),
                text: text.clone(),
                media: media.clone(),
                location: location.clone(),
            },
            WaCommand::Connect { .. } | WaCommand::Logout => return None,
        };
        let ctl = self.shared.slot_ctl(tenant_id)?;
        let (reply, answer) = oneshot::channel();
        ctl.send(SessionCtl::Simulate { simulation, reply })
            .await
            .ok()?;
        Some(
            tokio::time::timeout(COMMAND_TIMEOUT, answer)
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or_else(unavailable),
        )
    }

    /// `Connect` or `Logout`: to the running session, or take the tenant (or forward to its holder).
    async fn lifecycle_command(
        &self,
        tenant_id: Uuid,
        command: WaCommand,
        forwarded: bool,
    ) -> Result<WaCommandReply> {
        // A session that ends between the look-up and the send drops the request: then try to take over.
        for _ in 0..2 {
            if let Some(ctl) = self.shared.slot_ctl(tenant_id) {
                let (reply, answer) = oneshot::channel();
                let request = match &command {
                    WaCommand::Connect { pairing_phone } => SessionCtl::Connect {
                        options: StartOptions {
                            pairing_phone: pairing_phone.clone(),
                        },
                        reply,
                    },
                    WaCommand::Logout => SessionCtl::Logout { reply },
                    _ => return Ok(unavailable()),
                };
                if ctl.send(request).await.is_ok() {
                    return Ok(tokio::time::timeout(COMMAND_TIMEOUT, answer)
                        .await
                        .ok()
                        .and_then(|r| r.ok())
                        .unwrap_or_else(unavailable));
                }
            }
            let initial = match &command {
                WaCommand::Connect { pairing_phone } => Initial::Connect(StartOptions {
                    pairing_phone: pairing_phone.clone(),
                }),
                WaCommand::Logout => Initial::Logout,
                _ => return Ok(unavailable()),
            };
            match self.acquire_and_start(tenant_id, initial).await? {
                Acquired::Started => return Ok(accepted(&command)),
                Acquired::AlreadyRunning => continue,
                Acquired::HeldBy(Holder::Node(node)) => {
                    if forwarded || node.is_empty() || node == self.node_id() {
                        return Ok(unavailable());
                    }
                    return Ok(self.forward(&node, tenant_id, command).await);
                }
            }
        }
        Ok(unavailable())
    }

    async fn forward(&self, node: &str, tenant_id: Uuid, command: WaCommand) -> WaCommandReply {
        let Ok(payload) = serde_json::to_vec(&ForwardedCommand { tenant_id, command }) else {
            return unavailable();
        };
        let request = self.shared.nats.request(
            names::node_control(&self.shared.subjects, node),
            payload.into(),
        );
        match tokio::time::timeout(COMMAND_TIMEOUT, request).await {
            Ok(Ok(reply)) => {
                serde_json::from_slice(&reply.payload).unwrap_or_else(|_| unavailable())
            }
            _ => {
                tracing::warn!(%tenant_id, holder = node, "the lease holder did not answer a forwarded command");
                unavailable()
            }
        }
    }
}

fn accepted(command: &WaCommand) -> WaCommandReply {
    WaCommandReply::accepted(match command {
        WaCommand::Logout => status::LOGGED_OUT_ON_REQUEST,
        _ => status::CONNECTING,
    })
}

fn unavailable() -> WaCommandReply {
    WaCommandReply::refused(status::UNAVAILABLE)
}

/// Runs an ingress node until `shutdown` (the `tdjaasa ingress` subcommand). The caller connects to
/// PostgreSQL and NATS, provisions NATS, and builds the gateway (see [`crate::build_gateway`]); `master` and
/// `media` as for [`IngressNode::new`].
#[allow(clippy::too_many_arguments)] // Each is a separately configured service the node is given.
pub async fn run_node(
    db: Db,
    nats: async_nats::Client,
    subjects: Subjects,
    gateway: Arc<dyn WhatsAppGateway>,
    config: IngressConfig,
    master: MasterKey,
    media: MediaConfig,
    shutdown: CancellationToken,
) -> Result<()> {
    IngressNode::new(db, nats, subjects, gateway, config, master, media)
        .await?
        .run(shutdown)
        .await
}
