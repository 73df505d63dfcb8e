//! `MsgSecretStore`: the 32-byte message secrets that decrypt poll votes, reactions and edits.

use std::collections::HashMap;

use async_trait::async_trait;
use whatsapp_rust::wacore::store::error::Result as StoreResult;
use whatsapp_rust::wacore::store::traits::{
    MsgSecretEntry, MsgSecretStore, merge_msg_secret_expiry, merge_msg_secret_message_ts,
};

use super::kv::{Ns, saturating_u32};
use super::{PgSessionStore, SessionStoreError};

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
        let merged = merge_batch(keyed);
        let (mut ks, mut sealed, mut expires, mut message_ts) = (
            Vec::with_capacity(merged.len()),
            Vec::with_capacity(merged.len()),
            Vec::with_capacity(merged.len()),
            Vec::with_capacity(merged.len()),
        );
        for (k, entry) in merged {
            sealed.push(self.seal_row(Ns::MsgSecret, &k, &entry.secret)?);
            ks.push(k);
            expires.push(entry.expires_at);
            message_ts.push(entry.message_ts);
        }
        let mut tx = self.begin().await?;
        sqlx::query(
            "insert into wa_kv (tenant_id, ns, k, sealed, ts, num) \
             select $1, $2, r.k, r.sealed, r.ts, r.num \
             from unnest($3::bytea[], $4::bytea[], $5::int8[], $6::int8[]) as r(k, sealed, ts, num) \
             on conflict (tenant_id, ns, k) do update set sealed = excluded.sealed, \
               ts = case when wa_kv.ts = 0 or excluded.ts = 0 then 0 else greatest(wa_kv.ts, excluded.ts) end, \
               num = greatest(wa_kv.num, excluded.num), updated_at = clock_timestamp()",
        )
        .bind(self.ctx.tenant_id)
        .bind(Ns::MsgSecret.id())
        .bind(ks)
        .bind(sealed)
        .bind(expires)
        .bind(message_ts)
        .execute(&mut *tx)
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
        let row: Option<(Vec<u8>, Option<i64>)> = sqlx::query_as(
            "select sealed, num from wa_kv where tenant_id = $1 and ns = $2 and k = $3",
        )
        .bind(self.ctx.tenant_id)
        .bind(Ns::MsgSecret.id())
        .bind(&k)
        .fetch_optional(&mut *tx)
        .await
        .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        let Some((sealed, message_ts)) = row else {
            return Ok(None);
        };
        let secret = self.open_row(Ns::MsgSecret, &k, &sealed)?;
        Ok(Some((secret, message_ts.unwrap_or(0))))
    }

    /// Deadlines at or before the cutoff go; `0` means never.
    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> StoreResult<u32> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "delete from wa_kv where tenant_id = $1 and ns = $2 and ts <> 0 and ts <= $3",
        )
        .bind(self.ctx.tenant_id)
        .bind(Ns::MsgSecret.id())
        .bind(cutoff_timestamp)
        .execute(&mut *tx)
        .await
        .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(saturating_u32(done.rows_affected()))
    }
}
