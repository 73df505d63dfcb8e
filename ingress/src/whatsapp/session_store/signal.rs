//! `SignalStore`: identity keys, sessions, pre-keys, signed pre-keys and sender keys.

use std::sync::Arc;

use async_trait::async_trait;
use store::whatsapp_keys::wa_kv;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::store::error::Result as StoreResult;
use whatsapp_rust::wacore::store::traits::SignalStore;

use super::kv::{Ns, Row, id_key};
use super::{PgSessionStore, Result, SessionStoreError};

/// The user part of a Signal address (`user@server` or `user:device@server`), or `None` when the address has
/// neither separator (then it belongs to no user, as in the reference store).
fn address_user(address: &str) -> Option<&str> {
    address.find([':', '@']).map(|end| &address[..end])
}

impl PgSessionStore {
    /// Session and identity rows carry the hashed user, for `has_signal_state_for_user`.
    fn signal_row(&self, ns: Ns, address: &str, plain: Vec<u8>) -> Row {
        Row {
            grp: address_user(address).map(|user| self.index.group("user", user)),
            ..Row::new(self.index.key(ns, &[address]), plain)
        }
    }

    fn prekey_row(id: u32, record: &[u8], uploaded: Option<bool>) -> Row {
        Row {
            num: Some(i64::from(id)),
            flag: uploaded,
            ..Row::new(id_key(id), record.to_vec())
        }
    }
}

fn identity_key(bytes: Vec<u8>) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| SessionStoreError::Malformed("identity key"))
}

fn prekey_id(num: i64) -> Result<u32> {
    u32::try_from(num).map_err(|_| SessionStoreError::Malformed("pre-key id"))
}

#[async_trait]
impl SignalStore for PgSessionStore {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> StoreResult<()> {
        let row = self.signal_row(Ns::Identity, address, key.to_vec());
        Ok(self.put(Ns::Identity, row).await?)
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> StoreResult<()> {
        let rows = identities
            .iter()
            .map(|(address, key)| self.signal_row(Ns::Identity, address, key.to_vec()))
            .collect();
        Ok(self.put_rows(Ns::Identity, rows).await?)
    }

    async fn load_identity(&self, address: &str) -> StoreResult<Option<[u8; 32]>> {
        let value = self
            .get(Ns::Identity, &self.index.key(Ns::Identity, &[address]))
            .await?;
        Ok(value.map(identity_key).transpose()?)
    }

    async fn delete_identity(&self, address: &str) -> StoreResult<()> {
        let k = self.index.key(Ns::Identity, &[address]);
        Ok(self.delete(Ns::Identity, k).await?)
    }

    async fn get_session(&self, address: &str) -> StoreResult<Option<Bytes>> {
        let value = self
            .get(Ns::Session, &self.index.key(Ns::Session, &[address]))
            .await?;
        Ok(value.map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> StoreResult<()> {
        let row = self.signal_row(Ns::Session, address, session.to_vec());
        Ok(self.put(Ns::Session, row).await?)
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> StoreResult<()> {
        let rows = sessions
            .iter()
            .map(|(address, session)| self.signal_row(Ns::Session, address, session.to_vec()))
            .collect();
        Ok(self.put_rows(Ns::Session, rows).await?)
    }

    async fn delete_session(&self, address: &str) -> StoreResult<()> {
        let k = self.index.key(Ns::Session, &[address]);
        Ok(self.delete(Ns::Session, k).await?)
    }

    /// An existence check that does not decrypt (the record is not needed).
    async fn has_session(&self, address: &str) -> StoreResult<bool> {
        let k = self.index.key(Ns::Session, &[address]);
        let mut tx = self.begin().await?;
        let exists = wa_kv::exists(&mut tx, Ns::Session.id(), &k)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(exists)
    }

    async fn has_signal_state_for_user(&self, user: &str) -> StoreResult<bool> {
        let grp = self.index.group("user", user);
        let mut tx = self.begin().await?;
        let exists = wa_kv::group_exists(&mut tx, &[Ns::Session.id(), Ns::Identity.id()], &grp)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(exists)
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> StoreResult<()> {
        let row = Self::prekey_row(id, record, Some(uploaded));
        Ok(self.put(Ns::PreKey, row).await?)
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> StoreResult<()> {
        let rows = keys
            .iter()
            .map(|(id, record)| Self::prekey_row(*id, record, Some(uploaded)))
            .collect();
        Ok(self.put_rows(Ns::PreKey, rows).await?)
    }

    async fn load_prekey(&self, id: u32) -> StoreResult<Option<Bytes>> {
        let value = self.get(Ns::PreKey, &id_key(id)).await?;
        Ok(value.map(Bytes::from))
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> StoreResult<Vec<(u32, Bytes)>> {
        let found = self
            .get_many(Ns::PreKey, ids.iter().map(|&id| id_key(id)).collect())
            .await?;
        let found: std::collections::HashMap<Vec<u8>, Vec<u8>> = found.into_iter().collect();
        // The caller's order, as the per-item default returns it.
        Ok(ids
            .iter()
            .filter_map(|&id| {
                found
                    .get(&id_key(id))
                    .map(|record| (id, Bytes::copy_from_slice(record)))
            })
            .collect())
    }

    /// UPDATE only: a key consumed between the upload snapshot and this call must stay deleted.
    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let nums: Vec<i64> = ids.iter().map(|&id| i64::from(id)).collect();
        let mut tx = self.begin().await?;
        wa_kv::flag_numbers(&mut tx, Ns::PreKey.id(), &nums)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(())
    }

    async fn remove_prekey(&self, id: u32) -> StoreResult<()> {
        Ok(self.delete(Ns::PreKey, id_key(id)).await?)
    }

    async fn get_max_prekey_id(&self) -> StoreResult<u32> {
        let mut tx = self.begin().await?;
        let max = wa_kv::max_num(&mut tx, Ns::PreKey.id())
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(max.map(prekey_id).transpose()?.unwrap_or(0))
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> StoreResult<()> {
        let row = Self::prekey_row(id, record, None);
        Ok(self.put(Ns::SignedPreKey, row).await?)
    }

    async fn load_signed_prekey(&self, id: u32) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.get(Ns::SignedPreKey, &id_key(id)).await?)
    }

    async fn load_all_signed_prekeys(&self) -> StoreResult<Vec<(u32, Vec<u8>)>> {
        let mut tx = self.begin().await?;
        let rows = wa_kv::all_by_num(&mut tx, Ns::SignedPreKey.id())
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let num = row
                .num
                .ok_or(SessionStoreError::Malformed("signed pre-key id"))?;
            out.push((
                prekey_id(num)?,
                self.open_row(Ns::SignedPreKey, &row.k, &row.sealed)?,
            ));
        }
        Ok(out)
    }

    async fn remove_signed_prekey(&self, id: u32) -> StoreResult<()> {
        Ok(self.delete(Ns::SignedPreKey, id_key(id)).await?)
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> StoreResult<()> {
        let row = Row::new(self.index.key(Ns::SenderKey, &[address]), record.to_vec());
        Ok(self.put(Ns::SenderKey, row).await?)
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> StoreResult<()> {
        let rows = sender_keys
            .iter()
            .map(|(address, record)| {
                Row::new(self.index.key(Ns::SenderKey, &[address]), record.to_vec())
            })
            .collect();
        Ok(self.put_rows(Ns::SenderKey, rows).await?)
    }

    async fn get_sender_key(&self, address: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .get(Ns::SenderKey, &self.index.key(Ns::SenderKey, &[address]))
            .await?)
    }

    async fn delete_sender_key(&self, address: &str) -> StoreResult<()> {
        let k = self.index.key(Ns::SenderKey, &[address]);
        Ok(self.delete(Ns::SenderKey, k).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::address_user;

    #[test]
    fn the_user_of_an_address_stops_at_the_device_or_server() {
        assert_eq!(address_user("2250700@s.whatsapp.net"), Some("2250700"));
        assert_eq!(address_user("2250700:3@s.whatsapp.net"), Some("2250700"));
        assert_eq!(address_user("1000001:12@lid"), Some("1000001"));
        assert_eq!(address_user("no-separator"), None);
    }
}
