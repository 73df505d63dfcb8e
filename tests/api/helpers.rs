//! `spawn_app`: the API on a random port, over a test database and its own NATS namespace.

use api::auth::TokenKeys;
use api::{ApiConfig, AppState, Application};
use reqwest::{Method, Response};
use schemas::Subjects;
use serde_json::{Value, json};
use sqlx::PgPool;
use store::crypto::MasterKey;
use testkit::nats::Namespace;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

mod requests;

pub use requests::Bearer;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Superuser pool of the test database: for arranging and asserting, bypasses RLS.
    pub admin_db: PgPool,
    /// The app-role pool the API itself uses.
    pub db: store::Db,
    pub master_key: MasterKey,
    pub nats: async_nats::Client,
    pub subjects: Subjects,
    /// The running API's state: for driving its periodic passes (refunds) from a test.
    pub state: AppState,
    shutdown: CancellationToken,
    /// This test's NATS streams, deleted when the app is dropped.
    _namespace: Namespace,
}

/// A signed-up shop.
#[derive(Debug, Clone)]
pub struct Shop {
    pub token: String,
    pub tenant_id: Uuid,
    pub email: String,
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with(pool, |_| {}).await
}

/// Traces every span as the binary does (so trace context crosses the queue), and logs to the test output when
/// `TEST_LOG` is set (quiet otherwise).
fn init_test_logging() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let traces = tracing_opentelemetry::layer().with_tracer(provider.tracer("tests"));
        let logs = std::env::var_os("TEST_LOG").is_some().then(|| {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(filter)
        });
        let _ = tracing_subscriber::registry()
            .with(traces)
            .with(logs)
            .try_init();
    });
}

pub async fn spawn_app_with(pool: PgPool, configure: impl FnOnce(&mut ApiConfig)) -> TestApp {
    let mut config = ApiConfig::for_tests();
    configure(&mut config);
    spawn(pool, config, api::billing::BillingConfig::for_tests()).await
}

/// The API over the test database (app role, a larger pool for concurrent webhook tests) and a fresh NATS
/// namespace, with the given settings.
async fn spawn(
    pool: PgPool,
    config: ApiConfig,
    billing_config: api::billing::BillingConfig,
) -> TestApp {
    init_test_logging();
    let db = testkit::db::app_db_sized(&pool, 20).await;
    let namespace = Namespace::new().await;
    let (nats, subjects) = (namespace.client.clone(), namespace.subjects.clone());

    let master_key = MasterKey::generate();
    let tokens = TokenKeys::from_master_key(&master_key, config.jwt_ttl_minutes);
    let billing = api::billing::Billing::from_config(&billing_config, &master_key, false)
        .expect("billing config");
    let state = AppState::new(db.clone(), nats.clone(), subjects.clone(), config, tokens)
        .with_billing(billing)
        .with_master_key(master_key.clone());
    let app = Application::build(state.clone()).await.expect("bind");
    let address = format!("http://127.0.0.1:{}", app.port());
    let shutdown = CancellationToken::new();
    let stopped = shutdown.clone();
    tokio::spawn(app.run_until_stopped(async move { stopped.cancelled().await }));

    TestApp {
        address,
        client: reqwest::Client::new(),
        admin_db: pool,
        db,
        master_key,
        nats,
        subjects,
        state,
        shutdown,
        _namespace: namespace,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The namespace's streams go when `_namespace` drops, after this.
        self.shutdown.cancel();
    }
}

impl TestApp {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// Signs a shop up on `plan` and returns its owner's token.
    pub async fn signup_on(&self, business_name: &str, plan: &str) -> Shop {
        let email = format!("{}@example.ci", Uuid::new_v4().simple());
        let response = self
            .request(
                Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(json!({ "business_name": business_name, "email": email, "password": "motdepasse-solide", "plan": plan })),
            )
            .await;
        assert_eq!(response.status(), 201, "signup of {business_name}");
        let body: Value = response.json().await.expect("json");
        Shop {
            token: body["token"].as_str().expect("token").to_owned(),
            tenant_id: body["tenant_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("tenant id"),
            email,
        }
    }

    pub async fn signup(&self, business_name: &str) -> Shop {
        self.signup_on(business_name, "pro").await
    }

    /// Creates a product and returns its JSON.
    pub async fn create_product_ok(&self, shop: &Shop, body: Value) -> Value {
        let response = self.create_product(shop, body).await;
        assert_eq!(response.status(), 201, "product creation");
        response.json().await.expect("json")
    }

    /// Rows of a tenant table, counted as the superuser (bypassing RLS).
    pub async fn count(&self, table: &str, tenant_id: Uuid) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {table} where tenant_id = $1"
        )))
        .bind(tenant_id)
        .fetch_one(&self.admin_db)
        .await
        .expect("count")
    }
}

/// The `error.code` of a JSON error response.
pub async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.expect("json error body");
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned()
}

// Billing helpers (appended for the billing and admin tests).

/// Webhook signing secrets the billing tests configure for Wave and Stripe.
pub const WAVE_WEBHOOK_SECRET: &str = "wave_ci_WHS_test_secret";
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_test_secret";

/// The API with billing configured by `configure` (starting from the keyless sandbox default), and a pool
/// large enough for bursts of concurrent webhooks.
pub async fn spawn_billing_app(
    pool: PgPool,
    configure: impl FnOnce(&mut api::billing::BillingConfig),
) -> TestApp {
    let mut billing_config = api::billing::BillingConfig::for_tests();
    configure(&mut billing_config);
    spawn(pool, ApiConfig::for_tests(), billing_config).await
}

/// Local fake providers, and the API configured to use them (sandbox too).
pub struct Fakes {
    pub wave: api::billing::fakes::FakeProvider,
    pub orange_money: api::billing::fakes::FakeProvider,
    pub stripe: api::billing::fakes::FakeProvider,
}

pub async fn spawn_app_with_fake_providers(pool: PgPool) -> (TestApp, Fakes) {
    use api::billing::fakes::FakeProvider;
    use secrecy::SecretString;
    let fakes = Fakes {
        wave: FakeProvider::wave().await,
        orange_money: FakeProvider::orange_money().await,
        stripe: FakeProvider::stripe().await,
    };
    let app = spawn_billing_app(pool, |c| {
        c.wave_api_key = Some(SecretString::from("wave_ci_prod_test_key"));
        c.wave_webhook_secret = Some(SecretString::from(WAVE_WEBHOOK_SECRET));
        c.wave_base_url = fakes.wave.base_url.clone();
        c.orange_money_client_id = Some("om-client".into());
        c.orange_money_client_secret = Some(SecretString::from("om-client-secret"));
        c.orange_money_merchant_key = Some(SecretString::from("a86b2087"));
        c.orange_money_base_url = fakes.orange_money.base_url.clone();
        c.stripe_secret_key = Some(SecretString::from("sk_test_key"));
        c.stripe_webhook_secret = Some(SecretString::from(STRIPE_WEBHOOK_SECRET));
        c.stripe_base_url = fakes.stripe.base_url.clone();
    })
    .await;
    (app, fakes)
}

impl TestApp {
    /// `POST /api/v1/billing/checkout`, with an optional `Idempotency-Key`.
    pub async fn checkout(
        &self,
        shop: &Shop,
        plan: &str,
        provider: &str,
        idempotency_key: Option<&str>,
    ) -> Response {
        let mut request = self
            .client
            .post(format!("{}/api/v1/billing/checkout", self.address))
            .bearer_auth(&shop.token)
            .json(&json!({ "plan": plan, "provider": provider }));
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.expect("request sent")
    }

    /// A checkout that must succeed; returns its JSON.
    pub async fn checkout_ok(&self, shop: &Shop, plan: &str, provider: &str) -> Value {
        let response = self.checkout(shop, plan, provider, None).await;
        assert!(
            response.status().is_success(),
            "checkout {plan}/{provider}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    /// POSTs raw bytes with the given headers (webhooks).
    pub async fn post_raw(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.expect("request sent")
    }

    /// Pays a sandbox checkout through its page's Approve button.
    pub async fn pay_with_sandbox(&self, shop: &Shop, plan: &str) -> Value {
        let checkout = self.checkout_ok(shop, plan, "sandbox").await;
        let id = checkout["payment_id"].as_str().expect("payment id");
        let response = self
            .client
            .post(format!("{}/billing/sandbox/{id}/approve", self.address))
            .send()
            .await
            .expect("approve");
        assert_eq!(response.status(), 200, "sandbox approval");
        checkout
    }

    /// The subscription's status and expiry, read as the superuser.
    pub async fn subscription_state(
        &self,
        tenant_id: Uuid,
    ) -> (String, Option<chrono::DateTime<chrono::Utc>>) {
        sqlx::query_as("select status, expires_at from subscription where tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&self.admin_db)
            .await
            .expect("subscription")
    }

    /// A payment's status, read as the superuser.
    pub async fn payment_status(&self, payment_id: &str) -> String {
        sqlx::query_scalar("select status from payment where payment_id = $1::uuid")
            .bind(payment_id)
            .fetch_one(&self.admin_db)
            .await
            .expect("payment")
    }

    /// The audit actions of a tenant, oldest first.
    pub async fn audit_actions(&self, tenant_id: Uuid) -> Vec<String> {
        sqlx::query_scalar("select action from audit_log where tenant_id = $1 order by audit_id")
            .bind(tenant_id)
            .fetch_all(&self.admin_db)
            .await
            .expect("audit")
    }

    /// Creates a platform administrator (as `tdjaasa admin create` does) and logs in.
    pub async fn platform_admin_token(&self) -> String {
        let email = format!("admin-{}@tdjaasa.ci", Uuid::new_v4().simple());
        let password = "mot-de-passe-admin-solide";
        let hash = api::auth::hash_password(secrecy::SecretString::from(password))
            .await
            .expect("hash");
        let mut tx = self.db.platform().await.expect("platform tx");
        store::users::upsert_platform_admin(&mut tx, &email, &hash)
            .await
            .expect("admin");
        tx.commit().await.expect("commit");
        let response = self
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": email, "password": password })),
            )
            .await;
        assert_eq!(response.status(), 200, "admin login");
        let body: Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }
}
