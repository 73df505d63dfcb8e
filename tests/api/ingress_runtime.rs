//! The ingress runtime with the sandbox gateway against the real PostgreSQL and NATS: linking by QR code,
//! customer messages to the pipeline and replies back out exactly once, the connecting watchdog, terminal
//! states that are reported in French and never retried, and a shop whose WhatsApp cannot be reached.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use ingress::gateway::{Connection, GatewayError, GatewayEvent, StartOptions, WhatsAppGateway};
use ingress::{IngressConfig, status};
use schemas::InboundMessage;
use schemas::whatsapp::{WaCommand, WaEvent, WaStatus};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::bot_support::start_offline_worker;
use crate::helpers::spawn_app;
use crate::ingress_support::*;

const CUSTOMER: &str = "2250701020304@s.whatsapp.net";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_links_by_qr_code_and_its_customer_gets_one_reply(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    activate_subscription(&app, shop.tenant_id).await;
    let _worker = start_offline_worker(&app);
    let node = start_node(&app).await;
    let mut events = app
        .nats
        .subscribe(app.subjects.wa_events(shop.tenant_id))
        .await
        .expect("events");
    let mut inbound = app
        .nats
        .subscribe(app.subjects.inbound(shop.tenant_id, "*"))
        .await
        .expect("inbound");
    let mut sent = sent_box(&app, shop.tenant_id).await;

    // Act: connect, see a QR code, scan it.
    let reply = command(
        &app,
        shop.tenant_id,
        &WaCommand::Connect {
            pairing_phone: None,
        },
    )
    .await;
    assert!(reply.accepted, "connect accepted: {}", reply.message);
    let mut saw_qr = false;
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(5), events.next()).await {
        let event: WaEvent = serde_json::from_slice(&event.payload).expect("event");
        if let WaEvent::Qr { code, .. } = event {
            assert!(!code.is_empty());
            saw_qr = true;
            break;
        }
    }
    assert!(saw_qr, "a QR code is shown on the live events");
    assert_eq!(
        session_row(&app, shop.tenant_id)
            .await
            .map(|r| r.0)
            .as_deref(),
        Some("waiting_for_scan")
    );
    scan_qr(&app, shop.tenant_id).await;

    // Assert: connected and stored.
    eventually(
        Duration::from_secs(5),
        "connected status stored",
        || async {
            session_row(&app, shop.tenant_id)
                .await
                .is_some_and(|(status, _, phone)| status == "connected" && phone.is_some())
        },
    )
    .await;
    let connected = loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("a status event")
            .expect("event");
        if let WaEvent::Status { status, .. } =
            serde_json::from_slice(&event.payload).expect("event")
            && status == WaStatus::Connected
        {
            break true;
        }
    };
    assert!(connected);
    assert_eq!(node.node.owned_tenants(), vec![shop.tenant_id]);

    // Act: a customer writes on WhatsApp.
    customer_writes(
        &app,
        shop.tenant_id,
        CUSTOMER,
        "WAMSG1",
        "Bonjour, vous avez des robes ?",
    )
    .await;

    // Assert: it reaches tdj.in with the dedup id, and exactly one reply goes out.
    let message = tokio::time::timeout(Duration::from_secs(5), inbound.next())
        .await
        .expect("inbound in time")
        .expect("inbound");
    let published: InboundMessage = serde_json::from_slice(&message.payload).expect("inbound json");
    assert_eq!(published.wa_message_id, "WAMSG1");
    assert_eq!(published.customer_jid, CUSTOMER);
    assert!(!published.from_owner);
    assert_eq!(
        message
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.as_str().to_owned()),
        Some(format!("{}:WAMSG1", shop.tenant_id))
    );
    let replies = sent_within(&mut sent, Duration::from_secs(8)).await;
    assert_eq!(replies.len(), 1, "exactly one reply sent: {replies:?}");
    assert_eq!(replies[0].to, CUSTOMER);
    let status = delivery_status(&app, shop.tenant_id).await;
    assert_eq!(status, "sent");
    node.stop().await;
}

/// The delivery status of the tenant's bot reply, once it is no longer queued.
async fn delivery_status(app: &crate::helpers::TestApp, tenant_id: Uuid) -> String {
    eventually(Duration::from_secs(5), "reply no longer queued", || async {
        sqlx::query_scalar::<_, String>(
            "select status from message where tenant_id = $1 and author = 'bot' and status <> 'queued'",
        )
        .bind(tenant_id)
        .fetch_optional(&app.admin_db)
        .await
        .expect("status")
    })
    .await
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn group_status_and_captionless_messages_are_not_published(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    set_linked(&app, shop.tenant_id).await;
    let node = start_node_owning(&app, shop.tenant_id).await;
    let mut inbound = app
        .nats
        .subscribe(app.subjects.inbound(shop.tenant_id, "*"))
        .await
        .expect("inbound");
    app.nats.flush().await.expect("flush");

    // Act
    for (kind, text) in [
        ("group", Some("salut")),
        ("status", Some("story")),
        ("direct", None),
    ] {
        let message = ingress::sandbox::SandboxInbound {
            id: None,
            from: CUSTOMER.into(),
            name: String::new(),
            text: text.map(str::to_owned),
            kind: kind.into(),
            from_me: false,
            ..Default::default()
        };
        app.nats
            .publish(
                ingress::names::sandbox_inbound(&app.subjects, shop.tenant_id),
                serde_json::to_vec(&message).expect("json").into(),
            )
            .await
            .expect("inject");
    }
    customer_writes(&app, shop.tenant_id, CUSTOMER, "LAST", "Bonjour").await;

    // Assert: only the direct text message arrives.
    let first = tokio::time::timeout(Duration::from_secs(5), inbound.next())
        .await
        .expect("in time")
        .expect("message");
    let first: InboundMessage = serde_json::from_slice(&first.payload).expect("json");
    assert_eq!(
        first.wa_message_id, "LAST",
        "groups, status and media without caption are skipped"
    );
    node.stop().await;
}

/// A scripted gateway: every `start` counts and plays the same events, then keeps the connection open.
struct Scripted {
    starts: Arc<AtomicUsize>,
    events: Vec<GatewayEvent>,
}

struct Idle {
    _events: mpsc::Sender<GatewayEvent>,
}

#[async_trait]
impl Connection for Idle {
    async fn send_text(&self, _: &str, _: &str) -> Result<String, GatewayError> {
        Err(GatewayError::NotConnected("scripted".into()))
    }
    async fn send_image(
        &self,
        _: &str,
        _: Vec<u8>,
        _: &str,
        _: &str,
    ) -> Result<String, GatewayError> {
        Err(GatewayError::NotConnected("idle".into()))
    }

    async fn typing(&self, _: &str, _: bool) -> Result<(), GatewayError> {
        Ok(())
    }
    async fn logout(&self) -> Result<(), GatewayError> {
        Ok(())
    }
    async fn shutdown(&self) {}
}

#[async_trait]
impl WhatsAppGateway for Scripted {
    async fn start(
        &self,
        _tenant_id: Uuid,
        _options: StartOptions,
    ) -> Result<(Box<dyn Connection>, mpsc::Receiver<GatewayEvent>), GatewayError> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel(16);
        for event in &self.events {
            let _ = tx.send(event.clone()).await;
        }
        Ok((Box::new(Idle { _events: tx }), rx))
    }

    fn name(&self) -> &'static str {
        "scripted"
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_connection_stuck_connecting_is_rebuilt_by_the_watchdog(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    set_linked(&app, shop.tenant_id).await;
    let starts = Arc::new(AtomicUsize::new(0));
    let gateway = Arc::new(Scripted {
        starts: starts.clone(),
        events: vec![GatewayEvent::Connecting],
    });
    let config = IngressConfig {
        connecting_timeout: Duration::from_millis(700),
        ..IngressConfig::for_tests()
    };

    // Act
    let node = start_node_with(&app, gateway, config).await;

    // Assert
    eventually(
        Duration::from_secs(6),
        "watchdog rebuilt the connection twice",
        || async { starts.load(Ordering::SeqCst) >= 3 },
    )
    .await;
    assert_eq!(
        session_row(&app, shop.tenant_id)
            .await
            .map(|r| r.0)
            .as_deref(),
        Some("connecting")
    );
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn terminal_states_are_explained_in_french_and_not_retried(pool: PgPool) {
    let app = spawn_app(pool).await;
    let cases = [
        (
            GatewayEvent::LoggedOut {
                reason: "401".into(),
            },
            "logged_out",
            status::LOGGED_OUT.to_owned(),
            "logged out from the phone",
        ),
        (
            GatewayEvent::Replaced,
            "disconnected",
            status::REPLACED.to_owned(),
            "session opened elsewhere",
        ),
        (
            GatewayEvent::TemporaryBan {
                until: None,
                reason: "402".into(),
            },
            "banned",
            status::banned(None),
            "temporary ban",
        ),
        (
            GatewayEvent::QrExhausted,
            "disconnected",
            "QR code expiré, relancez la connexion".to_owned(),
            "QR codes exhausted",
        ),
    ];
    for (event, expected_status, expected_detail, case) in cases {
        // Arrange
        let shop = app.signup("Boutique Awa").await;
        set_linked(&app, shop.tenant_id).await;
        let starts = Arc::new(AtomicUsize::new(0));
        let gateway = Arc::new(Scripted {
            starts: starts.clone(),
            events: vec![GatewayEvent::Connecting, event],
        });

        // Act
        let node = start_node_with(&app, gateway, IngressConfig::for_tests()).await;
        eventually(Duration::from_secs(5), case, || async {
            session_row(&app, shop.tenant_id)
                .await
                .is_some_and(|(status, _, _)| status == expected_status)
        })
        .await;
        eventually(Duration::from_secs(5), case, || async {
            node.node.owned_tenants().is_empty()
        })
        .await;
        // A scan after the session ended: nothing restarts it.
        node.node.scan_once().await.expect("scan");

        // Assert
        let (_, detail, _) = session_row(&app, shop.tenant_id).await.expect("row");
        assert_eq!(detail, expected_detail, "{case}: French detail");
        assert_eq!(starts.load(Ordering::SeqCst), 1, "{case}: not restarted");
        assert!(
            node.node.owned_tenants().is_empty(),
            "{case}: lease given up"
        );
        node.stop().await;
    }
}

/// WhatsApp unreachable (no internet) for the first `offline_starts` starts: each attempt shows
/// `Connecting` then `Unreachable`; later starts reach WhatsApp and show a QR code.
struct NoInternetAtFirst {
    offline_starts: usize,
    starts: Arc<Mutex<Vec<Instant>>>,
}

#[async_trait]
impl WhatsAppGateway for NoInternetAtFirst {
    async fn start(
        &self,
        _tenant_id: Uuid,
        _options: StartOptions,
    ) -> Result<(Box<dyn Connection>, mpsc::Receiver<GatewayEvent>), GatewayError> {
        let start = {
            let mut starts = self.starts.lock().expect("starts");
            starts.push(Instant::now());
            starts.len()
        };
        let (tx, rx) = mpsc::channel(16);
        let _ = tx.send(GatewayEvent::Connecting).await;
        let _ = tx
            .send(if start <= self.offline_starts {
                GatewayEvent::Unreachable {
                    reason: "connect failed: Temporary failure in name resolution".into(),
                }
            } else {
                GatewayEvent::Qr {
                    code: "2@back-online".into(),
                    valid_for: Duration::from_secs(60),
                }
            })
            .await;
        Ok((Box::new(Idle { _events: tx }), rx))
    }

    fn name(&self) -> &'static str {
        "no-internet-at-first"
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn without_internet_the_status_says_so_plainly_and_the_qr_code_comes_once_the_network_is_back(
    pool: PgPool,
) {
    // Arrange: three attempts without internet, then WhatsApp answers.
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    let starts = Arc::new(Mutex::new(Vec::new()));
    let gateway = Arc::new(NoInternetAtFirst {
        offline_starts: 3,
        starts: starts.clone(),
    });
    let config = IngressConfig {
        reconnect_backoff_min: Duration::from_millis(300),
        reconnect_backoff_max: Duration::from_millis(600),
        ..IngressConfig::for_tests()
    };
    let node = start_node_with(&app, gateway, config).await;
    let mut events = app
        .nats
        .subscribe(app.subjects.wa_events(shop.tenant_id))
        .await
        .expect("events");
    app.nats.flush().await.expect("flush");

    // Act
    let reply = command(
        &app,
        shop.tenant_id,
        &WaCommand::Connect {
            pairing_phone: None,
        },
    )
    .await;
    assert!(reply.accepted, "{}", reply.message);
    let mut statuses = Vec::new();
    let qr = loop {
        let message = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap_or_else(|_| panic!("no QR code after the network came back: {statuses:?}"))
            .expect("event");
        match serde_json::from_slice(&message.payload).expect("event") {
            WaEvent::Status { status, detail, .. } => statuses.push((status, detail)),
            WaEvent::Qr { code, .. } => break code,
            WaEvent::PairingCode { .. } => panic!("unexpected pairing code"),
        }
    };

    // Assert: "connecting", then one plain explanation while offline (never "connection lost"), then the
    // normal flow.
    assert_eq!(
        statuses,
        vec![
            (WaStatus::Connecting, status::CONNECTING.to_owned()),
            (
                WaStatus::Connecting,
                status::unreachable(Duration::from_millis(300))
            ),
            (
                WaStatus::WaitingForScan,
                status::WAITING_FOR_SCAN.to_owned()
            ),
        ]
    );
    assert_eq!(
        status::unreachable(Duration::from_millis(300)),
        "Impossible de joindre WhatsApp (pas d'accès à internet ?). Nouvel essai dans 1 s."
    );
    assert_eq!(qr, "2@back-online");
    let starts = starts.lock().expect("starts").clone();
    assert_eq!(
        starts.len(),
        4,
        "three offline attempts, then one that got through"
    );
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, minimum) in [300u64, 600, 600].into_iter().enumerate() {
        assert!(
            gaps[i] >= Duration::from_millis(minimum),
            "retry {i} waited {:?} (gaps {gaps:?})",
            gaps[i]
        );
    }
    assert_eq!(
        session_row(&app, shop.tenant_id)
            .await
            .map(|r| r.0)
            .as_deref(),
        Some("waiting_for_scan")
    );
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_shop_can_unlink_its_number_while_whatsapp_is_unreachable(pool: PgPool) {
    // Arrange: never any internet, and a long wait between attempts.
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    set_linked(&app, shop.tenant_id).await;
    let starts = Arc::new(Mutex::new(Vec::new()));
    let gateway = Arc::new(NoInternetAtFirst {
        offline_starts: usize::MAX,
        starts: starts.clone(),
    });
    let config = IngressConfig {
        reconnect_backoff_min: Duration::from_secs(30),
        reconnect_backoff_max: Duration::from_secs(30),
        ..IngressConfig::for_tests()
    };
    let node = start_node_with(&app, gateway, config).await;
    eventually(Duration::from_secs(5), "offline status stored", || async {
        session_row(&app, shop.tenant_id)
            .await
            .is_some_and(|(_, detail, _)| detail.ends_with("Nouvel essai dans 30 s."))
    })
    .await;

    // Act: the shop unlinks during the 30 s wait.
    let asked = Instant::now();
    let reply = command(&app, shop.tenant_id, &WaCommand::Logout).await;

    // Assert: answered at once, not after the wait (nor after the api's timeout).
    assert!(reply.accepted, "{}", reply.message);
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "answered after {:?}",
        asked.elapsed()
    );
    eventually(Duration::from_secs(5), "logged out", || async {
        session_row(&app, shop.tenant_id)
            .await
            .is_some_and(|(status, _, phone)| status == "logged_out" && phone.is_none())
    })
    .await;
    node.stop().await;
}
