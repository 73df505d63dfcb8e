//! One customer message is one trace: the W3C trace context the ingress puts in the inbound message's NATS
//! headers is continued by the worker, which puts it on the reply it publishes for the ingress to send.

use std::time::Duration;

use schemas::InboundMessage;
use sqlx::PgPool;
use testkit::poll::eventually;

use crate::bot_support::start_offline_worker;
use crate::helpers::spawn_app;
use crate::ingress_support::activate_subscription;

/// The trace id of a `traceparent` header (`00-<trace id>-<span id>-<flags>`).
fn trace_id(headers: Option<&async_nats::HeaderMap>) -> Option<String> {
    let traceparent = headers?.get("traceparent")?.as_str().to_owned();
    traceparent.split('-').nth(1).map(str::to_owned)
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn a_customer_message_and_its_reply_are_one_trace(pool: PgPool) {
    // Arrange: a paid shop, a worker, and a WhatsApp customer message published as the ingress does.
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie Treichville").await;
    activate_subscription(&app, shop.tenant_id).await;
    let _worker = start_offline_worker(&app);
    let message = InboundMessage {
        tenant_id: shop.tenant_id,
        channel: schemas::Channel::Whatsapp,
        customer_jid: "2250701020304@s.whatsapp.net".into(),
        customer_name: "Kouassi".into(),
        wa_message_id: format!("wa-{}", uuid::Uuid::new_v4().simple()),
        text: "Bonjour, vous êtes ouverts ?".into(),
        timestamp: chrono::Utc::now(),
        from_owner: false,
        attachment: None,
        location: None,
    };
    let js = async_nats::jetstream::new(app.nats.clone());

    // Act
    tdj_nats::publish_inbound(&js, &app.subjects, &message)
        .await
        .expect("published");

    // Assert: the stored inbound message and the reply carry the same trace id.
    let inbound = js
        .get_stream(app.subjects.inbound_stream())
        .await
        .expect("inbound stream")
        .get_last_raw_message_by_subject(&app.subjects.inbound(shop.tenant_id, message.chat_key()))
        .await
        .expect("the inbound message");
    let started =
        trace_id(Some(&inbound.headers)).expect("the inbound message carries a traceparent");
    let outbound = app.subjects.outbound(shop.tenant_id);
    let outbound_stream = app.subjects.outbound_stream();
    let reply = eventually(Duration::from_secs(15), "the reply is published", || {
        let (js, outbound, stream) = (js.clone(), outbound.clone(), outbound_stream.clone());
        async move {
            js.get_stream(stream)
                .await
                .ok()?
                .get_last_raw_message_by_subject(&outbound)
                .await
                .ok()
        }
    })
    .await;
    assert_eq!(
        trace_id(Some(&reply.headers)).as_deref(),
        Some(started.as_str()),
        "the reply continues the customer message's trace"
    );
    assert_ne!(started, "0".repeat(32));
}
