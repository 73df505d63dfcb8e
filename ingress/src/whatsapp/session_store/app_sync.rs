//! `AppSyncStore`: app-state sync keys, collection versions (`HashState`) and mutation MACs.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use store::whatsapp_keys::wa_kv;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::error::Result as StoreResult;
use whatsapp_rust::wacore::store::traits::{AppStateSyncKey, AppSyncStore};

use super::kv::{LookupColumn, Ns, Row, decode, encode};
use super::{PgSessionStore, SessionStoreError};

/// The sealed form of a sync key: the id travels with it because the row key is only its hash.
#[derive(Serialize, Deserialize)]
struct SyncKeyRow {
    key_id: Vec<u8>,
    key: AppStateSyncKey,
}

impl PgSessionStore {
    fn sync_key_k(&self, key_id: &[u8]) -> Vec<u8> {
        self.index.mac(Ns::SyncKey.label(), &[key_id])
    }

    fn mutation_mac_k(&self, name: &str, index_mac: &[u8]) -> Vec<u8> {
        self.index
            .mac(Ns::MutationMac.label(), &[name.as_bytes(), index_mac])
    }
}

#[async_trait]
impl AppSyncStore for PgSessionStore {
    async fn get_sync_key(&self, key_id: &[u8]) -> StoreResult<Option<AppStateSyncKey>> {
        let value = self.get(Ns::SyncKey, &self.sync_key_k(key_id)).await?;
        Ok(value
            .map(|bytes| decode::<SyncKeyRow>("sync key", &bytes).map(|row| row.key))
            .transpose()?)
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> StoreResult<()> {
        let plain = encode(
            "sync key",
            &SyncKeyRow {
                key_id: key_id.to_vec(),
                key,
            },
        )?;
        let row = Row::new(self.sync_key_k(key_id), plain);
        Ok(self.put(Ns::SyncKey, row).await?)
    }

    async fn get_version(&self, name: &str) -> StoreResult<HashState> {
        let value = self
            .get(
                Ns::AppStateVersion,
                &self.index.key(Ns::AppStateVersion, &[name]),
            )
            .await?;
        Ok(match value {
            Some(bytes) => decode("app-state version", &bytes)?,
            None => HashState::default(),
        })
    }

    async fn set_version(&self, name: &str, state: HashState) -> StoreResult<()> {
        let plain = encode("app-state version", &state)?;
        let row = Row::new(self.index.key(Ns::AppStateVersion, &[name]), plain);
        Ok(self.put(Ns::AppStateVersion, row).await?)
    }

    async fn put_mutation_macs(
        &self,
        name: &str,
        _version: u64,
        mutations: &[AppStateMutationMAC],
    ) -> StoreResult<()> {
        let grp = self.index.group("collection", name);
        let rows = mutations
            .iter()
            .map(|m| Row {
                grp: Some(grp.clone()),
                ..Row::new(self.mutation_mac_k(name, &m.index_mac), m.value_mac.clone())
            })
            .collect();
        Ok(self.put_rows(Ns::MutationMac, rows).await?)
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .get(Ns::MutationMac, &self.mutation_mac_k(name, index_mac))
            .await?)
    }

    async fn get_mutation_macs(
        &self,
        name: &str,
        index_macs: &[[u8; 32]],
    ) -> StoreResult<HashMap<[u8; 32], Vec<u8>>> {
        let by_k: HashMap<Vec<u8>, [u8; 32]> = index_macs
            .iter()
            .map(|index_mac| (self.mutation_mac_k(name, index_mac), *index_mac))
            .collect();
        let found = self
            .get_many(Ns::MutationMac, by_k.keys().cloned().collect())
            .await?;
        let mut out = HashMap::with_capacity(found.len());
        for (k, value_mac) in found {
            let index_mac = by_k
                .get(&k)
                .ok_or(SessionStoreError::Malformed("mutation MAC key"))?;
            out.insert(*index_mac, value_mac);
        }
        Ok(out)
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> StoreResult<()> {
        let keys = index_macs
            .iter()
            .map(|index_mac| self.mutation_mac_k(name, index_mac))
            .collect();
        Ok(self.delete_many(Ns::MutationMac, keys).await?)
    }

    async fn clear_mutation_macs(&self, name: &str) -> StoreResult<()> {
        let grp = self.index.group("collection", name);
        Ok(self
            .delete_where(Ns::MutationMac, LookupColumn::Grp, Some(vec![grp]))
            .await?)
    }

    /// The sync key written last (as the reference store keeps it), found by `updated_at`.
    async fn get_latest_sync_key_id(&self) -> StoreResult<Option<Vec<u8>>> {
        let mut tx = self.begin().await?;
        let row = wa_kv::last_written(&mut tx, Ns::SyncKey.id())
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let plain = self.open_row(Ns::SyncKey, &row.k, &row.sealed)?;
        Ok(Some(decode::<SyncKeyRow>("sync key", &plain)?.key_id))
    }
}
