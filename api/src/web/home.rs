//! The home page: today's and this month's activity, the subscription, the WhatsApp link, and alerts (bot
//! not answering and why, messages that could not be processed, plan limits near).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::{Datelike, TimeZone, Utc};
use store::billing::{self, AnswerPermission, SuspendReason};
use store::{dashboard, plans, whatsapp_sessions};

use super::billing::subscription_words;
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
    text: String,
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
}

async fn page(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Response> {
    let chrome = Chrome::load(&state, &session, "home", "home.title", flash).await?;
    let lang = chrome.lang;
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
            text: lang.t("alert.not_paid").into_owned(),
            link: "/app/billing",
            action: lang.t("alert.pay").into_owned(),
        }),
        AnswerPermission::Suspended { reason } => alerts.push(Alert {
            bad: true,
            text: lang
                .t(match reason {
                    SuspendReason::ByOperator => "alert.suspended_by_operator",
                    SuspendReason::Unpaid => "alert.suspended_unpaid",
                })
                .into_owned(),
            link: "/app/billing",
            action: lang.t("alert.pay").into_owned(),
        }),
        AnswerPermission::ReplyLimitReached { limit } => alerts.push(Alert {
            bad: true,
            text: lang.tf("alert.reply_limit", &[("n", &limit.to_string())]),
            link: "/app/billing",
            action: lang.t("alert.upgrade").into_owned(),
        }),
        AnswerPermission::GracePeriod { until } => alerts.push(Alert {
            bad: false,
            text: lang.tf("alert.grace", &[("date", &lang.date(until))]),
            link: "/app/billing",
            action: lang.t("alert.renew").into_owned(),
        }),
        AnswerPermission::Allowed => {}
    }
    let wa_status = wa
        .as_ref()
        .map_or("disconnected", |s| s.status.as_str())
        .to_owned();
    if wa_status != "connected" {
        alerts.push(Alert {
            bad: false,
            text: lang.t("alert.whatsapp").into_owned(),
            link: "/app/whatsapp",
            action: lang.t("alert.link_whatsapp").into_owned(),
        });
    }
    if attention.dead_letters > 0 {
        alerts.push(Alert {
            bad: true,
            text: lang.tf(
                "alert.dead_letters",
                &[("n", &attention.dead_letters.to_string())],
            ),
            link: "/app/conversations",
            action: lang.t("alert.see").into_owned(),
        });
    }
    if attention.new_orders > 0 {
        alerts.push(Alert {
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
    let (subscription_label, subscription_detail) = subscription_words(lang, &subscription);
    render(&HomeTemplate {
        today: figures(today),
        month: figures(month),
        plan_name: plan.name,
        subscription: subscription.status.clone(),
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
async fn more(
    State(state): State<AppState>,
    session: Session,
    flash: Flash,
) -> WebResult<Response> {
    let chrome = Chrome::load(&state, &session, "more", "more.title", flash).await?;
    render(&MoreTemplate { chrome })
}
