//! Housekeeping forgets what nothing reads any more, and nothing else.

use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::spawn_app;

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn housekeeping_forgets_expired_sessions_stale_reset_links_and_old_invitations_only(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let shop = app.signup("Friperie").await;
    let owner: Uuid = sqlx::query_scalar("select user_id from app_user where tenant_id = $1")
        .bind(shop.tenant_id)
        .fetch_one(&app.admin_db)
        .await
        .expect("owner");
    for (age, token) in [("2 days", 1u8), ("1 hour", 2)] {
        let hash = vec![token; 32];
        sqlx::query(
            "insert into web_session (tenant_id, user_id, token_hash, csrf_token, expires_at)
             values ($1, $2, $3, repeat('c', 43), now() - $4::interval)",
        )
        .bind(shop.tenant_id)
        .bind(owner)
        .bind(&hash)
        .bind(if token == 1 { age } else { "-1 hour" })
        .execute(&app.admin_db)
        .await
        .expect("session");
        sqlx::query(
            "insert into password_reset (tenant_id, user_id, token_hash, expires_at)
             values ($1, $2, $3, now() - $4::interval)",
        )
        .bind(shop.tenant_id)
        .bind(owner)
        .bind(&hash)
        .bind(age)
        .execute(&app.admin_db)
        .await
        .expect("reset");
    }
    for (email, expired_ago) in [
        ("old@example.ci", "40 days"),
        ("recent@example.ci", "2 days"),
    ] {
        sqlx::query(
            "insert into invitation (tenant_id, email, role, token_hash, expires_at)
             values ($1, $2, 'staff', $3, now() - $4::interval)",
        )
        .bind(shop.tenant_id)
        .bind(email)
        .bind(Uuid::new_v4().as_bytes().repeat(2))
        .bind(expired_ago)
        .execute(&app.admin_db)
        .await
        .expect("invitation");
    }

    api::housekeeping::run(&app.db, &app.nats, &app.subjects).await;

    assert_eq!(
        app.count("web_session", shop.tenant_id).await,
        1,
        "only the live session stays"
    );
    assert_eq!(
        app.count("password_reset", shop.tenant_id).await,
        1,
        "a link expired an hour ago stays a while"
    );
    let emails: Vec<String> =
        sqlx::query_scalar("select email from invitation where tenant_id = $1")
            .bind(shop.tenant_id)
            .fetch_all(&app.admin_db)
            .await
            .expect("invitations");
    assert_eq!(emails, vec!["recent@example.ci".to_owned()]);
}
