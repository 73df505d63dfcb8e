//! The fault suite: every customer message answered once and every order taken once, through crashes,
//! restarts and outages. A steady stream of customer messages across three shops and several chats goes
//! through the real ingress path (the sandbox gateway standing in for WhatsApp, which redelivers anything not
//! acknowledged) and real workers in separate `tdjaasa` processes, while each case breaks something. Each case
//! prints messages sent, replies, orders, duplicates and losses; it passes with 0 lost, 0 duplicate replies,
//! 0 duplicate orders, replies in each chat in the customer's order, and no process that had to be restarted
//! to recover (only the ones the case killed are started again, as a supervisor would).
//!
//! Own services only: a throwaway nats-server on a free port, a database of its own reached through a proxy
//! that plays PostgreSQL's outage. The short form runs with `cargo test` (a few minutes); `FAULTS=long` runs
//! the long form (more traffic, a 3-minute PostgreSQL outage):
//! `FAULTS=long cargo test --test faults -- --nocapture` (`FAULTS_CASES=3,7` runs only those cases).

mod cluster;
mod model;
mod traffic;

use std::future::Future;
use std::time::Duration;

use cluster::{Cluster, Nats};
use model::Mode;
use traffic::{Report, Traffic};

fn long() -> bool {
    std::env::var("FAULTS").is_ok_and(|v| v == "long")
}

fn traffic() -> Traffic {
    if long() {
        Traffic {
            chats_per_shop: 4,
            per_chat: 60,
            every: Duration::from_millis(500),
            order_every: 4,
            copies: 1,
        }
    } else {
        Traffic {
            chats_per_shop: 2,
            per_chat: 12,
            every: Duration::from_millis(700),
            order_every: 4,
            copies: 1,
        }
    }
}

/// How long the traffic of one case lasts, for placing its faults.
fn span() -> Duration {
    let t = traffic();
    t.every * u32::try_from(t.per_chat).unwrap_or(u32::MAX)
}

/// `FAULTS_CASES=3,7` runs only those cases (to iterate on one).
fn selected(case: usize) -> bool {
    std::env::var("FAULTS_CASES").map_or(true, |cases| {
        cases.split(',').any(|c| c.trim() == case.to_string())
    })
}

async fn run_case<F: Future<Output = ()>>(
    cluster: &Cluster,
    case: usize,
    name: &str,
    traffic: Traffic,
    fault: F,
) -> (String, Report) {
    if !selected(case) {
        return (format!("{name:<34} skipped"), Report::default());
    }
    let chats = traffic::chats(cluster, case, traffic.chats_per_shop);
    let seen = traffic::watch_sent(cluster).await;
    let (sent, ()) = tokio::join!(traffic::drive(cluster, &chats, traffic), fault);
    let limit = if long() { 600 } else { 180 };
    let report = traffic::settle(cluster, &chats, &sent, &seen, Duration::from_secs(limit)).await;
    let line = format!(
        "{name:<34} {:>5} {:>7} {:>6} {:>9} {:>9} {:>5} {:>10} {:>12} {:>7} {:>7.1}",
        report.sent,
        report.replies,
        report.orders,
        report.duplicate_replies,
        report.duplicate_orders,
        report.lost + report.lost_orders,
        report.out_of_order,
        report.retried_deliveries,
        if report.passed() { "ok" } else { "FAILED" },
        report.settle_secs,
    );
    println!("{line}");
    (line, report)
}

/// One suite at a time: each runs its own processes, and two at once would starve a small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn header() -> String {
    format!(
        "{:<34} {:>5} {:>7} {:>6} {:>9} {:>9} {:>5} {:>10} {:>12} {:>7} {:>7}",
        "case",
        "sent",
        "replies",
        "orders",
        "dup.repl",
        "dup.order",
        "lost",
        "out.order",
        "redelivered",
        "verdict",
        "settle s"
    )
}

/// Stops the cluster and fails with the cases that did not pass.
async fn conclude(cluster: Cluster, results: Vec<(String, Report)>) {
    let exited = cluster.exited();
    let logs = cluster.logs.clone();
    cluster.stop().await;
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, report)| !report.passed())
        .map(|(line, _)| line.as_str())
        .collect();
    assert!(
        failed.is_empty() && exited.is_empty(),
        "fault suite failed (logs in {}):\n{}\n{}\nprocesses that exited by themselves: {exited:?}",
        logs.display(),
        header(),
        failed.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_is_answered_once_and_every_order_taken_once_through_faults() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start().await;
    let header = header();
    println!(
        "fault suite ({} form), logs in {}",
        if long() { "long" } else { "short" },
        cluster.logs.display()
    );
    println!("{header}");
    let span = span();
    let mut results = Vec::new();

    results.push(run_case(&cluster, 1, "baseline (no fault)", traffic(), async {}).await);

    results.push(
        run_case(
            &cluster,
            2,
            "worker SIGKILL mid-turn, repeatedly",
            traffic(),
            async {
                let kills = (span.as_millis() / 1500).max(2);
                for n in 0..kills {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    let worker = if n % 2 == 0 { "worker-1" } else { "worker-2" };
                    cluster.restart(worker);
                }
            },
        )
        .await,
    );

    results.push(
        run_case(
            &cluster,
            3,
            "nats-server restart, twice",
            traffic(),
            async {
                tokio::time::sleep(span / 4).await;
                cluster.restart_nats().await;
                tokio::time::sleep(span / 3).await;
                cluster.restart_nats().await;
            },
        )
        .await,
    );

    let outage = if long() {
        Duration::from_secs(180)
    } else {
        Duration::from_secs(20)
    };
    results.push(
        run_case(
            &cluster,
            4,
            &format!("PostgreSQL cut + refused {} s", outage.as_secs()),
            traffic(),
            async {
                tokio::time::sleep(span / 5).await;
                cluster.proxy.outage();
                tokio::time::sleep(outage).await;
                cluster.proxy.restore();
            },
        )
        .await,
    );

    results.push(
        run_case(
            &cluster,
            5,
            "model 429, 500, hang, fail mid-order",
            traffic(),
            async {
                let step = span / 9;
                for mode in [
                    Mode::RateLimited,
                    Mode::ServerError,
                    Mode::Hang,
                    Mode::FailAfterOrder,
                ] {
                    cluster.model.set(mode);
                    tokio::time::sleep(step).await;
                    cluster.model.set(Mode::Normal);
                    tokio::time::sleep(step).await;
                }
            },
        )
        .await,
    );

    results.push(
        run_case(
            &cluster,
            6,
            "every inbound delivered twice",
            Traffic {
                copies: 2,
                ..traffic()
            },
            async {},
        )
        .await,
    );

    results.push(
        run_case(
            &cluster,
            7,
            "ingress SIGKILL (lease moves)",
            traffic(),
            async {
                tokio::time::sleep(span / 4).await;
                let shop = cluster.shops[0];
                let holder = cluster
                    .holder_of(shop)
                    .await
                    .expect("a node holds the shop");
                cluster.kill(&holder);
                // Down longer than a lease (6 s) plus a scan: the other node must take the shop over.
                let moved = testkit::poll::within(Duration::from_secs(20), || async {
                    cluster.holder_of(shop).await.filter(|now| *now != holder)
                })
                .await;
                assert!(moved.is_some(), "the lease of the killed node moved");
                cluster.restart(&holder);
            },
        )
        .await,
    );

    conclude(cluster, results).await;
}

/// The growing-past-one-machine layout: three clustered NATS nodes with every stream replicated on all three.
/// One node is killed while messages flow and comes back later; the others keep the quorum.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_node_lost_in_a_three_node_cluster_loses_nothing_and_doubles_nothing() {
    let _alone = ONE_AT_A_TIME.lock().await;
    if !selected(8) {
        return;
    }
    let cluster = Cluster::start_on(Nats::Three(
        testkit::nats_cluster::NatsCluster::start().await,
    ))
    .await;
    println!(
        "three-node NATS cluster, R3 streams, logs in {}",
        cluster.logs.display()
    );
    println!("{}", header());
    let span = span();
    let results = vec![
        run_case(
            &cluster,
            8,
            "NATS node SIGKILL, back later (R3)",
            traffic(),
            async {
                tokio::time::sleep(span / 4).await;
                cluster.kill_nats_node(1).await;
                tokio::time::sleep(span / 3).await;
                cluster.restart_nats_node(1).await;
                tokio::time::sleep(span / 6).await;
                // And the first node, which the clients knew first.
                cluster.kill_nats_node(0).await;
                tokio::time::sleep(span / 6).await;
                cluster.restart_nats_node(0).await;
            },
        )
        .await,
    ];
    let mut inbound = async_nats::jetstream::new(cluster.nats.clone())
        .get_stream(cluster.subjects.inbound_stream())
        .await
        .expect("the inbound stream");
    let replicas = inbound
        .info()
        .await
        .expect("stream info")
        .config
        .num_replicas;
    assert_eq!(replicas, 3, "the services created the streams replicated");
    conclude(cluster, results).await;
}
