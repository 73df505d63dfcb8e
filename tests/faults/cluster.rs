//! What a fault case runs on: a throwaway nats-server (or three-node cluster), a database of its own reached through a proxy that can
//! refuse it, the fake model, three paid shops with a linked (sandbox) number, and the product's own
//! processes — two `tdjaasa worker` and two `tdjaasa ingress` — started, killed and restarted like a
//! supervisor would.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use schemas::Subjects;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use testkit::nats_cluster::NatsCluster;
use testkit::nats_server::NatsServer;
use uuid::Uuid;

use crate::model::{Model, PRODUCT_ID};
use testkit::pg_proxy::PgProxy;

const POSTGRES: &str = "127.0.0.1:5432";
/// A fixed development master key (32 bytes, base64): every process must share one.
const MASTER_KEY: &str = "ZmF1bHQtc3VpdGUtbWFzdGVyLWtleS0zMi1ieXRlcyE=";
pub const SHOPS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Worker,
    Ingress,
}

/// One product process.
pub struct Process {
    role: Role,
    name: String,
    child: Option<Child>,
}

/// The NATS the processes run on.
pub enum Nats {
    Single(NatsServer),
    /// Three clustered nodes; the streams are replicated on all three (`NATS_REPLICAS=3`).
    Three(NatsCluster),
}

impl Nats {
    fn url(&self) -> String {
        match self {
            Nats::Single(server) => server.url(),
            Nats::Three(cluster) => cluster.url(),
        }
    }

    fn replicas(&self) -> usize {
        match self {
            Nats::Single(_) => 1,
            Nats::Three(_) => 3,
        }
    }
}

pub struct Cluster {
    nats_url: String,
    nats_replicas: usize,
    pub nats_server: tokio::sync::Mutex<Nats>,
    pub nats: async_nats::Client,
    pub subjects: Subjects,
    pub db: PgPool,
    pub proxy: PgProxy,
    pub model: Model,
    pub shops: Vec<Uuid>,
    database: String,
    /// The processes' logs, kept after the run (printed in the report).
    pub logs: PathBuf,
    processes: std::sync::Mutex<Vec<Process>>,
}

impl Cluster {
    /// On one throwaway nats-server.
    pub async fn start() -> Self {
        Self::start_on(Nats::Single(NatsServer::start().await)).await
    }

    pub async fn start_on(nats_server: Nats) -> Self {
        let nats_url = nats_server.url();
        let nats = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(nats_url.split(',').collect::<Vec<_>>())
            .await
            .expect("nats");
        let subjects = Subjects::with_prefix("faults").expect("prefix");
        let database = format!("tdj_faults_{}", Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("postgres://postgres@{POSTGRES}/postgres"))
            .await
            .expect("local PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {database}")))
            .execute(&admin)
            .await
            .expect("create database");
        let logs = tempfile::Builder::new()
            .prefix("tdjaasa-faults-")
            .tempdir()
            .expect("log dir")
            .keep();
        let migrate = Command::new(binary())
            .arg("migrate")
            .env(
                "DATABASE_URL",
                format!("postgres://postgres@{POSTGRES}/{database}"),
            )
            .env("TDJ_MASTER_KEY", MASTER_KEY)
            .stdout(Stdio::null())
            .status()
            .expect("tdjaasa migrate");
        assert!(migrate.success(), "migrations");
        let db = PgPoolOptions::new()
            .max_connections(4)
            .connect(&format!("postgres://postgres@{POSTGRES}/{database}"))
            .await
            .expect("suite database");
        let shops = create_shops(&db).await;
        let proxy = PgProxy::start(POSTGRES).await;
        let model = Model::start().await;
        let cluster = Self {
            nats_url,
            nats_replicas: nats_server.replicas(),
            nats_server: tokio::sync::Mutex::new(nats_server),
            nats,
            subjects,
            db,
            proxy,
            model,
            shops,
            database,
            logs,
            processes: std::sync::Mutex::new(Vec::new()),
        };
        for (role, name) in [
            (Role::Worker, "worker-1"),
            (Role::Worker, "worker-2"),
            (Role::Ingress, "ingress-1"),
            (Role::Ingress, "ingress-2"),
        ] {
            let mut process = Process {
                role,
                name: name.into(),
                child: None,
            };
            cluster.spawn(&mut process);
            cluster.processes().push(process);
        }
        cluster
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    fn spawn(&self, process: &mut Process) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(&process.name))
            .expect("log file");
        let err = log.try_clone().expect("log file");
        let subcommand = match process.role {
            Role::Worker => "worker",
            Role::Ingress => "ingress",
        };
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("metrics port");
        let child = Command::new(binary())
            .arg(subcommand)
            .envs(self.env(&process.name))
            .env("METRICS_ADDR", metrics.to_string())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("tdjaasa process");
        process.child = Some(child);
    }

    fn env(&self, name: &str) -> Vec<(&'static str, String)> {
        let database = &self.database;
        vec![
            (
                "DATABASE_URL",
                format!(
                    "postgres://postgres@127.0.0.1:{}/{database}",
                    self.proxy.port()
                ),
            ),
            ("DATABASE_STATEMENT_TIMEOUT_SECS", "5".into()),
            ("NATS_URL", self.nats_url.clone()),
            ("NATS_REPLICAS", self.nats_replicas.to_string()),
            // Streams sized for a test server, not a production disk.
            ("NATS_INBOUND_MAX_BYTES", (64u64 << 20).to_string()),
            ("NATS_OUTBOUND_MAX_BYTES", (16u64 << 20).to_string()),
            ("NATS_EVENTS_MAX_BYTES", (32u64 << 20).to_string()),
            ("NATS_PREFIX", "faults".into()),
            ("TDJ_MASTER_KEY", MASTER_KEY.into()),
            // The sandbox gateway is refused in production.
            ("TDJ_ENV", "development".into()),
            ("LOG_FORMAT", "json".into()),
            ("NO_COLOR", "1".into()),
            ("RUST_LOG", "warn,tdjaasa=info".into()),
            (
                "GEMINI_API_KEY",
                workers::llm::gemini::fake::FAKE_API_KEY.into(),
            ),
            (
                "GEMINI_MODEL",
                workers::llm::gemini::fake::FAKE_MODEL.into(),
            ),
            ("GEMINI_BASE_URL", self.model.base_url()),
            ("GEMINI_TIMEOUT_SECS", "2".into()),
            ("LLM_FALLBACK_AFTER_FAILURES", "0".into()),
            ("WORKER_TURN_DEADLINE_SECS", "4".into()),
            ("WORKER_CLAIM_TTL_SECS", "20".into()),
            ("WORKER_SWEEP_SECS", "1".into()),
            ("WORKER_STRANDED_AFTER_SECS", "2".into()),
            ("WHATSAPP_GATEWAY", "sandbox".into()),
            ("INGRESS_NODE_ID", name.into()),
            ("INGRESS_LEASE_TTL", "6s".into()),
            ("INGRESS_LEASE_MARGIN", "2s".into()),
            ("INGRESS_SCAN_INTERVAL", "1s".into()),
            ("INGRESS_SEND_RATE_PER_MINUTE", "6000".into()),
            ("INGRESS_SEND_BURST", "100".into()),
            ("INGRESS_TYPING_DELAY_MIN", "0ms".into()),
            ("INGRESS_TYPING_DELAY_MAX", "0ms".into()),
            ("INGRESS_TYPING_PER_CHAR", "0ms".into()),
            ("INGRESS_SEND_RETRY_BACKOFF", "500ms".into()),
            ("INGRESS_SEND_RETRIES", "10".into()),
        ]
    }

    fn processes(&self) -> std::sync::MutexGuard<'_, Vec<Process>> {
        self.processes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// SIGKILLs the process named `name` (no clean stop: a crash).
    pub fn kill(&self, name: &str) {
        let mut processes = self.processes();
        if let Some(process) = processes.iter_mut().find(|p| p.name == name) {
            process.kill();
        }
    }

    /// Starts the process named `name` again (killing it first if it runs), as a supervisor would.
    pub fn restart(&self, name: &str) {
        let mut processes = self.processes();
        if let Some(process) = processes.iter_mut().find(|p| p.name == name) {
            process.kill();
            self.spawn(process);
        }
    }

    /// The ingress node holding `shop`'s lease, if any.
    pub async fn holder_of(&self, shop: Uuid) -> Option<String> {
        let js = async_nats::jetstream::new(self.nats.clone());
        let kv = js.get_key_value(self.subjects.lease_bucket()).await.ok()?;
        let entry = kv.entry(shop.to_string()).await.ok()??;
        (entry.operation == async_nats::jetstream::kv::Operation::Put)
            .then(|| String::from_utf8_lossy(&entry.value).into_owned())
    }

    /// Restarts nats-server on the same port and store (one node of a cluster: the first).
    pub async fn restart_nats(&self) {
        match &mut *self.nats_server.lock().await {
            Nats::Single(server) => server.restart().await,
            Nats::Three(cluster) => cluster.restart(0).await,
        }
    }

    /// Kills node `i` of a three-node NATS (SIGKILL); nothing on a single server.
    pub async fn kill_nats_node(&self, i: usize) {
        if let Nats::Three(cluster) = &mut *self.nats_server.lock().await {
            cluster.kill(i);
        }
    }

    /// Starts node `i` of a three-node NATS again.
    pub async fn restart_nats_node(&self, i: usize) {
        if let Nats::Three(cluster) = &mut *self.nats_server.lock().await {
            cluster.restart(i).await;
        }
    }

    /// Every process still running: none exited on its own (recovery needs no restart).
    pub fn exited(&self) -> Vec<String> {
        let mut processes = self.processes();
        processes
            .iter_mut()
            .filter_map(|process| {
                let child = process.child.as_mut()?;
                let status = child.try_wait().ok()??;
                Some(format!("{} ({status})", process.name))
            })
            .collect()
    }

    pub async fn stop(self) {
        for process in self.processes().iter_mut() {
            process.kill();
        }
        self.db.close().await;
        if let Ok(admin) = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("postgres://postgres@{POSTGRES}/postgres"))
            .await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop database if exists {} with (force)",
                self.database
            )))
            .execute(&admin)
            .await;
        }
    }
}

impl Process {
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_tdjaasa")
}

/// Paid shops (Business plan, far from its reply limit) with a linked sandbox number and one product.
async fn create_shops(db: &PgPool) -> Vec<Uuid> {
    let mut shops = Vec::new();
    for n in 1..=SHOPS {
        let tenant_id = Uuid::new_v4();
        for statement in [
            "insert into tenant (tenant_id, name, slug, plan_code) values ($1, 'Boutique ' || $2, 'boutique-' || $2, 'business')",
            "insert into subscription (tenant_id, plan_code, status, expires_at) values ($1, 'business', 'active', now() + interval '30 days')",
            "insert into whatsapp_session (tenant_id, status, phone_number) values ($1, 'connected', '22507000000' || $2)",
        ] {
            sqlx::query(statement)
                .bind(tenant_id)
                .bind(format!("{n:02}"))
                .execute(db)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        sqlx::query(
            "insert into product (tenant_id, product_id, name, price_xof, stock) values ($1, $2::uuid, 'Robe wax', 15000, null)",
        )
        .bind(tenant_id)
        .bind(PRODUCT_ID)
        .execute(db)
        .await
        .expect("product");
        shops.push(tenant_id);
    }
    shops
}
