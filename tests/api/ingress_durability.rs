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
    };
    let subject = names::sandbox_inbound(&app.subjects, shop.tenant_id);
    let payload = serde_json::to_vec(&message).expect("json");

    // Act: the customer writes during the outage, which lasts longer than the old four publish attempts.
    app.nats
        .publish_with_reply(subject.clone(), inbox.clone(), payload.clone().into())
        .await
        .expect("send");
    let during = tokio::time::timeout(Duration::from_secs(6), receipts.next()).await;
    tdj_nats::provision(&app.nats, &app.subjects, 1)
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
