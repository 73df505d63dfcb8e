//! A customer message is acknowledged to WhatsApp (here, the sandbox standing in for WhatsApp's server) only
//! once JetStream stored it: an outage of JetStream loses nothing, and a redelivery is stored once.

use std::time::Duration;

use futures::StreamExt;
use ingress::names;
use ingress::sandbox::{SandboxAccepted, SandboxInbound};
use sqlx::PgPool;

use crate::helpers::spawn_app;
use crate::ingress_support::{set_linked, start_node_owning};

const CUSTOMER: &str = "2250700000051@s.whatsapp.net";

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_message_is_acknowledged_only_once_jetstream_stored_it_even_after_an_outage(
    pool: PgPool,
) {
    // Arrange: a linked shop, and JetStream refusing inbound messages (its stream is gone).
    let app = spawn_app(pool).await;
    let shop = app.signup("Boutique Awa").await;
    set_linked(&app, shop.tenant_id).await;
    let _node = start_node_owning(&app, shop.tenant_id).await;
    let js = async_nats::jetstream::new(app.nats.clone());
    js.delete_stream(app.subjects.inbound_stream())
        .await
        .expect("stream removed");
    let inbox = app.nats.new_inbox();
    let mut receipts = app.nats.subscribe(inbox.clone()).await.expect("inbox");
    let message = SandboxInbound {
        id: Some("OUTAGE-1".into()),
        from: CUSTOMER.into(),
        name: "Awa".into(),
        text: Some("Bonjour, vous livrez à Yopougon ?".into()),
        kind: "direct".into(),
        from_me: false,
        ..Default::default()
    };
    let subject = names::sandbox_inbound(&app.subjects, shop.tenant_id);
    let payload = serde_json::to_vec(&message).expect("json");

    // Act: the customer writes during the outage, which lasts longer than the old four publish attempts.
    app.nats
        .publish_with_reply(subject.clone(), inbox.clone(), payload.clone().into())
        .await
        .expect("send");
    let during = tokio::time::timeout(Duration::from_secs(6), receipts.next()).await;
    tdj_nats::provision(&app.nats, &app.subjects, &testkit::nats::TEST_STREAMS)
        .await
        .expect("JetStream back");
    let after = tokio::time::timeout(Duration::from_secs(15), receipts.next())
        .await
        .expect("acknowledged once stored")
        .expect("receipt");
    // WhatsApp redelivers a message whose receipt it did not get: stored once all the same.
    app.nats
        .publish_with_reply(subject, inbox, payload.into())
        .await
        .expect("redeliver");
    let again = tokio::time::timeout(Duration::from_secs(10), receipts.next())
        .await
        .expect("acknowledged again")
        .expect("receipt");

    // Assert
    assert!(
        during.is_err(),
        "no receipt while JetStream cannot store it"
    );
    let receipt: SandboxAccepted = serde_json::from_slice(&after.payload).expect("receipt json");
    assert_eq!(
        receipt,
        SandboxAccepted {
            accepted: true,
            id: "OUTAGE-1".into()
        }
    );
    assert_eq!(again.payload, after.payload);
    let mut stream = js
        .get_stream(app.subjects.inbound_stream())
        .await
        .expect("stream");
    let stored = stream.info().await.expect("info").state.messages;
    assert_eq!(stored, 1, "stored once, not lost and not twice");
    let first = stream.get_raw_message(1).await.expect("message");
    let inbound: schemas::InboundMessage = serde_json::from_slice(&first.payload).expect("json");
    assert_eq!(inbound.wa_message_id, "OUTAGE-1");
}

/// A `Db` for the app's database whose every connection goes through `proxy`, failing fast while it is cut.
async fn db_through(pool: &PgPool, proxy: &testkit::pg_proxy::PgProxy) -> store::Db {
    let options = |role: &str| {
        (*pool.connect_options())
            .clone()
            .host("127.0.0.1")
            .port(proxy.port())
            .username(role)
    };
    let connect = |role: &'static str| {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(options(role))
    };
    store::Db::from_pools(
        connect(store::db::APP_ROLE).await.expect("app role"),
        connect(store::db::PLATFORM_ROLE)
            .await
            .expect("platform role"),
    )
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_reply_sent_while_the_database_is_down_is_recorded_as_sent_once_it_is_back(pool: PgPool) {
    // Arrange: a linked shop whose ingress node reaches PostgreSQL through a proxy, a long "typing…" pause to
    // cut the database in, and the reply stored as queued, as the worker leaves it.
    let app = spawn_app(pool.clone()).await;
    let shop = app.signup("Boutique Awa").await;
    set_linked(&app, shop.tenant_id).await;
    let proxy = testkit::pg_proxy::PgProxy::start("127.0.0.1:5432").await;
    let env = testkit::node::NodeEnv {
        db: db_through(&pool, &proxy).await,
        nats: app.nats.clone(),
        subjects: app.subjects.clone(),
        master: app.master_key.clone(),
        media: store::media::MediaConfig::default(),
    };
    let config = ingress::IngressConfig {
        typing_delay_min: Duration::from_secs(2),
        typing_delay_max: Duration::from_secs(2),
        ..ingress::IngressConfig::for_tests()
    };
    // The sandbox (WhatsApp's side) keeps the direct connection: only the node loses the database.
    let gateway = crate::ingress_support::sandbox(&app, &config);
    let node = testkit::node::start_node_with(&env, gateway, config).await;
    node.wait_until_owns(shop.tenant_id).await;
    let reply = testkit::publish::reply(shop.tenant_id, CUSTOMER, "Oui, la robe est disponible.");
    let chat_id: uuid::Uuid = sqlx::query_scalar(
        "insert into chat (tenant_id, channel, customer_jid) values ($1, 'whatsapp', $2) returning chat_id",
    )
    .bind(shop.tenant_id)
    .bind(CUSTOMER)
    .fetch_one(&app.admin_db)
    .await
    .expect("chat");
    sqlx::query(
        "insert into message (tenant_id, chat_id, direction, author, wa_message_id, body, status, sent_at)
         values ($1, $2, 'outbound', 'bot', $3, $4, 'queued', now())",
    )
    .bind(shop.tenant_id)
    .bind(chat_id)
    .bind(&reply.outbound_id)
    .bind(&reply.text)
    .execute(&app.admin_db)
    .await
    .expect("queued reply");
    let reply = schemas::OutboundReply { chat_id, ..reply };
    let mut sent = crate::ingress_support::sent_box(&app, shop.tenant_id).await;

    // Act: the reply is picked up, then the database goes away during the pause before it is sent.
    crate::ingress_support::publish_reply(&app, &reply).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    proxy.outage();
    let out = crate::ingress_support::sent_within(&mut sent, Duration::from_secs(4)).await;
    assert_eq!(
        out.len(),
        1,
        "sent to the customer while the database is down"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();

    // Assert: the delivery is recorded once the database is back, and nothing is sent twice.
    let status = |outbound_id: String| {
        let db = app.admin_db.clone();
        async move {
            sqlx::query_scalar::<_, String>("select status from message where wa_message_id = $1")
                .bind(outbound_id)
                .fetch_one(&db)
                .await
                .expect("status")
        }
    };
    let recorded = testkit::poll::within(Duration::from_secs(15), || async {
        (status(reply.outbound_id.clone()).await == "sent").then_some(())
    })
    .await;
    assert!(recorded.is_some(), "the reply is recorded as sent");
    let again = crate::ingress_support::sent_within(&mut sent, Duration::from_secs(2)).await;
    assert!(again.is_empty(), "sent once: {again:?}");
    node.stop().await;
}
