//! Periodic clean-up run by every API process (safe concurrently): expired browser sessions, stale password
//! reset links and old invitations (plain deletes of rows nothing reads any more), and bot orders nobody
//! confirmed in time (cancelled, their stock put back).

/// One pass; failures are logged and retried at the next pass.
pub async fn run(db: &store::Db) {
    let purged = async {
        let mut tx = db.platform().await?;
        let sessions = store::web_sessions::purge_expired(&mut tx).await?;
        let resets = store::password_resets::purge_stale(&mut tx).await?;
        let invitations = store::invitations::purge_stale(&mut tx).await?;
        let orders = store::orders::expire_holds(&mut tx, chrono::Utc::now()).await?;
        tx.commit().await?;
        Ok::<_, store::Error>((sessions, resets, invitations, orders))
    }
    .await;
    match purged {
        Ok((0, 0, 0, 0)) => {}
        Ok((sessions, resets, invitations, orders)) => {
            if orders > 0 {
                tracing::info!(orders, "unconfirmed bot orders cancelled, stock put back");
            }
            tracing::debug!(sessions, resets, invitations, "stale rows purged");
        }
        Err(e) => tracing::warn!(error.message = %e, "housekeeping failed"),
    }
}
