//! The customer's pay page, public: `GET /pay/{token}` shows the shop, the order, its total and the method;
//! `POST /pay/{token}` opens the provider's checkout once — Wave Checkout or an Orange Money web payment, with
//! the shop's own credentials — (a recorded checkout is reused, so a second tap or a reload leads to the same
//! one) and sends the customer there. The sandbox's links show a local test page
//! instead (`POST /pay/{token}/sandbox/{pay,refuse}`), settled like the Wave webhook settles a payment.
//! The token is the only credential: no session, no CSRF token (nothing here acts for a signed-in user).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use schemas::billing::{OrderPaymentStatus, Provider};
use schemas::commerce::OrderStatus;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use store::order_payments::{self, Checkout, OrderPayment, Settled};
use store::orders::{self, Order};
use store::shop_payments::{self, Credentials, MerchantProvider};
use store::{TenantCtx, tenants};
use uuid::Uuid;

use super::check::{Asker, LinkState};
use super::{francs, method_label, settle};
use crate::AppState;
use crate::billing::providers::orange_money::WebPayment;
use crate::billing::providers::{CheckoutRequest, CheckoutSession, PaymentProvider, ProviderError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pay/{token}", get(show).post(pay))
        .route("/pay/{token}/sandbox/pay", post(sandbox_pay))
        .route("/pay/{token}/sandbox/refuse", post(sandbox_refuse))
}

const NOT_FOUND: &str = "Lien de paiement introuvable.";
const ALREADY_PAID: &str = "Commande déjà payée, merci !";
const EXPIRED: &str = "Ce lien a expiré : demandez un nouveau lien dans la conversation WhatsApp.";
const TRY_AGAIN: &str = "Une erreur est survenue, réessayez dans un instant.";

struct ItemView {
    name: String,
    quantity: i32,
    line: String,
}

struct OrderView {
    reference: String,
    items: Vec<ItemView>,
    delivery: Option<String>,
    total: String,
    method: &'static str,
}

#[derive(askama::Template)]
#[template(path = "pay.html")]
struct PayTemplate {
    heading: String,
    shop: String,
    token: String,
    order: Option<OrderView>,
    notice: Option<String>,
    error: Option<String>,
    /// "Payer 15 000 F avec Wave", when the link can be paid at a provider.
    pay_button: Option<String>,
    /// The sandbox's Pay / Refuse buttons.
    sandbox: bool,
}

impl PayTemplate {
    fn bare(heading: &str, token: &str) -> Self {
        PayTemplate {
            heading: heading.to_owned(),
            shop: String::new(),
            token: token.to_owned(),
            order: None,
            notice: None,
            error: None,
            pay_button: None,
            sandbox: false,
        }
    }

    fn respond(self, status: StatusCode) -> Response {
        match askama::Template::render(&self) {
            Ok(body) => (status, Html(body)).into_response(),
            Err(e) => {
                tracing::error!(error.message = %e, "pay page template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, TRY_AGAIN).into_response()
            }
        }
    }
}

fn not_found() -> Response {
    PayTemplate::bare(NOT_FOUND, "").respond(StatusCode::NOT_FOUND)
}

/// An unexpected failure (database, key): logged here, a plain French page for the customer.
fn failed(e: impl Into<crate::Error>) -> Response {
    let e: crate::Error = e.into();
    tracing::error!(error.cause_chain = ?e, error.message = %e, "pay page failed");
    PayTemplate::bare(TRY_AGAIN, "").respond(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A link, its order and its shop, as the page shows them.
struct Loaded {
    tenant_id: Uuid,
    link: OrderPayment,
    order: Order,
    shop: String,
    /// The shop still takes the link's method: an enabled account at its provider (always true for the
    /// sandbox).
    has_account: bool,
}

/// Where a link stands for the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Payable,
    Paid,
    Cancelled,
    /// Delivered unpaid (paid otherwise): nothing left to pay online.
    Closed,
    Expired,
}

impl Loaded {
    fn standing(&self) -> Standing {
        if self.order.status == OrderStatus::Cancelled {
            Standing::Cancelled
        } else if self.link.status == OrderPaymentStatus::Paid || self.order.paid_at.is_some() {
            Standing::Paid
        } else if self.order.status == OrderStatus::Delivered {
            Standing::Closed
        } else if self.link.status != OrderPaymentStatus::Pending
            || self.link.expires_at <= Utc::now()
        {
            Standing::Expired
        } else {
            Standing::Payable
        }
    }

    /// The page with the order, before its state is added.
    fn template(&self, token: &str, heading: &str) -> PayTemplate {
        let order = &self.order;
        PayTemplate {
            heading: heading.to_owned(),
            shop: self.shop.clone(),
            token: token.to_owned(),
            order: Some(OrderView {
                reference: order.order_ref.clone(),
                items: order
                    .items
                    .iter()
                    .map(|i| ItemView {
                        name: i.product_name.clone(),
                        quantity: i.quantity,
                        line: francs(i.unit_price_xof.get().saturating_mul(i64::from(i.quantity))),
                    })
                    .collect(),
                delivery: (order.delivery_fee_xof.get() > 0)
                    .then(|| francs(order.delivery_fee_xof.get())),
                total: francs(self.link.amount_xof.get()),
                method: method_label(self.link.provider),
            }),
            notice: None,
            error: None,
            pay_button: None,
            sandbox: false,
        }
    }
}

/// A token is URL-safe base64 of 32 bytes: anything else is not looked up.
fn plausible(token: &str) -> bool {
    (20..=100).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn load(state: &AppState, token: &str) -> crate::Result<Option<Loaded>> {
    if !plausible(token) {
        return Ok(None);
    }
    let mut platform = state.db.platform().await?;
    let found = order_payments::by_token(&mut platform, token).await?;
    platform.commit().await?;
    let Some((tenant_id, link)) = found else {
        return Ok(None);
    };
    let mut tx = state.db.tenant(TenantCtx::new(tenant_id)).await?;
    let order = orders::get(&mut tx, link.order_id).await?;
    let shop = tenants::get(&mut tx).await?.name;
    let has_account = match merchant(link.provider) {
        Some(provider) => shop_payments::settings(&mut tx)
            .await?
            .account(provider)
            .is_some_and(|a| a.enabled),
        None => true,
    };
    tx.commit().await?;
    Ok(Some(Loaded {
        tenant_id,
        link,
        order,
        shop,
        has_account,
    }))
}

fn merchant(provider: Provider) -> Option<MerchantProvider> {
    match provider {
        Provider::Wave => Some(MerchantProvider::Wave),
        Provider::OrangeMoney => Some(MerchantProvider::OrangeMoney),
        Provider::Stripe | Provider::Sandbox => None,
    }
}

/// The page for `loaded` as it stands: the order and either its state or the way to pay.
fn page_of(state: &AppState, loaded: &Loaded, token: &str) -> (StatusCode, PayTemplate) {
    let paid_heading = "Paiement de votre commande";
    let mut page = loaded.template(token, paid_heading);
    match loaded.standing() {
        Standing::Paid => page.notice = Some(ALREADY_PAID.into()),
        Standing::Cancelled => {
            page.notice = Some(if loaded.order.paid_at.is_some() {
                "Cette commande a été annulée : la boutique va vous rembourser votre paiement."
                    .into()
            } else {
                "Cette commande a été annulée : il n'y a rien à payer.".into()
            });
        }
        Standing::Closed => {
            page.notice =
                Some("Cette commande est close : il n'y a plus rien à payer en ligne.".into());
        }
        Standing::Expired => page.error = Some(EXPIRED.into()),
        Standing::Payable => match loaded.link.provider {
            Provider::Sandbox if state.billing.sandbox.is_some() => page.sandbox = true,
            Provider::Wave | Provider::OrangeMoney if loaded.has_account => {
                page.pay_button = Some(format!(
                    "Payer {} avec {}",
                    francs(loaded.link.amount_xof.get()),
                    method_label(loaded.link.provider)
                ));
            }
            Provider::Wave | Provider::OrangeMoney => {
                page.error = Some(format!(
                    "La boutique n'accepte plus le paiement par {} : demandez un autre moyen de paiement \
                     dans la conversation WhatsApp.",
                    method_label(loaded.link.provider)
                ));
                return (StatusCode::CONFLICT, page);
            }
            Provider::Sandbox | Provider::Stripe => {
                page.error = Some(
                    "Ce moyen de paiement n'est pas disponible : demandez un nouveau lien dans la \
                     conversation WhatsApp."
                        .into(),
                );
                return (StatusCode::CONFLICT, page);
            }
        },
    }
    (StatusCode::OK, page)
}

/// The customer's pay page.
#[utoipa::path(get, path = "/pay/{token}", operation_id = "orderPayPage", tag = "pages",
    params(("token" = String, Path, description = "The secret of the link the bot sent in the chat")),
    responses(crate::openapi::pages::PublicPage,
              (status = 404, body = String, content_type = "text/html", description = "Unknown link"),
              (status = 409, body = String, content_type = "text/html", description = "The shop no longer takes this method")))]
pub(crate) async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let loaded = match load(&state, &token).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return not_found(),
        Err(e) => return failed(e),
    };
    let loaded = match returned_from_checkout(&state, &loaded).await {
        Ok(true) => match load(&state, &token).await {
            Ok(Some(again)) => again,
            Ok(None) => return not_found(),
            Err(e) => return failed(e),
        },
        Ok(false) => loaded,
        Err(e) => {
            // The page still shows what is known; the provider's notification settles the link.
            tracing::warn!(error.message = %e, "pay page could not ask the provider");
            loaded
        }
    };
    let (status, page) = page_of(&state, &loaded, &token);
    page.respond(status)
}

/// The provider sends the customer back here after paying (`success_url`, `return_url`), usually before its
/// notification arrives: for a payable link whose checkout was opened, the provider is asked (a payment found
/// is settled), so the customer sees "déjà payée" rather than the pay button again. `true` when it settled.
async fn returned_from_checkout(state: &AppState, loaded: &Loaded) -> crate::Result<bool> {
    let opened = loaded.link.provider_ref.is_some()
        && matches!(loaded.link.provider, Provider::Wave | Provider::OrangeMoney);
    if !opened || loaded.standing() != Standing::Payable {
        return Ok(false);
    }
    let mut asker = Asker::new(state, TenantCtx::new(loaded.tenant_id));
    Ok(asker.ask(&loaded.link).await? == LinkState::Paid)
}

/// Opens the provider's checkout once and sends the customer there.
async fn pay(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let loaded = match load(&state, &token).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return not_found(),
        Err(e) => return failed(e),
    };
    let (status, mut page) = page_of(&state, &loaded, &token);
    let method = method_label(loaded.link.provider);
    if page.pay_button.is_none() {
        // Paid, expired, the sandbox's page, or no account: the page says it.
        return page.respond(status);
    }
    match open_checkout(&state, &loaded, &token).await {
        Ok(Opened::Checkout(url)) => Redirect::to(&url).into_response(),
        Ok(Opened::Settled) => match load(&state, &token).await {
            Ok(Some(again)) => {
                let (status, page) = page_of(&state, &again, &token);
                page.respond(status)
            }
            Ok(None) => not_found(),
            Err(e) => failed(e),
        },
        Ok(Opened::NoAccount) => {
            page.pay_button = None;
            page.error = Some(format!(
                "La boutique n'accepte plus le paiement par {method} : demandez un autre moyen de \
                 paiement dans la conversation WhatsApp."
            ));
            page.respond(StatusCode::CONFLICT)
        }
        Ok(Opened::ProviderDown) => {
            page.error = Some(format!(
                "{method} ne répond pas, réessayez dans un instant."
            ));
            page.respond(StatusCode::BAD_GATEWAY)
        }
        Err(e) => failed(e),
    }
}

enum Opened {
    /// The provider's page (new, or the one recorded before).
    Checkout(String),
    /// Paid or expired meanwhile.
    Settled,
    NoAccount,
    ProviderDown,
}

/// The link's checkout: the recorded one, else a new one opened with the shop's own credentials, recorded.
/// The link's row stays locked during the (time-limited) call, so two taps at once open one checkout, not two
/// a customer could both pay.
async fn open_checkout(state: &AppState, loaded: &Loaded, token: &str) -> crate::Result<Opened> {
    let id = loaded.link.order_payment_id;
    let mut tx = state.db.tenant(TenantCtx::new(loaded.tenant_id)).await?;
    let link = order_payments::lock(&mut tx, id).await?;
    if link.status != OrderPaymentStatus::Pending || link.expires_at <= Utc::now() {
        tx.commit().await?;
        return Ok(Opened::Settled);
    }
    if let Some(url) = link.checkout_url {
        tx.commit().await?;
        return Ok(Opened::Checkout(url));
    }
    let Some(provider) = merchant(link.provider) else {
        tx.commit().await?;
        return Ok(Opened::NoAccount);
    };
    let key = state.master_key()?.data_key(&mut tx).await?;
    let Some(credentials) = shop_payments::credentials(&mut tx, &key, provider).await? else {
        tx.commit().await?;
        return Ok(Opened::NoAccount);
    };
    let base = &state.urls.billing;
    let back = format!("{base}/pay/{token}");
    let description = format!("Commande {} · {}", loaded.order.order_ref, loaded.shop);
    let amount_xof = link.amount_xof.get();
    // Orange Money's order id: unique per attempt (Orange refuses a reused one, even after a timeout), kept
    // as the link's provider reference for its status API.
    let om_order_id = orange_order_id(id);
    let opened: Result<CheckoutSession, ProviderError> = match credentials {
        Credentials::Wave(c) => {
            let wave = state.billing.merchant_wave(c.api_key, c.webhook_secret);
            let request = CheckoutRequest {
                payment_id: id,
                amount_xof,
                description,
                success_url: back.clone(),
                error_url: back,
                public_url: base.clone(),
            };
            wave.create_checkout(&request).await
        }
        Credentials::OrangeMoney(c) => {
            let om = state.billing.merchant_orange_money(
                c.client_id.expose_secret().to_owned(),
                c.client_secret,
                c.merchant_key,
            );
            let notif_url = format!(
                "{base}/api/v1/webhooks/shops/{}/orange-money",
                loaded.tenant_id
            );
            om.open_web_payment(&WebPayment {
                order_id: &om_order_id,
                amount_xof,
                return_url: &back,
                cancel_url: &back,
                notif_url: &notif_url,
                reference: &loaded.shop,
            })
            .await
        }
    };
    let session = match opened {
        Ok(session) => session,
        Err(e) => {
            tracing::warn!(order_payment_id = %id, provider = %link.provider.as_str(), reason = e.kind(),
                error.message = %e, "the shop's checkout could not be opened");
            return Ok(Opened::ProviderDown);
        }
    };
    let notif_token_hash = session
        .notif_token
        .as_ref()
        .map(|t| Sha256::digest(t.expose_secret().as_bytes()).to_vec());
    let provider_ref = match link.provider {
        Provider::OrangeMoney => om_order_id.as_str(),
        _ => session.provider_ref.as_deref().unwrap_or_default(),
    };
    order_payments::record_checkout(
        &mut tx,
        id,
        &Checkout {
            provider_ref,
            checkout_url: &session.checkout_url,
            pay_token: session.pay_token.as_deref(),
            notif_token_hash: notif_token_hash.as_deref(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Opened::Checkout(session.checkout_url))
}

/// A fresh Orange Money order id for link `link_id`: 22 characters of the link's id, then 8 random ones
/// (Orange allows 30).
fn orange_order_id(link_id: Uuid) -> String {
    let link = link_id.simple().to_string();
    let attempt = Uuid::new_v4().simple().to_string();
    format!("{}{}", &link[..22], &attempt[..8])
}

/// The sandbox link of `token`, when the platform's sandbox is on.
async fn sandbox_link(state: &AppState, token: &str) -> crate::Result<Option<Loaded>> {
    if state.billing.sandbox.is_none() {
        return Ok(None);
    }
    Ok(load(state, token)
        .await?
        .filter(|l| l.link.provider == Provider::Sandbox))
}

/// "Payer" on the sandbox page: settles the link as the Wave webhook would, with its exact amount.
async fn sandbox_pay(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let loaded = match sandbox_link(&state, &token).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return not_found(),
        Err(e) => return failed(e),
    };
    if loaded.standing() != Standing::Payable {
        let (status, page) = page_of(&state, &loaded, &token);
        return page.respond(status);
    }
    let settled = sandbox_settle(&state, &loaded).await;
    let mut page = loaded.template(&token, "Paiement de votre commande");
    match settled {
        Ok(Settled::Paid(_)) => {
            page.heading = "Paiement reçu".into();
            page.notice = Some("Paiement reçu, merci ! La boutique prépare votre commande.".into());
        }
        Ok(Settled::AlreadyPaid) => page.notice = Some(ALREADY_PAID.into()),
        Ok(Settled::Mismatch { .. }) => page.error = Some(EXPIRED.into()),
        Err(e) => return failed(e),
    }
    page.respond(StatusCode::OK)
}

/// Settles a sandbox link for its exact amount, then publishes the thank-you.
async fn sandbox_settle(state: &AppState, loaded: &Loaded) -> crate::Result<Settled> {
    let ctx = TenantCtx::new(loaded.tenant_id);
    let mut tx = state.db.tenant(ctx).await?;
    let settled = settle(
        &mut tx,
        &state.subjects,
        loaded.link.order_payment_id,
        loaded.link.amount_xof.get(),
        "XOF",
        "sandbox",
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    tdj_nats::publish_outbox(&state.db, &state.nats, ctx).await;
    Ok(settled)
}

/// "Refuser" on the sandbox page: nothing is paid; the link stays open, as after a payment abandoned at Wave.
async fn sandbox_refuse(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let loaded = match sandbox_link(&state, &token).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return not_found(),
        Err(e) => return failed(e),
    };
    let (status, mut page) = page_of(&state, &loaded, &token);
    if loaded.standing() == Standing::Payable {
        page.error =
            Some("Paiement refusé : aucun argent n'a été débité. Vous pouvez réessayer.".into());
    }
    page.respond(status)
}
