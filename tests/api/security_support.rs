//! What the security suite (`security.rs`) is built from: the OpenAPI document read as a list of operations
//! with who may call each, request bodies made from the request schemas, the victim shop holding one object
//! of every kind a path can name, a snapshot of a shop's rows, forged credentials, and the dashboard's forms
//! read out of its pages the way a browser would submit them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, header};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::helpers::{Shop, TestApp};
use crate::web_support::{WebUser, csrf_of};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Strings only the victim's data contains: none may appear in an answer to anyone outside the shop.
pub const SECRET_PRODUCT: &str = "Pagne-Secret-Abobo";
pub const SECRET_SHOP: &str = "Friperie-Secrete-Abobo";
pub const SECRET_WORDS: &str = "mot-secret-du-client-abobo";
pub const SECRET_CUSTOMER: &str = "Client-Secret-Abobo";
pub const SECRET_ADDRESS: &str = "Rue-Secrete-Abobo";
pub const SECRET_RULES: &str = "Consigne-Secrete-Abobo";
const CUSTOMER_PHONE: &str = "2250700000077";

/// Who the document says may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// No credentials at all: sign-up, login, webhooks, health, the document, public pages.
    Public,
    /// Any member of the shop.
    Member,
    /// The shop's owners only.
    Owner,
    /// The platform operator only.
    Operator,
}

/// A request body for an operation.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Value),
    /// Another media type (a file upload): its type and bytes.
    Raw(String, Vec<u8>),
}

impl Body {
    /// How it shows in a report.
    pub fn describe(&self) -> String {
        match self {
            Body::Json(value) => value.to_string(),
            Body::Raw(kind, bytes) => format!("{kind}, {} bytes", bytes.len()),
        }
    }
}

/// One operation of the document.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Upper case, as sent.
    pub method: String,
    pub template: String,
    /// A dashboard page (tag `pages`): cookie session, HTML, redirects instead of 401.
    pub page: bool,
    pub access: Access,
    /// The body to send: the smallest valid one the request schema describes.
    pub body: Option<Body>,
    /// Its query parameters that name an object (`format: uuid`) or search free text.
    pub query: Vec<QueryParam>,
}

/// A query parameter worth filling in.
#[derive(Debug, Clone)]
pub enum QueryParam {
    /// An object's id (`payment`, `tenant_id`).
    Id(String),
    /// Free text: a search.
    Text(String),
}

impl Operation {
    pub fn is_read(&self) -> bool {
        self.method == "GET"
    }
}

/// Every operation of the document, with who may call it as the document says:
/// - an API operation with a security requirement (its own, or the document's default) needs a token; the
///   operator's console is the `admin` tag; an owner-only one documents a 403 "Not an owner" / "Not allowed
///   for this role" (a 403 only about suspension says nothing about roles);
/// - a page needs a session when it documents a redirect to `/login`; its 403 says whether owners or
///   platform administrators only may open it.
pub fn operations(doc: &Value) -> Vec<Operation> {
    let default_security = doc["security"].as_array().is_some_and(|s| !s.is_empty());
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let tags: Vec<&str> = op["tags"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let forbidden = op["responses"]["403"]["description"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            let page = tags.contains(&"pages");
            let access = if page {
                let redirect = op["responses"]["303"]["description"]
                    .as_str()
                    .unwrap_or_default();
                if !redirect.contains("`/login`") {
                    Access::Public
                } else if forbidden.contains("administrator") {
                    Access::Operator
                } else if forbidden.contains("owner") {
                    Access::Owner
                } else {
                    Access::Member
                }
            } else {
                let secured = match op.get("security").and_then(Value::as_array) {
                    Some(requirements) => !requirements.is_empty(),
                    None => default_security,
                };
                if !secured {
                    Access::Public
                } else if tags.contains(&"admin") || forbidden.contains("administrator") {
                    Access::Operator
                } else if forbidden.contains("owner") || forbidden.contains("role") {
                    Access::Owner
                } else {
                    Access::Member
                }
            };
            out.push(Operation {
                method: method.to_uppercase(),
                template: template.clone(),
                page,
                access,
                body: body_of(doc, op),
                query: query_of(op),
            });
        }
    }
    out
}

/// The query parameters of an operation that name an object or take free text (values listed as
/// "`a`, `b`", numbers and flags are left out: they select, they do not address).
fn query_of(op: &Value) -> Vec<QueryParam> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| {
            let name = p["name"].as_str()?.to_owned();
            let listed = p["description"]
                .as_str()
                .is_some_and(|d| d.starts_with('`'));
            match (type_of(&p["schema"]), p["schema"]["format"].as_str()) {
                ("string", Some("uuid")) => Some(QueryParam::Id(name)),
                ("string", None) if !listed => Some(QueryParam::Text(name)),
                _ => None,
            }
        })
        .collect()
}

/// A schema with its `$ref`s followed.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..10 {
        let Some(reference) = schema["$ref"].as_str() else {
            return schema;
        };
        let name = reference.rsplit('/').next().unwrap_or_default();
        schema = &doc["components"]["schemas"][name];
    }
    schema
}

/// The body an operation's request schema asks for, if any.
fn body_of(doc: &Value, op: &Value) -> Option<Body> {
    let content = op["requestBody"]["content"].as_object()?;
    if let Some(json) = content.get("application/json") {
        return Some(Body::Json(example(doc, &json["schema"], "")));
    }
    let (kind, _) = content.iter().next()?;
    Some(Body::Raw(kind.clone(), Vec::new()))
}

/// The schema's non-null type.
fn type_of(schema: &Value) -> &str {
    match &schema["type"] {
        Value::String(t) => t,
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema["properties"].is_object() => "object",
        _ => "",
    }
}

/// The first of the values a description lists as "`a`, `b` or `c`".
fn listed_value(description: &str) -> Option<&str> {
    let word = description.strip_prefix('`')?.split('`').next()?;
    (!word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
    .then_some(word)
}

/// A minimal valid value for a schema: its example or first listed value, required properties only.
pub fn example(doc: &Value, schema: &Value, name: &str) -> Value {
    let schema = resolve(doc, schema);
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(first) = schema["enum"].get(0) {
        return first.clone();
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = schema[combinator].get(0) {
            return example(doc, first, name);
        }
    }
    match type_of(schema) {
        "object" => {
            let mut object = Map::new();
            for required in schema["required"].as_array().into_iter().flatten() {
                let Some(property) = required.as_str() else {
                    continue;
                };
                let value = example(doc, &schema["properties"][property], property);
                object.insert(property.to_owned(), value);
            }
            Value::Object(object)
        }
        "array" => json!([]),
        "integer" | "number" => schema["minimum"]
            .as_i64()
            .map_or(json!(1), |min| json!(min.max(1))),
        "boolean" => json!(false),
        "string" => json!(string_example(schema, name)),
        _ => json!({}),
    }
}

fn string_example(schema: &Value, name: &str) -> String {
    let description = schema["description"].as_str().unwrap_or_default();
    if let Some(value) = listed_value(description) {
        return value.to_owned();
    }
    match schema["format"].as_str().unwrap_or_default() {
        "date-time" => return (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
        "password" => return "Cle-Intruse-7391-Abidjan".to_owned(),
        "email" => return fresh_email("intrus"),
        "uuid" => return Uuid::new_v4().to_string(),
        _ => {}
    }
    let lower = description.to_lowercase();
    if name == "email" {
        fresh_email("intrus")
    } else if lower.contains("phone") || lower.contains("number") {
        "2250701020304".to_owned()
    } else {
        "Texte de la suite de sécurité".to_owned()
    }
}

pub fn fresh_email(who: &str) -> String {
    format!("{who}-{}@example.ci", Uuid::new_v4().simple())
}

/// A value of a path parameter.
#[derive(Debug, Clone)]
pub struct Param {
    pub value: String,
    /// It names one of the victim's objects (a 2xx for someone else is a breach).
    pub owned: bool,
    /// Other ways to name the same object (a conversation's chat key): each gets its own calls.
    pub aliases: Vec<String>,
}

/// The first shop, its people and one object of every kind a path can name.
pub struct Victim {
    pub owner: Shop,
    pub staff: Shop,
    /// Path parameters, keyed by `segment before it/{param}` (`products/{id}`).
    pub params: BTreeMap<String, Param>,
    /// Distinctive texts of the shop: names, words, e-mails.
    pub texts: Vec<String>,
    /// The ids of its objects.
    pub ids: Vec<String>,
    /// What the staff member knows of themself (their e-mail, their id): not a secret to them.
    pub staff_own: Vec<String>,
}

impl Victim {
    /// `template` with the victim's ids (`alias` instead for the parameter `key`, when given); an error names
    /// a parameter the suite has no value for.
    pub fn path_of(&self, template: &str, alias: Option<(&str, &str)>) -> Result<String, String> {
        let segments: Vec<&str> = template.split('/').collect();
        let mut out = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            if segment.starts_with('{') {
                let key = format!("{}/{segment}", segments[i - 1]);
                match (self.params.get(&key), alias) {
                    (Some(_), Some((aliased, value))) if aliased == key => {
                        out.push(value.to_owned())
                    }
                    (Some(param), _) => out.push(param.value.clone()),
                    (None, _) => {
                        return Err(format!(
                            "{template}: the security suite has no value for the path parameter {key}; \
                             give the victim such an object in security_support::arrange"
                        ));
                    }
                }
            } else {
                out.push((*segment).to_owned());
            }
        }
        Ok(out.join("/"))
    }

    /// The operation's path with the victim's ids, and its query: the victim's ids for parameters that name
    /// an object (`payment` → `payments/{id}`, `tenant_id` → `tenants/{id}`; left out when the suite knows
    /// no such object), and the start of the victim's product name for a search (the whole name in an
    /// answer is then the victim's data, not an echo of the query).
    ///
    /// The first target uses each object's id; one more per alias of an object the path names.
    pub fn targets(&self, op: &Operation) -> Result<Vec<String>, String> {
        let mut paths = vec![self.path_of(&op.template, None)?];
        for (key, param) in &self.params {
            if op.template.contains(&format!("/{key}")) {
                for alias in &param.aliases {
                    paths.push(self.path_of(&op.template, Some((key, alias)))?);
                }
            }
        }
        let query = self.query_of(op);
        Ok(paths
            .into_iter()
            .map(|path| match query.is_empty() {
                true => path,
                false => format!("{path}?{}", query.join("&")),
            })
            .collect())
    }

    fn query_of(&self, op: &Operation) -> Vec<String> {
        let mut query = Vec::new();
        let mut searched = false;
        for param in &op.query {
            match param {
                QueryParam::Id(name) => {
                    let stem = name.trim_end_matches("_id");
                    if let Some(param) = self
                        .params
                        .iter()
                        .find(|(key, _)| key.starts_with(stem))
                        .map(|(_, p)| p)
                    {
                        query.push(format!("{name}={}", param.value));
                    }
                }
                // One search at a time: two would narrow each other down to nothing.
                QueryParam::Text(name) if !searched => {
                    let start = SECRET_PRODUCT.rsplit_once('-').map_or("", |(s, _)| s);
                    query.push(format!("{name}={start}"));
                    searched = true;
                }
                QueryParam::Text(_) => {}
            }
        }
        query
    }

    /// Whether a path or form action names one of the victim's objects.
    pub fn addresses_own_object(&self, path: &str) -> bool {
        self.params.values().filter(|p| p.owned).any(|p| {
            path.split(['/', '?', '&', '='])
                .any(|s| s == p.value || p.aliases.iter().any(|a| a == s))
        })
    }

    /// Every string that must not reach anyone outside the shop.
    pub fn markers(&self) -> impl Iterator<Item = &String> {
        self.texts.iter().chain(&self.ids)
    }

    /// The first marker `text` shows, ignoring those the request itself carried (an echo is no leak).
    pub fn leaked(&self, text: &str, request: &str) -> Option<String> {
        self.markers()
            .find(|m| text.contains(m.as_str()) && !request.contains(m.as_str()))
            .cloned()
    }

    /// `value` with the victim's texts replaced, so that replaying the victim's form as someone else does not
    /// plant the victim's secrets in the other account (ids stay: they are the point).
    pub fn scrub(&self, value: &str) -> String {
        self.texts.iter().fold(value.to_owned(), |v, text| {
            v.replace(text.as_str(), "Intrus")
        })
    }
}

/// Signs up the victim and gives it one of everything: a product, a customer's conversation, an order, a dead
/// letter, a payment, a staff member who joined, a pending invitation and bot instructions.
pub async fn arrange(app: &TestApp) -> Victim {
    let owner = app.signup_on(SECRET_SHOP, "business").await;
    let worker = crate::bot_support::start_offline_worker(app);
    let product = app
        .create_product_ok(
            &owner,
            json!({"name": SECRET_PRODUCT, "price_xof": 7777, "stock": 9}),
        )
        .await;
    let product_id = product["product_id"].as_str().expect("id").to_owned();
    let bot = json!({"bot_name": "Awa", "tone": "friendly", "language": "fr",
                     "instructions": format!("{SECRET_RULES} : remise pour les amis."),
                     "business_hours": [], "out_of_hours_message": ""});
    assert_eq!(app.replace_bot(&owner, bot).await.status(), 200, "bot");
    let said = app
        .simulate_message(
            &owner,
            json!({"from": CUSTOMER_PHONE, "name": SECRET_CUSTOMER, "text": SECRET_WORDS}),
        )
        .await;
    assert_eq!(said.status(), 202, "the customer writes");
    crate::bot_support::wait_for_replies(app, &owner, CUSTOMER_PHONE, 1).await;
    crate::bot_support::wait_until_inbound_acked(app).await;
    // Nothing runs for the victim behind the suite's back from now on.
    drop(worker);
    let chats: Value = app
        .list_conversations(&owner)
        .await
        .json()
        .await
        .expect("json");
    let chat_id = chats
        .as_array()
        .and_then(|c| c.iter().find(|c| c["customer_jid"] == CUSTOMER_PHONE))
        .and_then(|c| c["chat_id"].as_str())
        .expect("the customer's chat")
        .to_owned();

    let order_id = Uuid::new_v4();
    sqlx::query(
        "insert into customer_order (tenant_id, order_id, chat_id, order_ref, customer_name, delivery_address,
                                     total_xof, idempotency_key)
         values ($1, $2, $3::uuid, 'CMD-7Q4K2', $4, $5, 7777, 'security-suite')",
    )
    .bind(owner.tenant_id)
    .bind(order_id)
    .bind(&chat_id)
    .bind(SECRET_CUSTOMER)
    .bind(SECRET_ADDRESS)
    .execute(&app.admin_db)
    .await
    .expect("order");
    sqlx::query(
        "insert into order_item (tenant_id, order_id, line_no, product_id, product_name, unit_price_xof, quantity)
         values ($1, $2, 1, $3::uuid, $4, 7777, 1)",
    )
    .bind(owner.tenant_id)
    .bind(order_id)
    .bind(&product_id)
    .bind(SECRET_PRODUCT)
    .execute(&app.admin_db)
    .await
    .expect("order item");
    let dead_letter: Uuid = sqlx::query_scalar(
        "insert into dead_letter (tenant_id, subject, payload, reason, deliveries)
         values ($1, 'x', $2, 'test', 1) returning dead_letter_id",
    )
    .bind(owner.tenant_id)
    .bind(json!({ "text": SECRET_WORDS }))
    .fetch_one(&app.admin_db)
    .await
    .expect("dead letter");
    // A paid payment: its receipt page exists.
    let payment = app.pay_with_sandbox(&owner, "pro").await;
    let payment_id = payment["payment_id"].as_str().expect("payment").to_owned();
    let staff_email = fresh_email("staff-abobo");
    let (staff, staff_id) = crate::team::join(app, &owner, &staff_email, "staff").await;
    let invitee = fresh_email("invite-abobo");
    let invited = crate::team::invite(app, &owner, &invitee, "staff").await;
    assert_eq!(invited.status(), 201, "invitation");
    let invited: Value = invited.json().await.expect("json");
    let invitation_id = invited["invitation"]["invitation_id"]
        .as_str()
        .expect("invitation id")
        .to_owned();
    let owner_id = crate::team::owner_id(app, &owner).await;
    let slug: String = sqlx::query_scalar("select slug from tenant where tenant_id = $1")
        .bind(owner.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("slug");

    // A voice note in the shop's media store, its bytes carrying the customer's words.
    let media_id = Uuid::new_v4();
    let mut tx = app
        .db
        .tenant(store::TenantCtx::new(owner.tenant_id))
        .await
        .expect("tenant tx");
    let key = app.master_key.data_key(&mut tx).await.expect("data key");
    let voice = [b"OggS\0\x02".as_slice(), SECRET_WORDS.as_bytes()].concat();
    store::media::put(
        &mut tx,
        &key,
        &store::media::NewMedia {
            media_id,
            kind: schemas::MediaKind::Audio,
            mime: "audio/ogg",
            bytes: &voice,
            expires_at: None,
            product: None,
        },
    )
    .await
    .expect("media");
    tx.commit().await.expect("commit");

    let tenant = owner.tenant_id.to_string();
    let owned = [
        ("products/{id}", product_id.clone()),
        ("media/{media_id}", media_id.to_string()),
        ("orders/{id}", order_id.to_string()),
        ("conversations/{chat}", chat_id.clone()),
        ("dead-letters/{id}", dead_letter.to_string()),
        ("payments/{id}", payment_id.clone()),
        ("members/{id}", staff_id.to_string()),
        ("invitations/{id}", invitation_id.clone()),
        ("tenants/{id}", tenant.clone()),
    ];
    let mut params: BTreeMap<String, Param> = owned
        .iter()
        .map(|(k, v)| {
            let param = Param {
                value: v.clone(),
                owned: true,
                aliases: Vec::new(),
            };
            ((*k).to_owned(), param)
        })
        .collect();
    // A conversation is also named by its chat key (the customer's number).
    if let Some(chat) = params.get_mut("conversations/{chat}") {
        chat.aliases
            .push(schemas::Channel::Simulator.chat_key(CUSTOMER_PHONE));
    }
    // A step of the owner's onboarding: a page of the shop, not an object of it.
    params.insert(
        "onboarding/{step}".into(),
        Param {
            value: "bot".into(),
            owned: false,
            aliases: Vec::new(),
        },
    );
    let mut ids: Vec<String> = owned.into_iter().map(|(_, v)| v).collect();
    ids.push(owner_id.to_string());
    Victim {
        texts: vec![
            SECRET_PRODUCT.to_owned(),
            SECRET_SHOP.to_owned(),
            SECRET_WORDS.to_owned(),
            SECRET_CUSTOMER.to_owned(),
            SECRET_ADDRESS.to_owned(),
            SECRET_RULES.to_owned(),
            owner.email.clone(),
            staff_email.clone(),
            invitee,
            slug,
            CUSTOMER_PHONE.to_owned(),
        ],
        ids,
        staff_own: vec![staff_email, staff_id.to_string()],
        owner,
        staff,
        params,
    }
}

/// A stand-in for the ingress nodes that refuses every WhatsApp command at once (no phone in this suite), so
/// commands answer in milliseconds instead of waiting for a node; stops when dropped.
pub struct NoPhones(tokio::task::JoinHandle<()>);

impl Drop for NoPhones {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn no_phones(app: &TestApp) -> NoPhones {
    let nats = app.nats.clone();
    let mut commands = nats
        .subscribe(app.subjects.wa_commands_all())
        .await
        .expect("subscribe");
    nats.flush().await.expect("flush");
    NoPhones(tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(command) = commands.next().await {
            let reply = schemas::whatsapp::WaCommandReply {
                accepted: false,
                message: "Pas de téléphone dans la suite de sécurité.".into(),
                live: Vec::new(),
            };
            if let Some(inbox) = command.reply {
                let payload = serde_json::to_vec(&reply).expect("reply");
                let _ = nats.publish(inbox, payload.into()).await;
            }
        }
    }))
}

/// Columns that change with nobody asking: a session slides its expiry forward as its user comes back.
const MOVING_COLUMNS: [(&str, &str); 2] = [
    ("web_session", "last_seen_at"),
    ("web_session", "expires_at"),
];

/// Rows that go with nobody asking: the API's housekeeping deletes expired sessions (the suite keeps one to
/// sign in with) once a minute.
const SELF_EXPIRING: [(&str, &str); 1] = [("web_session", "expires_at > now()")];

/// Every row of the shop, as JSON text, in every table with a `tenant_id` (found in the catalogue, so a new
/// table is covered), read as the superuser past row-level security.
pub async fn snapshot(app: &TestApp, tenant_id: Uuid) -> BTreeMap<String, Vec<String>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select c.table_name::text from information_schema.columns c
         join information_schema.tables t using (table_schema, table_name)
         where c.table_schema = 'public' and c.column_name = 'tenant_id' and t.table_type = 'BASE TABLE'
         order by 1",
    )
    .fetch_all(&app.admin_db)
    .await
    .expect("tables");
    assert!(tables.len() > 10, "tenant tables: {tables:?}");
    let mut out = BTreeMap::new();
    for table in tables {
        let moving: Vec<String> = MOVING_COLUMNS
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, c)| (*c).to_owned())
            .collect();
        let live = SELF_EXPIRING
            .iter()
            .find(|(t, _)| *t == table)
            .map_or("true", |(_, condition)| condition);
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select (to_jsonb(t) - $2::text[])::text from {table} t where tenant_id = $1 and {live} order by 1"
        )))
        .bind(tenant_id)
        .bind(&moving)
        .fetch_all(&app.admin_db)
        .await
        .expect("rows");
        out.insert(table, rows);
    }
    out
}

/// What differs between two snapshots, a line per row.
pub fn changes(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    let tables: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for table in tables {
        let old: BTreeSet<&String> = before.get(table).into_iter().flatten().collect();
        let new: BTreeSet<&String> = after.get(table).into_iter().flatten().collect();
        for row in old.difference(&new) {
            out.push(format!("{table}: row gone or changed: {}", cut(row, 400)));
        }
        for row in new.difference(&old) {
            out.push(format!("{table}: row new or changed: {}", cut(row, 400)));
        }
    }
    out
}

pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Tokens that must all be refused with a 401: none, expired, forged in every way, and properly signed ones
/// whose claims no longer match the account (another shop's tenant, a raised role).
pub fn bad_tokens(
    app: &TestApp,
    victim: &Victim,
    intruder: &Shop,
) -> Vec<(&'static str, Option<String>)> {
    let keys = api::auth::TokenKeys::from_master_key(&app.master_key, 60);
    let secret = app.master_key.derive("tdjaasa/jwt/hs256/v1");
    let claims_of = |token: &str| -> Value {
        serde_json::to_value(keys.verify(token).expect("a valid token")).expect("claims")
    };
    let sign = |claims: &Value, key: &[u8]| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .expect("token")
    };
    let owner = claims_of(&victim.owner.token);
    let now = chrono::Utc::now().timestamp();

    let mut expired = owner.clone();
    expired["iat"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    let mut raised = owner.clone();
    raised["role"] = json!("platform_admin");
    let mut elsewhere = claims_of(&intruder.token);
    elsewhere["tid"] = json!(victim.owner.tenant_id);
    let mut promoted = claims_of(&victim.staff.token);
    promoted["role"] = json!("owner");

    let parts: Vec<&str> = victim.owner.token.split('.').collect();
    let raised_payload = URL_SAFE_NO_PAD.encode(raised.to_string());
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    vec![
        ("no token", None),
        ("expired token", Some(sign(&expired, &secret))),
        (
            "token with a changed payload",
            Some(format!("{}.{raised_payload}.{}", parts[0], parts[2])),
        ),
        (
            "alg:none token",
            Some(format!("{none_header}.{raised_payload}.")),
        ),
        (
            "token signed with another key",
            Some(sign(&owner, b"une-autre-cle-que-celle-de-la-plateforme")),
        ),
        (
            "signed token of another shop's owner claiming this shop",
            Some(sign(&elsewhere, &secret)),
        ),
        (
            "signed token of a staff member claiming the owner role",
            Some(sign(&promoted, &secret)),
        ),
        (
            "signed token of the owner claiming the operator role",
            Some(sign(&raised, &secret)),
        ),
        ("garbage token", Some("pas-un-jeton".to_owned())),
    ]
}

/// A dashboard sign-in: its cookie and the CSRF token its forms carry.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub cookie: Option<String>,
    pub csrf: String,
}

impl Browser {
    /// Signs `shop`'s user in on the login page; the CSRF token comes from `home`.
    pub async fn signed_in(app: &TestApp, shop: &Shop, home: &str) -> Self {
        let web = WebUser::signed_in(app, shop).await;
        Self::of(web, home).await
    }

    /// The session of a signed-in [`WebUser`].
    pub async fn of(mut web: WebUser<'_>, home: &str) -> Self {
        let csrf = csrf_of(&web.page(home).await);
        Browser {
            cookie: web.cookies.get(api::web::SESSION_COOKIE).cloned(),
            csrf,
        }
    }

    /// A browser carrying `cookie` as its session, signed in or not.
    pub fn with_cookie(cookie: Option<String>) -> Self {
        Browser {
            cookie,
            csrf: String::new(),
        }
    }
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: String,
    pub content_type: String,
    pub text: String,
}

impl Answer {
    pub fn success(&self) -> bool {
        (200..400).contains(&self.status) && !self.to_login()
    }

    pub fn to_login(&self) -> bool {
        (300..400).contains(&self.status) && self.location.starts_with("/login")
    }

    pub fn is_html(&self) -> bool {
        self.content_type.starts_with("text/html")
    }

    pub fn describe(&self) -> String {
        if self.location.is_empty() {
            self.status.to_string()
        } else {
            format!("{} to {}", self.status, self.location)
        }
    }
}

/// How a form is posted: with the session's CSRF token, another one, or none.
#[derive(Debug, Clone, Copy)]
pub enum Csrf<'a> {
    Own,
    Other(&'a str),
    Missing,
}

/// Sends requests the way the suite needs them: no redirects followed, streams read for a moment only.
pub struct Caller<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
}

impl<'a> Caller<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Caller { app, client }
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let location = header(header::LOCATION);
        let content_type = header(header::CONTENT_TYPE);
        // Live streams never end: what arrives within a moment is what they show.
        let text = tokio::time::timeout(Duration::from_millis(300), response.text())
            .await
            .map(Result::unwrap_or_default)
            .unwrap_or_default();
        Answer {
            status,
            location,
            content_type,
            text,
        }
    }

    /// An API call.
    pub async fn rest(&self, op: &Operation, path: &str, token: Option<&str>) -> Answer {
        let method = Method::from_bytes(op.method.as_bytes()).expect("method");
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        match &op.body {
            Some(Body::Json(body)) => request = request.json(body),
            Some(Body::Raw(kind, bytes)) => {
                request = request
                    .header(header::CONTENT_TYPE, kind)
                    .body(bytes.clone());
            }
            None => {}
        }
        Self::answer(request.send().await.expect("request sent")).await
    }

    /// A page, as `browser`.
    pub async fn page(&self, path: &str, browser: &Browser) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.app.address));
        if let Some(cookie) = &browser.cookie {
            request = request.header(
                header::COOKIE,
                format!("{}={cookie}", api::web::SESSION_COOKIE),
            );
        }
        Self::answer(request.send().await.expect("request sent")).await
    }

    /// A form posted as `browser`, with `fields` as filled in and the CSRF token `csrf` says.
    pub async fn post(
        &self,
        form: &Form,
        fields: &[(String, String)],
        browser: &Browser,
        csrf: Csrf<'_>,
    ) -> Answer {
        let token = match csrf {
            Csrf::Own => Some(browser.csrf.as_str()),
            Csrf::Other(token) => Some(token),
            Csrf::Missing => None,
        };
        let mut fields: Vec<(String, String)> = fields
            .iter()
            .filter(|(name, _)| name != "_csrf")
            .cloned()
            .collect();
        if let Some(token) = token {
            // The token first, as the pages put it (an upload is refused before its file is read).
            fields.insert(0, ("_csrf".to_owned(), token.to_owned()));
        }
        let mut request = self
            .client
            .post(format!("{}{}", self.app.address, form.action));
        if let Some(cookie) = &browser.cookie {
            request = request.header(
                header::COOKIE,
                format!("{}={cookie}", api::web::SESSION_COOKIE),
            );
        }
        request = if form.files.is_empty() {
            request.form(&fields)
        } else {
            let (kind, body) = multipart(&fields, &form.files);
            request.header(header::CONTENT_TYPE, kind).body(body)
        };
        Self::answer(request.send().await.expect("request sent")).await
    }
}

/// A `multipart/form-data` body: the fields, then each file input with a small CSV file.
fn multipart(fields: &[(String, String)], files: &[String]) -> (String, Vec<u8>) {
    let boundary = format!("suite{}", Uuid::new_v4().simple());
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    for name in files {
        body.push_str(&format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"; filename=\"catalogue.csv\"\r\n\
             content-type: text/csv\r\n\r\nnom,prix\nArticle importé,1000\n\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// A form of a page, as a browser would submit it.
#[derive(Debug, Clone)]
pub struct Form {
    /// The page it is on.
    pub page: String,
    pub action: String,
    /// Named fields with their values (the first option, the first submit button of each name).
    pub fields: Vec<(String, String)>,
    /// File inputs (the form is sent as `multipart/form-data`).
    pub files: Vec<String>,
}

/// The attributes of a tag (`<input name="x" value='y' checked>`), names lower-cased, entities decoded.
fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let inner = tag.trim_start_matches('<');
    let inner = inner.trim_end_matches('>').trim_end_matches('/');
    let mut rest = inner.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..end].to_ascii_lowercase();
        rest = rest[end..].trim_start();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let close = body.find(quote).unwrap_or(body.len());
                    (&body[..close], body.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let close = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..close], &after[close..])
                }
            };
            out.insert(name, unescape(value));
            rest = remaining;
        } else {
            out.insert(name, String::new());
        }
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every `method="post"` form of `html`, the page at `page`.
pub fn forms_in(page: &str, html: &str) -> Vec<Form> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..].find("<form").map(|i| i + from) {
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let end = lower[tag_end..]
            .find("</form")
            .map_or(html.len(), |i| i + tag_end);
        from = end;
        let form = attributes(&html[start..=tag_end]);
        if form.get("method").map(|m| m.to_ascii_lowercase()) != Some("post".into()) {
            continue;
        }
        let action = form
            .get("action")
            .filter(|a| !a.is_empty())
            .cloned()
            .unwrap_or_else(|| page.to_owned());
        let (fields, files) = fields_in(&html[tag_end + 1..end]);
        out.push(Form {
            page: page.to_owned(),
            action,
            fields,
            files,
        });
    }
    out
}

/// The named controls of a form's inside.
fn fields_in(html: &str) -> (Vec<(String, String)>, Vec<String>) {
    let lower = html.to_ascii_lowercase();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find('<').map(|i| i + at) {
        let Some(end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        at = end + 1;
        let tag = &html[start..=end];
        let kind = lower[start + 1..=end]
            .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let attrs = attributes(tag);
        let Some(name) = attrs.get("name").filter(|n| !n.is_empty()).cloned() else {
            continue;
        };
        let taken = fields.iter().any(|(n, _)| *n == name);
        let value = attrs.get("value").cloned().unwrap_or_default();
        match kind.as_str() {
            "input" => {
                let input = attrs
                    .get("type")
                    .map(|t| t.to_ascii_lowercase())
                    .unwrap_or_else(|| "text".into());
                match input.as_str() {
                    "file" => files.push(name),
                    "checkbox" | "radio" if !attrs.contains_key("checked") => {}
                    "submit" | "image" if taken => {}
                    "button" | "reset" => {}
                    _ if taken && input == "radio" => {}
                    _ => fields.push((name, value)),
                }
            }
            "button" => {
                let kind = attrs.get("type").map(|t| t.to_ascii_lowercase());
                if !taken && kind.as_deref() != Some("button") {
                    fields.push((name, value));
                }
            }
            "textarea" => {
                let close = lower[at..].find("</textarea").map_or(at, |i| i + at);
                fields.push((name, unescape(&html[at..close])));
                at = close;
            }
            "select" => {
                let close = lower[at..].find("</select").map_or(html.len(), |i| i + at);
                let options = &html[at..close];
                let mut chosen = None;
                let mut first = None;
                let options_lower = options.to_ascii_lowercase();
                let mut o = 0;
                while let Some(s) = options_lower[o..].find("<option").map(|i| i + o) {
                    let e = options_lower[s..]
                        .find('>')
                        .map_or(options.len(), |i| i + s);
                    let option = attributes(&options[s..=e.min(options.len() - 1)]);
                    let value = option.get("value").cloned().unwrap_or_default();
                    first.get_or_insert(value.clone());
                    if option.contains_key("selected") {
                        chosen.get_or_insert(value);
                    }
                    o = e;
                }
                fields.push((name, chosen.or(first).unwrap_or_default()));
                at = close;
            }
            _ => {}
        }
    }
    (fields, files)
}

/// The character an HTML character reference at the start of `text` stands for, and its length.
fn reference_at(text: &str) -> Option<(char, usize)> {
    let end = text.char_indices().take(12).find(|(_, c)| *c == ';')?.0;
    let name = &text[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = match name.strip_prefix('#')? {
                hex if hex.starts_with(['x', 'X']) => u32::from_str_radix(&hex[1..], 16).ok()?,
                decimal => decimal.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 1))
}

/// Whether `html` shows `text` as text: every `<`, `>` and `&` of it written as a character reference
/// (whatever its form: `&lt;`, `&#60;`, `&#x3c;`), quotes either way.
pub fn shows_as_text(html: &str, text: &str) -> bool {
    let matches_at = |start: usize| {
        let mut at = start;
        for c in text.chars() {
            let rest = &html[at..];
            if rest.starts_with('&')
                && let Some((decoded, len)) = reference_at(rest)
            {
                if decoded != c {
                    return false;
                }
                at += len;
                continue;
            }
            if matches!(c, '<' | '>' | '&') || !rest.starts_with(c) {
                return false;
            }
            at += c.len_utf8();
        }
        true
    };
    html.char_indices().any(|(i, _)| matches_at(i))
}
