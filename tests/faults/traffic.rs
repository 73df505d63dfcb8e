//! Customers writing, the way WhatsApp delivers: each message is sent to the shop's number (the sandbox's
//! inbound subject) as a request and sent again, with the same id, until the ingress acknowledges it — as
//! WhatsApp's server redelivers a message whose receipt it did not get. Then what came of it is counted from
//! the database (authoritative: a reply is `sent` only once the ingress handed it to WhatsApp) and from what the
//! sandbox actually sent (which shows a reply sent twice).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use ingress::names;
use ingress::sandbox::{SandboxAccepted, SandboxInbound, SandboxSent};
use sqlx::PgPool;
use uuid::Uuid;

use crate::cluster::Cluster;
use crate::model::markers;

/// One customer's conversation with one shop.
#[derive(Debug, Clone)]
pub struct Chat {
    pub shop: Uuid,
    pub jid: String,
    /// `c<case><n>`: the prefix of this chat's markers.
    pub tag: String,
}

/// What one case sends: `chats` customers, each writing `per_chat` messages `every` apart, every
/// `order_every`-th an order, each delivered `copies` times (2: WhatsApp delivering everything twice).
#[derive(Debug, Clone, Copy)]
pub struct Traffic {
    pub chats_per_shop: usize,
    pub per_chat: usize,
    pub every: Duration,
    pub order_every: usize,
    pub copies: usize,
}

#[derive(Debug, Default)]
pub struct Sent {
    /// Per chat, the markers in the order the customer wrote them.
    pub markers: BTreeMap<String, Vec<String>>,
    pub orders: Vec<String>,
    /// Requests that went unacknowledged (retried until they were).
    pub unacknowledged_tries: usize,
}

/// The chats of case `case`.
pub fn chats(cluster: &Cluster, case: usize, per_shop: usize) -> Vec<Chat> {
    let mut chats = Vec::new();
    for (s, shop) in cluster.shops.iter().enumerate() {
        for n in 0..per_shop {
            chats.push(Chat {
                shop: *shop,
                jid: format!("225071{case:02}{s}{n:03}@s.whatsapp.net"),
                tag: format!("c{case}{s}{n}"),
            });
        }
    }
    chats
}

/// Every text the sandbox sends to these shops, from now on.
pub async fn watch_sent(cluster: &Cluster) -> Arc<Mutex<Vec<SandboxSent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    for shop in &cluster.shops {
        let mut sub = cluster
            .nats
            .subscribe(names::sandbox_sent(&cluster.subjects, *shop))
            .await
            .expect("sent subscription");
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(message) = sub.next().await {
                if let Ok(sent) = serde_json::from_slice::<SandboxSent>(&message.payload) {
                    seen.lock().expect("lock").push(sent);
                }
            }
        });
    }
    cluster.nats.flush().await.expect("flush");
    seen
}

/// Sends the traffic; returns when every message was acknowledged.
pub async fn drive(cluster: &Cluster, chats: &[Chat], traffic: Traffic) -> Sent {
    let mut tasks = Vec::new();
    for chat in chats {
        let (nats, subject) = (
            cluster.nats.clone(),
            names::sandbox_inbound(&cluster.subjects, chat.shop),
        );
        let chat = chat.clone();
        tasks.push(tokio::spawn(async move {
            let mut markers = Vec::new();
            let mut orders = Vec::new();
            let mut retries = 0;
            for n in 1..=traffic.per_chat {
                let marker = format!("#{}-{n}", chat.tag);
                let order = traffic.order_every > 0 && n % traffic.order_every == 0;
                let text = if order {
                    format!("je prends une robe wax, commande {marker}")
                } else {
                    format!("bonjour, c'est combien ? {marker}")
                };
                let message = SandboxInbound {
                    id: Some(format!("FAULT{}{n}", chat.tag.to_uppercase())),
                    from: chat.jid.clone(),
                    name: "Client".into(),
                    text: Some(text),
                    kind: "direct".into(),
                    from_me: false,
                    ..Default::default()
                };
                for _ in 0..traffic.copies {
                    retries += deliver(&nats, &subject, &message).await;
                }
                markers.push(marker.clone());
                if order {
                    orders.push(marker);
                }
                tokio::time::sleep(traffic.every).await;
            }
            (chat.tag, markers, orders, retries)
        }));
    }
    let mut sent = Sent::default();
    for task in tasks {
        let (tag, markers, orders, retries) = task.await.expect("customer");
        sent.markers.insert(tag, markers);
        sent.orders.extend(orders);
        sent.unacknowledged_tries += retries;
    }
    sent
}

/// Sends `message` until the ingress acknowledges it; returns how many tries went unanswered.
async fn deliver(nats: &async_nats::Client, subject: &str, message: &SandboxInbound) -> usize {
    let payload = serde_json::to_vec(message).expect("json");
    let started = Instant::now();
    let mut unanswered = 0;
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{:?} never acknowledged",
            message.id
        );
        let inbox = nats.new_inbox();
        let Ok(mut receipt) = nats.subscribe(inbox.clone()).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        // Only the sandbox's receipt counts: NATS itself answers "no responders" while no node serves
        // the shop (a fail-over), which is no receipt at all.
        if nats
            .publish_with_reply(subject.to_owned(), inbox, payload.clone().into())
            .await
            .is_ok()
            && let Ok(Some(reply)) =
                tokio::time::timeout(Duration::from_secs(3), receipt.next()).await
            && serde_json::from_slice::<SandboxAccepted>(&reply.payload).is_ok_and(|r| r.accepted)
        {
            return unanswered;
        }
        if unanswered > 0 {
            // Not served right now: wait a little, as WhatsApp's redelivery does.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        unanswered += 1;
    }
}

/// A bot reply as stored: its text and delivery status, in the chat's order.
#[derive(Debug, Clone)]
struct Reply {
    body: String,
    status: String,
}

async fn replies(db: &PgPool, chat: &Chat) -> Vec<Reply> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select m.body, m.status from message m join chat c using (tenant_id, chat_id)
         where c.tenant_id = $1 and c.customer_jid = $2 and m.direction = 'outbound' and m.author = 'bot'
         order by m.created_at, m.message_id",
    )
    .bind(chat.shop)
    .bind(&chat.jid)
    .fetch_all(db)
    .await
    .expect("replies");
    rows.into_iter()
        .map(|(body, status)| Reply { body, status })
        .collect()
}

/// What a case measured.
#[derive(Debug, Default)]
pub struct Report {
    pub sent: usize,
    pub replies: usize,
    pub orders: usize,
    pub duplicate_replies: usize,
    pub duplicate_orders: usize,
    pub lost: usize,
    pub lost_orders: usize,
    pub out_of_order: usize,
    pub retried_deliveries: usize,
    pub settle_secs: f64,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.duplicate_replies == 0
            && self.duplicate_orders == 0
            && self.lost == 0
            && self.lost_orders == 0
            && self.out_of_order == 0
    }
}

/// Waits (up to `limit`) until every message is answered by a sent reply, then counts.
pub async fn settle(
    cluster: &Cluster,
    chats: &[Chat],
    sent: &Sent,
    seen: &Mutex<Vec<SandboxSent>>,
    limit: Duration,
) -> Report {
    let started = Instant::now();
    loop {
        let report = measure(cluster, chats, sent, seen).await;
        if (report.lost == 0 && report.lost_orders == 0) || started.elapsed() > limit {
            return Report {
                settle_secs: started.elapsed().as_secs_f64(),
                ..report
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn measure(
    cluster: &Cluster,
    chats: &[Chat],
    sent: &Sent,
    seen: &Mutex<Vec<SandboxSent>>,
) -> Report {
    let mut report = Report {
        sent: sent.markers.values().map(Vec::len).sum(),
        retried_deliveries: sent.unacknowledged_tries,
        ..Report::default()
    };
    for chat in chats {
        let wanted = sent.markers.get(&chat.tag).cloned().unwrap_or_default();
        let replies = replies(&cluster.db, chat).await;
        report.replies += replies.len();
        let answered: Vec<String> = replies
            .iter()
            .filter(|r| r.status == "sent")
            .flat_map(|r| markers(&r.body))
            .collect();
        let mut times: HashMap<&str, usize> = HashMap::new();
        for marker in &answered {
            *times.entry(marker.as_str()).or_default() += 1;
        }
        report.duplicate_replies += times.values().filter(|n| **n > 1).count();
        report.lost += wanted
            .iter()
            .filter(|m| !times.contains_key(m.as_str()))
            .count();
        let mut deduplicated = answered.clone();
        deduplicated.dedup();
        if deduplicated != wanted && wanted.iter().all(|m| times.contains_key(m.as_str())) {
            report.out_of_order += 1;
        }
    }
    // A reply WhatsApp received twice: the same outbound text sent twice to one customer.
    report.duplicate_replies += {
        let seen = seen.lock().expect("lock");
        let mut sent_texts: HashMap<(&str, &str), usize> = HashMap::new();
        for message in seen.iter().filter(|m| chats.iter().any(|c| c.jid == m.to)) {
            *sent_texts.entry((&message.to, &message.text)).or_default() += 1;
        }
        sent_texts.values().filter(|n| **n > 1).count()
    };
    let jids: Vec<String> = chats.iter().map(|c| c.jid.clone()).collect();
    let orders: Vec<(String, i64)> = sqlx::query_as(
        "select note, count(*) from customer_order where customer_jid = any($1) group by note",
    )
    .bind(&jids)
    .fetch_all(&cluster.db)
    .await
    .expect("orders");
    report.orders = orders.iter().map(|(_, n)| *n as usize).sum();
    report.duplicate_orders = orders.iter().filter(|(_, n)| *n > 1).count();
    report.lost_orders = sent
        .orders
        .iter()
        .filter(|o| !orders.iter().any(|(note, _)| note == *o))
        .count();
    report
}
