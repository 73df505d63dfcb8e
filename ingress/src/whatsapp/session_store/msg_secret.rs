//! `MsgSecretStore`: the 32-byte message secrets that decrypt poll votes, reactions and edits.

use std::collections::HashMap;

use async_trait::async_trait;
use store::whatsapp_keys::wa_kv::{self, MsgSecretRow};
use whatsapp_rust::wacore::store::error::Result as StoreResult;
use whatsapp_rust::wacore::store::traits::{
    MsgSecretEntry, MsgSecretStore, merge_msg_secret_expiry, merge_msg_secret_message_ts,
};

use super::kv::{Ns, saturating_u32};
use super::{PgSessionStore, Result, SessionStoreError};

impl PgSessionStore {
    fn msg_secret_k(&self, chat: &str, sender: &str, msg_id: &str) -> Vec<u8> {
        self.index.key(Ns::MsgSecret, &[chat, sender, msg_id])
    }
}

/// One batch row per key, merged in batch order with the crate's rules, as repeated single puts would be.
fn merge_batch(entries: Vec<(Vec<u8>, MsgSecretEntry)>) -> Vec<(Vec<u8>, MsgSecretEntry)> {
    let mut position: HashMap<Vec<u8>, usize> = HashMap::with_capacity(entries.len());
    let mut out: Vec<(Vec<u8>, MsgSecretEntry)> = Vec::with_capacity(entries.len());
    for (k, entry) in entries {
        match position.get(&k) {
            Some(&i) => {
                let merged = &mut out[i].1;
                merged.secret = entry.secret;
                merged.expires_at = merge_msg_secret_expiry(merged.expires_at, entry.expires_at);
                merged.message_ts =
                    merge_msg_secret_message_ts(merged.message_ts, entry.message_ts);
            }
            None => {
                position.insert(k.clone(), out.len());
                out.push((k, entry));
            }
        }
    }
    out
}

#[async_trait]
impl MsgSecretStore for PgSessionStore {
    /// One upsert for the batch. On conflict the SQL applies the crate's merge rules (`merge_msg_secret_expiry`:
    /// 0 = never wins, else the later deadline; `merge_msg_secret_message_ts`: the later time) atomically.
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> StoreResult<usize> {
        let count = entries.len();
        if count == 0 {
            return Ok(0);
        }
        let keyed = entries
            .into_iter()
            .map(|entry| {
                (
                    self.msg_secret_k(&entry.chat, &entry.sender, &entry.msg_id),
                    entry,
                )
            })
            .collect();
        let rows = merge_batch(keyed)
            .into_iter()
            .map(|(k, entry)| {
                Ok(MsgSecretRow {
                    sealed: self.seal_row(Ns::MsgSecret, &k, &entry.secret)?,
                    k,
                    expires_at: entry.expires_at,
                    message_ts: entry.message_ts,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.begin().await?;
        wa_kv::merge_msg_secrets(&mut tx, Ns::MsgSecret.id(), rows)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(count)
    }

    async fn get_msg_secret(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .get_msg_secret_with_ts(chat, sender, msg_id)
            .await?
            .map(|(secret, _)| secret))
    }

    async fn get_msg_secret_with_ts(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> StoreResult<Option<(Vec<u8>, i64)>> {
        let k = self.msg_secret_k(chat, sender, msg_id);
        let mut tx = self.begin().await?;
        let row = wa_kv::get_numbered(&mut tx, Ns::MsgSecret.id(), &k)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let secret = self.open_row(Ns::MsgSecret, &k, &row.sealed)?;
        Ok(Some((secret, row.num.unwrap_or(0))))
    }

    /// Deadlines at or before the cutoff go; `0` means never.
    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> StoreResult<u32> {
        let mut tx = self.begin().await?;
        let deleted = wa_kv::delete_past_deadline(&mut tx, Ns::MsgSecret.id(), cutoff_timestamp)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(saturating_u32(deleted))
    }
}
