//! What the operator's tests share: a platform administrator who can also sign in to the dashboard, shop users
//! signing in again after a suspension, and customers writing to a shop on WhatsApp (published on the inbound
//! stream exactly as the ingress does).

use schemas::Channel;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Shop, TestApp};
use crate::web_support::{WebUser, csrf_of, location};

/// The password of the administrators these tests create.
pub const ADMIN_PASSWORD: &str = "mot-de-passe-admin-solide";
/// The password `TestApp::signup` gives shop owners.
pub const OWNER_PASSWORD: &str = "motdepasse-solide";

pub struct Admin {
    pub email: String,
    pub user_id: Uuid,
    pub token: String,
}

/// A platform administrator, as `tdjaasa admin create` makes one, signed in over REST.
pub async fn create_admin(app: &TestApp) -> Admin {
    let email = format!("admin-{}@tdjaasa.ci", Uuid::new_v4().simple());
    let hash = api::auth::hash_password(secrecy::SecretString::from(ADMIN_PASSWORD))
        .await
        .expect("hash");
    let mut tx = app.db.platform().await.expect("platform tx");
    let user_id = store::users::upsert_platform_admin(&mut tx, &email, &hash)
        .await
        .expect("admin");
    tx.commit().await.expect("commit");
    let token = login(app, &email, ADMIN_PASSWORD).await;
    Admin {
        email,
        user_id,
        token,
    }
}

/// A fresh API token (`POST /api/v1/auth/login`).
pub async fn login(app: &TestApp, email: &str, password: &str) -> String {
    let response = app.login(email, password).await;
    assert_eq!(response.status(), 200, "login of {email}");
    let body: Value = response.json().await.expect("json");
    body["token"].as_str().expect("token").to_owned()
}

/// The shop's owner signs in again (a suspension ended every earlier token).
pub async fn owner_again(app: &TestApp, shop: &Shop) -> Shop {
    Shop {
        token: login(app, &shop.email, OWNER_PASSWORD).await,
        ..shop.clone()
    }
}

/// A staff member of `shop` with a password, signed in over REST: (e-mail, token).
pub async fn staff_of(app: &TestApp, shop: &Shop) -> (String, String) {
    let email = format!("staff-{}@example.ci", Uuid::new_v4().simple());
    let hash = api::auth::hash_password(secrecy::SecretString::from(OWNER_PASSWORD))
        .await
        .expect("hash");
    sqlx::query(
        "insert into app_user (tenant_id, email, password_hash, role) values ($1, $2, $3, 'staff')",
    )
    .bind(shop.tenant_id)
    .bind(&email)
    .bind(&hash)
    .execute(&app.admin_db)
    .await
    .expect("staff member");
    let token = login(app, &email, OWNER_PASSWORD).await;
    (email, token)
}

/// `PATCH /api/v1/admin/tenants/{id}` that must succeed.
pub async fn set_status(app: &TestApp, admin: &Admin, shop: &Shop, status: &str, reason: &str) {
    let response = app
        .admin_update_tenant(
            &admin.token,
            shop.tenant_id,
            json!({ "status": status, "reason": reason }),
        )
        .await;
    assert_eq!(response.status(), 200, "{status} {}", shop.tenant_id);
}

/// A WhatsApp customer's message to the shop, published on the inbound stream as the ingress does.
pub async fn whatsapp_message(app: &TestApp, shop: &Shop, customer: &str, text: &str) -> String {
    let mut message = testkit::publish::customer_message(
        shop.tenant_id,
        Channel::Whatsapp,
        &format!("{customer}@s.whatsapp.net"),
        text,
    );
    message.customer_name = "Awa".into();
    testkit::publish::publish_inbound(&app.nats, &app.subjects, &message).await;
    message.wa_message_id
}

/// The stored message `wa_message_id` once the pipeline settled it (answered or skipped): (status, detail).
pub async fn settled(app: &TestApp, wa_message_id: &str) -> (String, String) {
    let what = format!("message {wa_message_id} settled by the pipeline");
    testkit::eventually(std::time::Duration::from_secs(15), &what, || async {
        sqlx::query_as::<_, (String, String)>(
            "select status, status_detail from message where wa_message_id = $1 and status <> 'pending'",
        )
        .bind(wa_message_id)
        .fetch_optional(&app.admin_db)
        .await
        .expect("message")
    })
    .await
}

/// Bot replies to the message `wa_message_id`.
pub async fn replies_to(app: &TestApp, wa_message_id: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from message r join message m on m.tenant_id = r.tenant_id and m.message_id = r.in_reply_to
         where m.wa_message_id = $1 and r.author = 'bot'",
    )
    .bind(wa_message_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("count")
}

/// The administrator signed in to the dashboard through the login page; lands on the operator's console.
pub async fn admin_web<'a>(app: &'a TestApp, admin: &Admin) -> WebUser<'a> {
    let mut web = WebUser::new(app);
    let page = web.get("/login?lang=fr").await;
    let token = csrf_of(&page.text().await.expect("body"));
    let response = web
        .post(
            "/login",
            &[
                ("_csrf", token.as_str()),
                ("email", admin.email.as_str()),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        location(&response),
        "/admin",
        "an administrator lands on the console"
    );
    web
}

/// The detail of the shop's only audit entry `action`.
pub async fn audit_detail(app: &TestApp, tenant_id: Uuid, action: &str) -> Value {
    sqlx::query_scalar("select detail from audit_log where tenant_id = $1 and action = $2")
        .bind(tenant_id)
        .bind(action)
        .fetch_one(&app.admin_db)
        .await
        .expect("audit entry")
}

/// `count` WhatsApp customer messages of `shop`, stored today as the pipeline stores them.
pub async fn whatsapp_free_messages(app: &TestApp, shop: &Shop, count: usize) {
    let chat_id: Uuid = sqlx::query_scalar(
        "insert into chat (tenant_id, channel, customer_jid) values ($1, 'whatsapp', '2250700000001') returning chat_id",
    )
    .bind(shop.tenant_id)
    .fetch_one(&app.admin_db)
    .await
    .expect("chat");
    for i in 0..count {
        sqlx::query(
            "insert into message (tenant_id, chat_id, direction, wa_message_id, body, status) values ($1, $2, 'inbound', $3, 'bonjour', 'answered')",
        )
        .bind(shop.tenant_id)
        .bind(chat_id)
        .bind(format!("wamid-{i}-{}", Uuid::new_v4().simple()))
        .execute(&app.admin_db)
        .await
        .expect("message");
    }
}
