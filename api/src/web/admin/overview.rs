//! `/admin`: the platform at a glance — recurring revenue, shops by state, payments per provider, what needs
//! the operator (flagged payments, dead letters), and the charts of new and churned shops per month and of
//! customer messages and orders per day.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::{AdminChrome, AdminFlash, AdminSession, charts, provider_label};
use crate::AppState;
use crate::web::error::WebResult;
use crate::web::view::render;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin", get(page)).route(
        "/admin/",
        get(|| async { Redirect::to("/admin").into_response() }),
    )
}

struct Figure {
    id: &'static str,
    value: String,
    label: String,
}

struct ProviderRow {
    label: String,
    payments: i64,
    amount: String,
}

#[derive(askama::Template)]
#[template(path = "admin_overview.html")]
struct OverviewTemplate {
    chrome: AdminChrome,
    figures: Vec<Figure>,
    providers: Vec<ProviderRow>,
    /// "N paiements signalés à vérifier", when there are.
    to_review: Option<String>,
    /// "N messages en échec à traiter", when there are.
    dead_letters: Option<String>,
    monthly_chart: String,
    messages_chart: String,
    orders_chart: String,
}

/// The operator's home: the platform's figures and charts.
#[utoipa::path(
    get,
    path = "/admin",
    operation_id = "adminDashboardPage",
    tag = "pages",
    responses(crate::openapi::pages::AdminPage)
)]
async fn page(
    State(state): State<AppState>,
    AdminSession(session): AdminSession,
    flash: AdminFlash,
) -> WebResult<Response> {
    let lang = session.lang;
    let chrome = AdminChrome::new(
        &session,
        "overview",
        lang.t("admin.overview.title").into_owned(),
        flash,
    );
    let user = &session.user;
    let stats = crate::admin::stats::platform_stats(&state, user).await?;
    let activity = crate::admin::stats::platform_activity(&state, user).await?;
    let attention = crate::admin::stats::attention(&state, user).await?;
    let (to_review, dead_letters) = (attention.payments_to_review, attention.open_dead_letters);
    let count = |id, n: i64, key: &str| Figure {
        id,
        value: n.to_string(),
        label: lang.t(key).into_owned(),
    };
    let figures = vec![
        Figure {
            id: "mrr",
            value: lang.money(stats.mrr_xof),
            label: lang.t("admin.stats.mrr").into_owned(),
        },
        count("active", stats.active_tenants, "admin.stats.active"),
        count("past-due", stats.past_due_tenants, "admin.stats.past_due"),
        count(
            "suspended-unpaid",
            stats.suspended_unpaid_tenants,
            "admin.stats.suspended_unpaid",
        ),
        count(
            "suspended-operator",
            stats.suspended_by_operator_tenants,
            "admin.stats.suspended_operator",
        ),
        count("pending", stats.pending_tenants, "admin.stats.pending"),
        Figure {
            id: "churn",
            value: format!(
                "{} ({:.0}\u{a0}%)",
                stats.churned_last_30_days,
                stats.churn_rate_30_days * 100.0
            ),
            label: lang.t("admin.stats.churn_30").into_owned(),
        },
    ];
    render(&OverviewTemplate {
        figures,
        providers: stats
            .payments_by_provider
            .iter()
            .map(|p| ProviderRow {
                label: provider_label(lang, &p.provider),
                payments: p.payments,
                amount: lang.money(p.amount_xof),
            })
            .collect(),
        to_review: (to_review > 0)
            .then(|| lang.tf("admin.overview.to_review", &[("n", &to_review.to_string())])),
        dead_letters: (dead_letters > 0).then(|| {
            lang.tf(
                "admin.overview.dead_letters",
                &[("n", &dead_letters.to_string())],
            )
        }),
        monthly_chart: charts::monthly_shops(lang, &activity.months)?,
        messages_chart: charts::daily(lang, &activity.days, |d| d.messages, false)?,
        orders_chart: charts::daily(lang, &activity.days, |d| d.orders, true)?,
        chrome,
    })
}
