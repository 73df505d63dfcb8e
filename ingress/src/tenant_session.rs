//! One tenant's session on the node holding its lease: starts the gateway connection, turns its events into
//! the stored status and live `WaEvent`s, publishes customer messages, restarts our side with backoff when
//! the connection ends unexpectedly, rebuilds a connection stuck in "connecting" (watchdog), and stops for
//! good on terminal states (logged out, replaced, banned, QR expired), which the shop must act on.
//!
//! When WhatsApp cannot be reached at all (no internet), the gateway says so (`Unreachable`) and the session
//! takes the retries over: it stops that connection, stores one plain "cannot reach WhatsApp, next attempt
//! in N s" status, and starts a new connection after its own backoff (`INGRESS_RECONNECT_BACKOFF_*`). Until
//! WhatsApp answers again (a QR code, a pairing code, or connected), the attempts' own `Connecting` and
//! `Disconnected` events leave that status alone, so it does not flicker.
//!
//! The QR or pairing code on screen is kept in memory only ([`LiveCode`]), for a new viewer to get at once.
//! The node starts one [`run`] per tenant it takes, and relays the shop's commands to it ([`SessionCtl`]).
//!
//! Fencing comes first: when the lease is lost or its renewal is late, the connection is dropped from the
//! outbound path and shut down before anything else, and nothing more is written or published.

use std::sync::Arc;
use std::time::Duration;

use schemas::whatsapp::{WaCommandReply, WaEvent, WaStatus};
use store::{TenantCtx, whatsapp_sessions};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::gateway::{Connection, GatewayError, GatewayEvent, Simulation, StartOptions};
use crate::lease::Lease;
use crate::node_state::NodeState;
use crate::tenant_slot::{ConnectionWatch, LiveCode, RecentIds, SessionCtl};
use crate::{inbound, outbound, status};

/// How a session begins.
#[derive(Debug, Clone)]
pub(crate) enum Initial {
    /// Picked up by a scan (a restart, a fail-over): resume from the stored session.
    Resume,
    /// The shop asked to connect.
    Connect(StartOptions),
    /// The shop asked to unlink: open the stored session only to log it out.
    Logout,
}

pub(crate) struct Parts {
    pub lease: Arc<Lease>,
    pub initial: Initial,
    pub ctl: mpsc::Receiver<SessionCtl>,
    pub stop: CancellationToken,
    pub connection_tx: watch::Sender<Option<Arc<dyn Connection>>>,
    pub connection: ConnectionWatch,
    pub recent: Arc<RecentIds>,
    pub live: Arc<LiveCode>,
}

/// Why a session ended.
enum End {
    /// The node is stopping: release the lease, keep the status (another node resumes the tenant).
    Stop,
    /// The lease is lost: touch nothing.
    Fenced,
    /// A terminal state was recorded and the lease released.
    Terminal,
}

/// What the session does after an event.
enum Flow {
    Continue,
    /// The connection was stopped: start a new one after the backoff.
    Retry,
    End(End),
}

/// Time allowed to a gateway call made while stopping.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) async fn run(shared: Arc<NodeState>, parts: Parts) {
    let lease = parts.lease.clone();
    let tenant_id = lease.tenant_id;
    let children = parts.stop.child_token();
    {
        let shared2 = shared.clone();
        let lease = lease.clone();
        let stop = children.clone();
        shared.spawn(async move { renew(&shared2, &lease, &stop).await });
    }
    shared.spawn(outbound::run(
        shared.clone(),
        lease.clone(),
        parts.connection.clone(),
        parts.recent.clone(),
        children.clone(),
    ));
    let mut session = TenantSession {
        shared: shared.clone(),
        lease: lease.clone(),
        tenant_id,
        last: None,
        connection_tx: parts.connection_tx,
        recent: parts.recent,
        live: parts.live,
        offline: false,
        stop: parts.stop,
    };
    let end = session.drive(parts.initial, parts.ctl).await;
    children.cancel();
    session.connection_tx.send_replace(None);
    session.live.clear();
    match end {
        End::Stop | End::Fenced => shared.leases.release(&lease).await,
        End::Terminal => {}
    }
    shared.remove_slot(&lease);
    shared.gauge.set(tenant_id, None);
    tracing::info!(%tenant_id, "session ended");
}

/// Renews the lease every TTL/3 (the test hook `hold_renewals` skips renewals, like a stalled loop).
async fn renew(shared: &NodeState, lease: &Lease, stop: &CancellationToken) {
    let every = shared.leases.ttl() / 3;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = lease.fenced() => return,
            () = tokio::time::sleep(every) => {}
        }
        if shared.renewals_held() {
            continue;
        }
        if !shared.leases.renew(lease).await {
            return;
        }
    }
}

struct TenantSession {
    shared: Arc<NodeState>,
    lease: Arc<Lease>,
    tenant_id: Uuid,
    /// Last persisted (status, detail, phone): unchanged states are not rewritten.
    last: Option<(WaStatus, String, Option<String>)>,
    connection_tx: watch::Sender<Option<Arc<dyn Connection>>>,
    recent: Arc<RecentIds>,
    live: Arc<LiveCode>,
    /// The last attempt could not reach WhatsApp: keep the stored "unreachable" status until WhatsApp answers.
    offline: bool,
    stop: CancellationToken,
}

impl TenantSession {
    async fn drive(&mut self, initial: Initial, mut ctl: mpsc::Receiver<SessionCtl>) -> End {
        let config = self.shared.config.clone();
        let mut logout_only = matches!(initial, Initial::Logout);
        let mut options = match initial {
            Initial::Connect(options) => options,
            Initial::Resume | Initial::Logout => StartOptions::default(),
        };
        let mut backoff = config.reconnect_backoff_min;
        if !logout_only {
            self.set_status(WaStatus::Connecting, status::CONNECTING, None)
                .await;
        }
        'connection: loop {
            let started = tokio::select! {
                biased;
                () = self.stop.cancelled() => return End::Stop,
                () = self.lease.fenced() => return End::Fenced,
                started = self.shared.gateway.start(self.tenant_id, options.clone()) => started,
            };
            let (connection, mut events) = match started {
                Ok(started) => started,
                Err(e) => {
                    tracing::warn!(tenant_id = %self.tenant_id, error = %e, "cannot start the WhatsApp connection");
                    if let Some(end) = self
                        .pause(backoff, &mut ctl, &mut options, &mut logout_only)
                        .await
                    {
                        return end;
                    }
                    backoff = (backoff * 2).min(config.reconnect_backoff_max);
                    continue 'connection;
                }
            };
            let connection: Arc<dyn Connection> = Arc::from(connection);
            if logout_only {
                return self.logout(&connection).await;
            }
            let mut connecting_since = Some(Instant::now());
            loop {
                let watchdog = async {
                    match connecting_since {
                        Some(since) => {
                            tokio::time::sleep_until(since + config.connecting_timeout).await
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    () = self.stop.cancelled() => {
                        self.connection_tx.send_replace(None);
                        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.shutdown()).await;
                        return End::Stop;
                    }
                    () = self.lease.fenced() => {
                        self.fence(&connection).await;
                        return End::Fenced;
                    }
                    () = tokio::time::sleep_until(self.lease.deadline().into()) => {
                        if !self.lease.is_valid() {
                            self.lease.fence("lease renewal is late (process paused or overloaded)");
                        }
                    }
                    Some(request) = ctl.recv() => match request {
                        SessionCtl::Logout { reply } => {
                            let end = self.logout(&connection).await;
                            let _ = reply.send(WaCommandReply::accepted(status::LOGGED_OUT_ON_REQUEST));
                            return end;
                        }
                        SessionCtl::Connect { options: wanted, reply } => {
                            let connected = matches!(self.last, Some((WaStatus::Connected, ..)));
                            let restart = !connected && wanted != options;
                            let _ = reply.send(WaCommandReply::accepted(
                                if connected { status::CONNECTED } else { status::CONNECTING },
                            ));
                            if restart {
                                options = wanted;
                                self.connection_tx.send_replace(None);
                                connection.shutdown().await;
                                continue 'connection;
                            }
                        }
                        SessionCtl::Simulate { simulation, reply } => {
                            let _ = reply.send(self.simulate(&connection, simulation).await);
                        }
                    },
                    () = watchdog => {
                        tracing::warn!(tenant_id = %self.tenant_id, "connection stuck in connecting: rebuilding it");
                        metrics::counter!("whatsapp_watchdog_rebuilds_total").increment(1);
                        self.connection_tx.send_replace(None);
                        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.shutdown()).await;
                        continue 'connection;
                    }
                    event = events.recv() => match event {
                        None => {
                            // The connection ended without a terminal event: restart it on our side.
                            tracing::warn!(tenant_id = %self.tenant_id, "WhatsApp connection closed unexpectedly");
                            self.connection_tx.send_replace(None);
                            connection.shutdown().await;
                            self.set_connecting(status::RECONNECTING).await;
                            if let Some(end) = self
                                .pause(backoff, &mut ctl, &mut options, &mut logout_only)
                                .await
                            {
                                return end;
                            }
                            backoff = (backoff * 2).min(config.reconnect_backoff_max);
                            continue 'connection;
                        }
                        Some(event) => {
                            match self
                                .on_event(event, &connection, &mut connecting_since, &mut backoff)
                                .await
                            {
                                Flow::Continue => {}
                                Flow::End(end) => return end,
                                Flow::Retry => {
                                    if let Some(end) = self
                                        .pause(backoff, &mut ctl, &mut options, &mut logout_only)
                                        .await
                                    {
                                        return end;
                                    }
                                    backoff = (backoff * 2).min(config.reconnect_backoff_max);
                                    continue 'connection;
                                }
                            }
                        }
                    },
                }
            }
        }
    }

    /// A QR code (or, with `pairing`, a pairing code) for the owner to scan or type: kept in memory for viewers
    /// who ask, then the status, then the live event.
    async fn show_code(&mut self, pairing: bool, code: String, valid_for: Duration) {
        self.offline = false;
        // Before the status and the event, so a viewer who reads the status then asks finds it.
        self.live.show(pairing, code.clone(), valid_for);
        let detail = if pairing {
            status::WAITING_FOR_CODE
        } else {
            status::WAITING_FOR_SCAN
        };
        self.set_status(WaStatus::WaitingForScan, detail, None)
            .await;
        let expires_in_secs = valid_for.as_secs();
        let event = if pairing {
            WaEvent::PairingCode {
                code,
                expires_in_secs,
            }
        } else {
            WaEvent::Qr {
                code,
                expires_in_secs,
            }
        };
        self.publish(&event).await;
    }

    async fn on_event(
        &mut self,
        event: GatewayEvent,
        connection: &Arc<dyn Connection>,
        connecting_since: &mut Option<Instant>,
        backoff: &mut Duration,
    ) -> Flow {
        match event {
            GatewayEvent::Qr { code, valid_for } => {
                *connecting_since = None;
                *backoff = self.shared.config.reconnect_backoff_min;
                self.show_code(false, code, valid_for).await;
            }
            GatewayEvent::PairingCode { code, valid_for } => {
                *connecting_since = None;
                *backoff = self.shared.config.reconnect_backoff_min;
                self.show_code(true, code, valid_for).await;
            }
            GatewayEvent::Connecting => {
                connecting_since.get_or_insert_with(Instant::now);
                self.set_connecting(status::CONNECTING).await;
            }
            GatewayEvent::Connected { phone_number } => {
                *connecting_since = None;
                *backoff = self.shared.config.reconnect_backoff_min;
                self.offline = false;
                if self.lease.is_valid() {
                    self.connection_tx.send_replace(Some(connection.clone()));
                }
                self.set_status(WaStatus::Connected, status::CONNECTED, Some(&phone_number))
                    .await;
            }
            GatewayEvent::Disconnected { reason } => {
                // Transient: the library reconnects by itself; the watchdog bounds how long that may take.
                tracing::info!(tenant_id = %self.tenant_id, reason, "WhatsApp connection dropped");
                metrics::counter!("whatsapp_reconnects_total").increment(1);
                self.connection_tx.send_replace(None);
                connecting_since.get_or_insert_with(Instant::now);
                self.set_connecting(status::RECONNECTING).await;
            }
            GatewayEvent::Unreachable { reason } => {
                tracing::info!(tenant_id = %self.tenant_id, reason, retry_in = ?*backoff, "WhatsApp unreachable");
                self.connection_tx.send_replace(None);
                let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.shutdown()).await;
                self.set_status(WaStatus::Connecting, &status::unreachable(*backoff), None)
                    .await;
                self.offline = true;
                return Flow::Retry;
            }
            GatewayEvent::QrExhausted => {
                return Flow::End(
                    self.terminal(connection, WaStatus::Disconnected, status::QR_EXPIRED)
                        .await,
                );
            }
            GatewayEvent::LoggedOut { reason } => {
                tracing::info!(tenant_id = %self.tenant_id, reason, "WhatsApp session logged out");
                terminal_reached("logged_out");
                self.connection_tx.send_replace(None);
                // The stored session is useless now: have the gateway forget it.
                let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.logout()).await;
                let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.shutdown()).await;
                self.logged_out(status::LOGGED_OUT).await;
                self.shared.leases.release(&self.lease).await;
                return Flow::End(End::Terminal);
            }
            GatewayEvent::Replaced => {
                tracing::warn!(tenant_id = %self.tenant_id, "WhatsApp session replaced by another client");
                terminal_reached("replaced");
                return Flow::End(
                    self.terminal(connection, WaStatus::Disconnected, status::REPLACED)
                        .await,
                );
            }
            GatewayEvent::TemporaryBan { until, reason } => {
                tracing::warn!(tenant_id = %self.tenant_id, reason, ?until, "WhatsApp number temporarily banned");
                terminal_reached("banned");
                let detail = status::banned(until);
                return Flow::End(self.terminal(connection, WaStatus::Banned, &detail).await);
            }
            GatewayEvent::Message(message, delivery) => {
                inbound::handle(
                    &self.shared,
                    &self.lease,
                    &self.recent,
                    &self.stop,
                    *message,
                    delivery,
                )
                .await;
            }
        }
        Flow::Continue
    }

    /// "Connecting" with `detail`, unless WhatsApp was unreachable: then that status stays until WhatsApp
    /// answers, instead of alternating with every attempt.
    async fn set_connecting(&mut self, detail: &str) {
        if !self.offline {
            self.set_status(WaStatus::Connecting, detail, None).await;
        }
    }

    /// Why a simulation cannot be played in the current state, if it cannot.
    fn simulation_refusal(&self, simulation: &Simulation) -> Option<&'static str> {
        let state = self.last.as_ref().map(|(state, ..)| *state);
        match (simulation, state) {
            (Simulation::Scan { .. }, Some(WaStatus::WaitingForScan)) => None,
            (Simulation::Scan { .. }, Some(WaStatus::Connected)) => Some(status::ALREADY_CONNECTED),
            (Simulation::Scan { .. }, _) => Some(status::NOTHING_TO_SCAN),
            (Simulation::CustomerMessage { .. }, Some(WaStatus::Connected)) => None,
            (Simulation::CustomerMessage { .. }, _) => Some(status::NOT_LINKED),
        }
    }

    /// Plays a sandbox simulation on the running connection.
    async fn simulate(
        &self,
        connection: &Arc<dyn Connection>,
        simulation: Simulation,
    ) -> WaCommandReply {
        if let Some(refusal) = self.simulation_refusal(&simulation) {
            return WaCommandReply::refused(refusal);
        }
        let done = match simulation {
            Simulation::Scan { .. } => status::SCANNED,
            Simulation::CustomerMessage { .. } => status::CUSTOMER_MESSAGE,
        };
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.simulate(simulation)).await {
            Ok(Ok(())) => WaCommandReply::accepted(done),
            Ok(Err(GatewayError::Unsupported)) => WaCommandReply::refused(status::SANDBOX_ONLY),
            Ok(Err(e)) => {
                tracing::info!(tenant_id = %self.tenant_id, error = %e, "simulation not played");
                WaCommandReply::refused(status::UNAVAILABLE)
            }
            Err(_) => WaCommandReply::refused(status::UNAVAILABLE),
        }
    }

    /// A state the shop must act on: record it, stop, release the lease, and do not restart.
    async fn terminal(
        &mut self,
        connection: &Arc<dyn Connection>,
        state: WaStatus,
        detail: &str,
    ) -> End {
        self.connection_tx.send_replace(None);
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.shutdown()).await;
        self.set_status(state, detail, None).await;
        self.shared.leases.release(&self.lease).await;
        End::Terminal
    }

    async fn logout(&mut self, connection: &Arc<dyn Connection>) -> End {
        self.connection_tx.send_replace(None);
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.logout()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(tenant_id = %self.tenant_id, error = %e, "logout failed"),
            Err(_) => tracing::warn!(tenant_id = %self.tenant_id, "logout timed out"),
        }
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.shutdown()).await;
        self.logged_out(status::LOGGED_OUT_ON_REQUEST).await;
        self.shared.leases.release(&self.lease).await;
        End::Terminal
    }

    /// Lease lost: stop sending first, then drop the connection; write nothing.
    async fn fence(&mut self, connection: &Arc<dyn Connection>) {
        self.connection_tx.send_replace(None);
        self.live.clear();
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, connection.shutdown()).await;
        self.shared.gauge.set(self.tenant_id, None);
    }

    /// Waits before a restart, still answering the shop (the wait may last a minute while offline);
    /// `Some` when the session must end instead. `Connect` retries at once (with its options); `Logout`
    /// too, and the next connection is opened only to log out.
    async fn pause(
        &mut self,
        wait: Duration,
        ctl: &mut mpsc::Receiver<SessionCtl>,
        options: &mut StartOptions,
        logout_only: &mut bool,
    ) -> Option<End> {
        let until = Instant::now() + wait;
        loop {
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return Some(End::Stop),
                () = self.lease.fenced() => return Some(End::Fenced),
                () = tokio::time::sleep_until(until) => return None,
                Some(request) = ctl.recv() => match request {
                    SessionCtl::Connect { options: wanted, reply } => {
                        let _ = reply.send(WaCommandReply::accepted(status::CONNECTING));
                        *options = wanted;
                        return None;
                    }
                    SessionCtl::Logout { reply } => {
                        let _ = reply.send(WaCommandReply::accepted(status::LOGGED_OUT_ON_REQUEST));
                        *logout_only = true;
                        return None;
                    }
                    SessionCtl::Simulate { simulation, reply } => {
                        // No connection between two attempts: nothing to scan, nobody to write to.
                        let refusal = match simulation {
                            Simulation::Scan { .. } => status::NOTHING_TO_SCAN,
                            Simulation::CustomerMessage { .. } => status::NOT_LINKED,
                        };
                        let _ = reply.send(WaCommandReply::refused(refusal));
                    }
                },
            }
        }
    }

    /// Persists and announces a state change, only while the lease is ours.
    async fn set_status(&mut self, state: WaStatus, detail: &str, phone: Option<&str>) {
        let current = (state, detail.to_owned(), phone.map(str::to_owned));
        if state != WaStatus::WaitingForScan {
            self.live.clear();
        }
        if self.last.as_ref() == Some(&current) || !self.lease.is_valid() {
            return;
        }
        let written = async {
            let mut tx = self
                .shared
                .db
                .tenant(TenantCtx::new(self.tenant_id))
                .await?;
            whatsapp_sessions::set_status(&mut tx, state, detail, phone).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = written {
            tracing::warn!(tenant_id = %self.tenant_id, error.cause_chain = ?e, error.message = %e, "cannot store the WhatsApp status");
        }
        self.shared.gauge.set(self.tenant_id, Some(state));
        self.publish(&WaEvent::Status {
            status: state,
            phone_number: phone.map(str::to_owned),
            detail: detail.to_owned(),
        })
        .await;
        self.last = Some(current);
    }

    async fn logged_out(&mut self, detail: &str) {
        self.live.clear();
        if !self.lease.is_valid() {
            return;
        }
        let written = async {
            let mut tx = self
                .shared
                .db
                .tenant(TenantCtx::new(self.tenant_id))
                .await?;
            whatsapp_sessions::set_logged_out(&mut tx, detail).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = written {
            tracing::warn!(tenant_id = %self.tenant_id, error.cause_chain = ?e, error.message = %e, "cannot store the logout");
        }
        self.publish(&WaEvent::Status {
            status: WaStatus::LoggedOut,
            phone_number: None,
            detail: detail.to_owned(),
        })
        .await;
        self.last = Some((WaStatus::LoggedOut, detail.to_owned(), None));
    }

    /// Publishes a live event for the dashboard (core NATS: QR codes are credentials, never persisted or
    /// logged).
    async fn publish(&self, event: &WaEvent) {
        if !self.lease.is_valid() {
            return;
        }
        let Ok(payload) = serde_json::to_vec(event) else {
            return;
        };
        let subject = self.shared.subjects.wa_events(self.tenant_id);
        if let Err(e) = self.shared.nats.publish(subject, payload.into()).await {
            tracing::warn!(tenant_id = %self.tenant_id, error = %e, "cannot publish a WhatsApp event");
        }
    }
}

/// A shop's session ended for good and needs its owner (`whatsapp_terminal_total`).
fn terminal_reached(reason: &'static str) {
    metrics::counter!("whatsapp_terminal_total", "reason" => reason).increment(1);
}
