//! The home page: today's and this month's activity, the subscription, the WhatsApp link, and alerts (bot
//! not answering and why, messages that could not be processed, plan limits near).

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{Datelike, TimeZone, Utc};
use schemas::whatsapp::WaStatus;
use store::billing::{self, AnswerPermission, SuspendReason};
use store::users::Role;
use store::{dashboard, dead_letters, plans, whatsapp_sessions};

use super::billing::{operator_suspension_words, subscription_words};
use super::conversations::{DeadDone, DeadRow, dead_rows};
use super::error::WebResult;
use super::session::Session;
use super::view::{Chrome, Flash, render};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(page))
        .route("/app/more", get(more))
}

struct Figures {
    conversations: i64,
    orders: i64,
    revenue: String,
}

struct Alert {
    bad: bool,
    /// An `id` for the alert's element (empty: none).
    id: &'static str,
    text: String,
    /// Where the alert's action leads (empty: no action, e.g. an operator suspension paying cannot lift).
    link: &'static str,
    action: String,
}

#[derive(askama::Template)]
#[template(path = "home.html")]
struct HomeTemplate {
    chrome: Chrome,
    today: Figures,
    month: Figures,
    plan_name: String,
    subscription: String,
    subscription_label: String,
    subscription_detail: String,
    wa_status: String,
    wa_label: String,
    wa_detail: String,
    alerts: Vec<Alert>,
    /// Messages that could not be processed (the owner can replay or discard them here).
    dead: Vec<DeadRow>,
    dead_back: &'static str,
}

/// The shop's home: today's figures, what needs attention.
#[utoipa::path(
    get,
    path = "/app",
    operation_id = "dashboardPage",
    tag = "pages",
    responses(crate::openapi::pages::SignedInPage)
)]
async fn page(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
    dead_done: Result<Query<DeadDone>, axum::extract::rejection::QueryRejection>,
) -> WebResult<Response> {
    if session.user.role == Role::PlatformAdmin {
        return Ok(Redirect::to("/admin").into_response());
    }
    let mut chrome = Chrome::load(&state, &session, "home", "home.title", flash).await?;
    let lang = chrome.lang;
    if let Some(flash) = dead_done.ok().and_then(|Query(d)| d.flash(lang)) {
        chrome.flash = Some(flash);
    }
    let now = Utc::now();
    let midnight = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()
        .unwrap_or(now);
    let month_start = billing::month_start(now);
    let month_begins = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);

    let mut tx = state.db.tenant(session.user.ctx()).await?;
    let today = dashboard::activity_since(&mut tx, midnight).await?;
    let month = dashboard::activity_since(&mut tx, month_begins).await?;
    let attention = dashboard::attention(&mut tx, month_start).await?;
    let subscription = billing::subscription(&mut tx).await?;
    let plan = plans::of_tenant(&mut tx).await?;
    let permission = billing::answer_permission(&mut tx, now).await?;
    let wa = whatsapp_sessions::get(&mut tx).await?;
    let suspension = billing::operator_suspension(&mut tx).await?;
    let dead = dead_letters::list_open(&mut tx, 5).await?;
    tx.commit().await?;

    let figures = |a: dashboard::Activity| Figures {
        conversations: a.conversations,
        orders: a.orders,
        revenue: lang.money(a.revenue_xof),
    };
    let mut alerts = Vec::new();
    match permission {
        AnswerPermission::NotPaid => alerts.push(Alert {
            bad: true,
            id: "",
            text: lang.t("alert.not_paid").into_owned(),
            link: "/app/billing",
            action: lang.t("alert.pay").into_owned(),
        }),
        // The operator's suspension says why, and offers no payment: paying would not lift it.
        AnswerPermission::Suspended {
            reason: SuspendReason::ByOperator,
        } => alerts.push(Alert {
            bad: true,
            id: "operator-suspension",
            text: lang.tf(
                "alert.suspended_by_operator_reason",
                &[(
                    "reason",
                    suspension.as_ref().map_or("", |s| s.reason.as_str()),
                )],
            ),
            link: "",
            action: String::new(),
        }),
        AnswerPermission::Suspended {
            reason: SuspendReason::Unpaid,
        } => alerts.push(Alert {
            bad: true,
            id: "",
            text: lang.t("alert.suspended_unpaid").into_owned(),
            link: "/app/billing",
            action: lang.t("alert.pay").into_owned(),
        }),
        AnswerPermission::ReplyLimitReached { limit } => alerts.push(Alert {
            bad: true,
            id: "",
            text: lang.tf("alert.reply_limit", &[("n", &limit.to_string())]),
            link: "/app/billing",
            action: lang.t("alert.upgrade").into_owned(),
        }),
        AnswerPermission::GracePeriod { until } => alerts.push(Alert {
            bad: false,
            id: "",
            text: lang.tf("alert.grace", &[("date", &lang.date(until))]),
            link: "/app/billing",
            action: lang.t("alert.renew").into_owned(),
        }),
        AnswerPermission::Trial { until } => alerts.push(Alert {
            bad: false,
            id: "trial",
            text: lang.tf("alert.trial", &[("date", &lang.date(until))]),
            link: "/app/billing",
            action: lang.t("alert.pay").into_owned(),
        }),
        AnswerPermission::Allowed => {}
    }
    let wa_status = wa
        .as_ref()
        .map_or(WaStatus::Disconnected, |s| s.status)
        .as_str()
        .to_owned();
    if wa_status != "connected" {
        alerts.push(Alert {
            id: "",
            bad: false,
            text: lang.t("alert.whatsapp").into_owned(),
            link: "/app/whatsapp",
            action: lang.t("alert.link_whatsapp").into_owned(),
        });
    }
    if attention.dead_letters > 0 {
        alerts.push(Alert {
            id: "",
            bad: true,
            text: lang.tf(
                "alert.dead_letters",
                &[("n", &attention.dead_letters.to_string())],
            ),
            link: "/app/conversations",
            action: lang.t("alert.see").into_owned(),
        });
    }
    if attention.handed_over > 0 {
        alerts.push(Alert {
            id: "alert-handed-over",
            bad: true,
            text: lang.tf(
                "alert.handed_over",
                &[("n", &attention.handed_over.to_string())],
            ),
            link: "/app/conversations",
            action: lang.t("alert.see").into_owned(),
        });
    }
    if attention.new_orders > 0 {
        alerts.push(Alert {
            id: "",
            bad: false,
            text: lang.tf(
                "alert.new_orders",
                &[("n", &attention.new_orders.to_string())],
            ),
            link: "/app/orders?status=new",
            action: lang.t("alert.see").into_owned(),
        });
    }
    if let Some(max) = plan.max_products
        && attention.products * 10 >= i64::from(max) * 8
    {
        alerts.push(Alert {
            id: "",
            bad: false,
            text: lang.tf(
                "alert.products_limit",
                &[
                    ("n", &attention.products.to_string()),
                    ("max", &max.to_string()),
                ],
            ),
            link: "/app/billing",
            action: lang.t("alert.upgrade").into_owned(),
        });
    }
    if let Some(max) = plan.max_replies_per_month
        && attention.replies_this_month * 10 >= i64::from(max) * 8
        && attention.replies_this_month < i64::from(max)
    {
        alerts.push(Alert {
            id: "",
            bad: false,
            text: lang.tf(
                "alert.replies_near",
                &[
                    ("n", &attention.replies_this_month.to_string()),
                    ("max", &max.to_string()),
                ],
            ),
            link: "/app/billing",
            action: lang.t("alert.upgrade").into_owned(),
        });
    }
    if !chrome.owner {
        // Staff cannot open billing or the WhatsApp link: the alert stays, without the button.
        for alert in &mut alerts {
            if matches!(alert.link, "/app/billing" | "/app/whatsapp") {
                alert.link = "";
            }
        }
    }
    // The alert above gives the operator's reason in full; the card only names the state.
    let (subscription_label, subscription_detail) = match &suspension {
        Some(s) => (operator_suspension_words(lang, s).0, String::new()),
        None => subscription_words(lang, &subscription),
    };
    let subscription_status = if suspension.is_some() {
        "suspended".to_owned()
    } else {
        subscription.status.to_string()
    };
    render(&HomeTemplate {
        dead: dead_rows(lang, &dead),
        dead_back: "home",
        today: figures(today),
        month: figures(month),
        plan_name: plan.name,
        subscription: subscription_status,
        subscription_label,
        subscription_detail,
        wa_label: lang.t(&format!("wa.status.{wa_status}")).into_owned(),
        wa_detail: wa.map(|s| s.status_detail).unwrap_or_default(),
        wa_status,
        alerts,
        chrome,
    })
}

#[derive(askama::Template)]
#[template(path = "more.html")]
struct MoreTemplate {
    chrome: Chrome,
}

/// On a phone, the entries that do not fit in the bottom bar.
#[utoipa::path(
    get,
    path = "/app/more",
    operation_id = "moreMenuPage",
    tag = "pages",
    responses(crate::openapi::pages::SignedInPage)
)]
async fn more(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Response> {
    let chrome = Chrome::load(&state, &session, "more", "more.title", flash).await?;
    render(&MoreTemplate { chrome })
}
