//! The worker's contract, at the store level: `answer_permission` for each subscription state, and
//! `record_bot_reply` / `record_inbound` counting toward the month's limit.

use chrono::{Duration, Months, SubsecRound, Utc};
use sqlx::PgPool;
use store::TenantCtx;
use store::billing::{
    AnswerPermission, SuspendReason, answer_permission, record_bot_reply, record_inbound,
};

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn answer_permission_follows_the_subscription_state(pool: PgPool) {
    let app = spawn_app(pool).await;
    // PostgreSQL keeps microseconds.
    let now = Utc::now().trunc_subsecs(6);
    let grace_end = now + Duration::days(2);
    let month = store::billing::month_start(now);
    // (why, tenant status, subscription status, expires_at, grace_until, bot replies this month, expected)
    let cases = [
        (
            "never paid",
            "active",
            "pending",
            None,
            None,
            0,
            AnswerPermission::NotPaid,
        ),
        (
            "paid and within quota",
            "active",
            "active",
            Some(now + Duration::days(20)),
            None,
            10,
            AnswerPermission::Allowed,
        ),
        (
            "expired, within grace",
            "active",
            "past_due",
            Some(now - Duration::days(1)),
            Some(grace_end),
            0,
            AnswerPermission::GracePeriod { until: grace_end },
        ),
        (
            "expired, grace over",
            "active",
            "past_due",
            Some(now - Duration::days(4)),
            Some(now - Duration::hours(1)),
            0,
            AnswerPermission::Suspended {
                reason: SuspendReason::Unpaid,
            },
        ),
        (
            "suspended by the expiry job",
            "active",
            "suspended",
            Some(now - Duration::days(9)),
            None,
            0,
            AnswerPermission::Suspended {
                reason: SuspendReason::Unpaid,
            },
        ),
        (
            "suspended by the operator, even if paid",
            "suspended",
            "active",
            Some(now + Duration::days(20)),
            None,
            0,
            AnswerPermission::Suspended {
                reason: SuspendReason::ByOperator,
            },
        ),
        (
            "starter quota used up",
            "active",
            "active",
            Some(now + Duration::days(20)),
            None,
            1000,
            AnswerPermission::ReplyLimitReached { limit: 1000 },
        ),
        (
            "quota used up during grace",
            "active",
            "past_due",
            Some(now - Duration::days(1)),
            Some(grace_end),
            1000,
            AnswerPermission::ReplyLimitReached { limit: 1000 },
        ),
    ];

    for (why, tenant_status, sub_status, expires_at, grace_until, replies, expected) in cases {
        // Arrange
        let shop = app.signup_on(why, "starter").await;
        sqlx::query("update tenant set status = $2 where tenant_id = $1")
            .bind(shop.tenant_id)
            .bind(tenant_status)
            .execute(&app.admin_db)
            .await
            .expect("tenant");
        sqlx::query("update subscription set status = $2, expires_at = $3, grace_until = $4 where tenant_id = $1")
            .bind(shop.tenant_id)
            .bind(sub_status)
            .bind(expires_at)
            .bind(grace_until)
            .execute(&app.admin_db)
            .await
            .expect("subscription");
        sqlx::query("insert into tenant_usage (tenant_id, month, bot_replies) values ($1, $2, $3)")
            .bind(shop.tenant_id)
            .bind(month)
            .bind(replies)
            .execute(&app.admin_db)
            .await
            .expect("usage");

        // Act
        let mut tx = app
            .db
            .tenant(TenantCtx::new(shop.tenant_id))
            .await
            .expect("tx");
        let permission = answer_permission(&mut tx, now).await.expect("permission");
        tx.commit().await.expect("commit");

        // Assert
        assert_eq!(permission, expected, "{why}");
        assert_eq!(
            permission.is_allowed(),
            matches!(
                expected,
                AnswerPermission::Allowed | AnswerPermission::GracePeriod { .. }
            ),
            "{why}"
        );
    }
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn bot_replies_count_toward_the_monthly_limit(pool: PgPool) {
    // Arrange: a paid Starter shop (1 000 replies a month) one reply short of its quota
    let app = spawn_app(pool).await;
    let shop = app.signup_on("Friperie Abobo", "starter").await;
    let now = Utc::now();
    sqlx::query("update subscription set status = 'active', expires_at = $2 where tenant_id = $1")
        .bind(shop.tenant_id)
        .bind(now + Duration::days(40))
        .execute(&app.admin_db)
        .await
        .expect("subscription");
    sqlx::query("insert into tenant_usage (tenant_id, month, bot_replies) values ($1, $2, 999)")
        .bind(shop.tenant_id)
        .bind(store::billing::month_start(now))
        .execute(&app.admin_db)
        .await
        .expect("usage");
    let ctx = TenantCtx::new(shop.tenant_id);

    // Act
    let mut tx = app.db.tenant(ctx).await.expect("tx");
    let before = answer_permission(&mut tx, now).await.expect("permission");
    record_inbound(&mut tx, now).await.expect("inbound");
    record_bot_reply(&mut tx, now, tokens(120, 30))
        .await
        .expect("reply");
    let after = answer_permission(&mut tx, now).await.expect("permission");
    let next_month = now.checked_add_months(Months::new(1)).expect("date");
    let next = answer_permission(&mut tx, next_month)
        .await
        .expect("permission");
    record_bot_reply(&mut tx, next_month, tokens(10, 5))
        .await
        .expect("reply");
    tx.commit().await.expect("commit");

    // Assert
    assert_eq!(before, AnswerPermission::Allowed);
    assert_eq!(
        after,
        AnswerPermission::ReplyLimitReached { limit: 1000 },
        "the 1 000th reply reaches the limit"
    );
    assert_eq!(
        next,
        AnswerPermission::Allowed,
        "a new UTC month starts from zero"
    );
    let (replies, inbound, prompt, output): (i32, i32, i64, i64) = sqlx::query_as(
        "select bot_replies, inbound_messages, llm_prompt_tokens, llm_output_tokens
         from tenant_usage_now where tenant_id = $1 and month = $2",
    )
    .bind(shop.tenant_id)
    .bind(store::billing::month_start(now))
    .fetch_one(&app.admin_db)
    .await
    .expect("usage");
    assert_eq!((replies, inbound, prompt, output), (1000, 1, 120, 30));
    assert_eq!(
        app.count("tenant_usage_now", shop.tenant_id).await,
        2,
        "one row per month"
    );
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn two_chats_of_one_shop_count_usage_without_waiting_for_each_other_and_folding_loses_nothing(
    pool: PgPool,
) {
    // Arrange: one shop; a turn that counted its reply and has not committed yet.
    let app = spawn_app(pool).await;
    let shop = app.signup_on("Maquis Yopougon", "starter").await;
    let ctx = TenantCtx::new(shop.tenant_id);
    let now = Utc::now();
    let mut slow_turn = app.db.tenant(ctx).await.expect("tx");
    record_bot_reply(&mut slow_turn, now, tokens(100, 10))
        .await
        .expect("reply");

    // Act: another chat's turn counts its own message and reply meanwhile.
    let other_turn = async {
        let mut tx = app.db.tenant(ctx).await.expect("tx");
        record_inbound(&mut tx, now).await.expect("inbound");
        record_bot_reply(&mut tx, now, tokens(50, 5))
            .await
            .expect("reply");
        tx.commit().await.expect("commit");
    };
    let waited = tokio::time::timeout(std::time::Duration::from_secs(3), other_turn).await;
    slow_turn.commit().await.expect("commit");

    // Assert: no wait on a shared row, and every count is there before and after folding, folded once.
    assert!(
        waited.is_ok(),
        "a shop's turns queue on one usage row until the slowest commits"
    );
    let totals = || async {
        sqlx::query_as::<_, (i32, i32, i64, i64)>(
            "select bot_replies, inbound_messages, llm_prompt_tokens, llm_output_tokens
             from tenant_usage_now where tenant_id = $1",
        )
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("usage")
    };
    assert_eq!(totals().await, (2, 1, 150, 15), "before folding");
    let fold = || async {
        let mut tx = app.db.platform().await.expect("platform tx");
        let folded = store::billing::fold_usage(&mut tx, 1000)
            .await
            .expect("fold");
        tx.commit().await.expect("commit");
        folded
    };
    let (first, second) = tokio::join!(fold(), fold());
    assert_eq!(first + second, 3, "each delta folded once");
    assert_eq!(totals().await, (2, 1, 150, 15), "after folding");
    assert_eq!(app.count("usage_delta", shop.tenant_id).await, 0);
    assert_eq!(app.count("tenant_usage", shop.tenant_id).await, 1);
}

fn tokens(prompt: i64, output: i64) -> store::billing::Tokens {
    store::billing::Tokens {
        prompt,
        output,
        media: 0,
    }
}
