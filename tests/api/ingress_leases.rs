//! Leases between ingress nodes in one process: a crashed node's tenant moves to another node within about a
//! TTL, a node whose renewals stall fences itself before anyone takes over, work stamped with an older lease
//! is dropped, and no reply is ever sent twice.

use std::time::Duration;

use ingress::{IngressConfig, OutboundOutcome};
use sqlx::PgPool;

use crate::helpers::spawn_app;
use crate::ingress_support::*;

const CUSTOMER: &str = "2250705060708@s.whatsapp.net";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_crashed_node_s_tenant_is_taken_over_within_the_ttl(pool: PgPool) {
    // Arrange: A runs the linked tenant, B is idle next to it.
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    set_linked(&app, shop.tenant_id).await;
    let a = start_node_owning(&app, shop.tenant_id).await;
    let b = start_node(&app).await;
    // A whole scan by B, which sees the tenant wanting a connection and A's lease held.
    b.node.scan_once().await.expect("B scans");
    assert!(
        b.node.owned_tenants().is_empty(),
        "B leaves A's live tenant alone"
    );
    let mut sent = sent_box(&app, shop.tenant_id).await;

    // Act: A dies without releasing anything.
    a.crash();
    let ttl = IngressConfig::for_tests().lease_ttl;
    let crashed = tokio::time::Instant::now();
    eventually(ttl * 3, "B takes the tenant over", || async {
        b.node.owned_tenants() == vec![shop.tenant_id]
    })
    .await;
    let took = crashed.elapsed();

    // Assert: within the TTL plus a scan or two, and B sends the next reply, once.
    assert!(
        took <= ttl + Duration::from_millis(1500),
        "takeover took {took:?} (TTL {ttl:?})"
    );
    let reply = reply(shop.tenant_id, CUSTOMER, "Oui, nous avons des robes.");
    publish_reply(&app, &reply).await;
    let out = sent_within(&mut sent, Duration::from_secs(4)).await;
    assert_eq!(out.len(), 1, "sent exactly once: {out:?}");
    assert_eq!(out[0].text, reply.text);
    b.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_node_whose_renewals_stall_fences_itself_and_stops_sending(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    set_linked(&app, shop.tenant_id).await;
    let a = start_node_owning(&app, shop.tenant_id).await;
    let epoch = a.node.lease_epoch(shop.tenant_id).expect("epoch");
    let mut sent = sent_box(&app, shop.tenant_id).await;
    let config = IngressConfig::for_tests();

    // Act: A's renew loop stalls.
    a.node.hold_renewals(true);

    // Assert: A fences before the TTL (so before anyone may take over) and refuses to send.
    let stalled = tokio::time::Instant::now();
    eventually(config.lease_ttl, "A fences itself", || async {
        a.node.owned_tenants().is_empty()
    })
    .await;
    let fenced = stalled.elapsed();
    assert!(fenced < config.lease_ttl, "fenced after {fenced:?}");
    let late = reply(shop.tenant_id, CUSTOMER, "Réponse tardive");
    let payload = serde_json::to_vec(&late).expect("json");
    let outcome = a
        .node
        .handle_outbound(shop.tenant_id, &payload, epoch)
        .await;
    assert!(
        matches!(outcome, OutboundOutcome::Dropped(_)),
        "a fenced node does not send: {outcome:?}"
    );

    // A second node takes over and sends the queued reply exactly once.
    let b = start_node(&app).await;
    eventually(config.lease_ttl * 3, "B takes over", || async {
        b.node.owned_tenants() == vec![shop.tenant_id]
    })
    .await;
    publish_reply(&app, &late).await;
    let out = sent_within(&mut sent, Duration::from_secs(4)).await;
    assert_eq!(out.len(), 1, "sent once, by B: {out:?}");
    a.node.hold_renewals(false);
    // A's renewals resume and it scans again: B's lease stands.
    a.node.scan_once().await.expect("A scans");
    assert!(
        a.node.owned_tenants().is_empty(),
        "A does not come back on its own"
    );
    b.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn outbound_work_stamped_with_an_older_lease_is_dropped(pool: PgPool) {
    // Arrange
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    set_linked(&app, shop.tenant_id).await;
    let node = start_node_owning(&app, shop.tenant_id).await;
    let epoch = node.node.lease_epoch(shop.tenant_id).expect("epoch");
    let mut sent = sent_box(&app, shop.tenant_id).await;
    let reply = reply(shop.tenant_id, CUSTOMER, "Bonjour !");
    let payload = serde_json::to_vec(&reply).expect("json");

    // Act / Assert
    let stale = node
        .node
        .handle_outbound(shop.tenant_id, &payload, epoch - 1)
        .await;
    assert!(
        matches!(stale, OutboundOutcome::Dropped(_)),
        "older epoch: {stale:?}"
    );
    let current = node
        .node
        .handle_outbound(shop.tenant_id, &payload, epoch)
        .await;
    assert_eq!(current, OutboundOutcome::Sent);
    let again = node
        .node
        .handle_outbound(shop.tenant_id, &payload, epoch)
        .await;
    assert_eq!(
        again,
        OutboundOutcome::AlreadySent,
        "a redelivery is not resent"
    );
    let out = sent_within(&mut sent, Duration::from_secs(1)).await;
    assert_eq!(out.len(), 1, "sent exactly once: {out:?}");
    node.stop().await;
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn new_tenants_spread_over_live_nodes(pool: PgPool) {
    // Arrange: two nodes that see each other alive, then four linked tenants at once. A longer lease keeps a
    // node's liveness from lapsing when a loaded CI machine delays its heartbeat loop.
    let app = spawn_app(pool).await;
    let config = IngressConfig {
        lease_ttl: Duration::from_secs(10),
        ..IngressConfig::for_tests()
    };
    let a = start_node_with(&app, sandbox(&app, &config), config.clone()).await;
    let b = start_node_with(&app, sandbox(&app, &config), config).await;
    eventually(
        Duration::from_secs(5),
        "A and B see each other alive",
        || async {
            a.node.live_nodes().await.expect("A's view") == 2
                && b.node.live_nodes().await.expect("B's view") == 2
        },
    )
    .await;
    let mut tenants = Vec::new();
    for i in 0..4 {
        tenants.push(app.signup(&format!("Boutique {i}")).await.tenant_id);
    }
    sqlx::query(
        "insert into whatsapp_session (tenant_id, status, phone_number)
         select unnest($1::uuid[]), 'connected', '2250700000000'",
    )
    .bind(&tenants)
    .execute(&app.admin_db)
    .await
    .expect("four linked sessions");

    // Assert: all are run, two per node.
    eventually(
        Duration::from_secs(8),
        "every tenant runs somewhere",
        || async { a.node.owned_tenants().len() + b.node.owned_tenants().len() == 4 },
    )
    .await;
    assert_eq!(a.node.owned_tenants().len(), 2, "fair share for A");
    assert_eq!(b.node.owned_tenants().len(), 2, "fair share for B");
    a.stop().await;
    b.stop().await;
}
