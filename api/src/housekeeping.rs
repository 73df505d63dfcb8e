//! Periodic clean-up run by every API process (safe concurrently): expired browser sessions, stale password
//! reset links and old invitations. Each is a plain delete of rows nothing reads any more.

/// One pass; failures are logged and retried at the next pass.
pub async fn run(db: &store::Db) {
    let purged = async {
        let mut tx = db.platform().await?;
        let sessions = store::web_sessions::purge_expired(&mut tx).await?;
        let resets = store::password_resets::purge_stale(&mut tx).await?;
        let invitations = store::invitations::purge_stale(&mut tx).await?;
        tx.commit().await?;
        Ok::<_, store::Error>((sessions, resets, invitations))
    }
    .await;
    match purged {
        Ok((0, 0, 0)) => {}
        Ok((sessions, resets, invitations)) => {
            tracing::debug!(sessions, resets, invitations, "stale rows purged");
        }
        Err(e) => tracing::warn!(error.message = %e, "housekeeping failed"),
    }
}
