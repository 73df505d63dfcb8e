//! `ProtocolStore`: sender-key distribution status, LID/PN mappings, base keys, device lists, group metadata,
//! trusted-contact tokens, sent messages for retries, and the pending-inbound buffer behind at-least-once
//! delivery.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use store::whatsapp_keys::wa_kv;
use whatsapp_rust::wacore::store::error::Result as StoreResult;
use whatsapp_rust::wacore::store::traits::{
    DeviceListRecord, LidPnMappingEntry, PendingInboundKey, PendingInboundRow, ProtocolStore,
    TcTokenEntry,
};
use whatsapp_rust::wacore::time::now_secs;

use super::kv::{LookupColumn, Ns, Row, decode, encode, saturating_u32};
use super::{PgSessionStore, Result, SessionStoreError};

/// The sealed form of a tc token: the JID travels with it for `get_all_tc_token_jids`. The timestamps are
/// plaintext columns (`ts`, `ts2`) so both writers can merge in one SQL statement.
#[derive(Serialize, Deserialize)]
struct TcTokenRow {
    jid: String,
    token: Vec<u8>,
}

impl PgSessionStore {
    fn sender_key_device_row(&self, group_jid: &str, device_jid: &str, has_key: bool) -> Row {
        Row {
            grp: Some(self.index.group("group", group_jid)),
            member: Some(self.index.group("device", device_jid)),
            flag: Some(has_key),
            ..Row::new(
                self.index
                    .key(Ns::SenderKeyDevice, &[group_jid, device_jid]),
                device_jid.as_bytes().to_vec(),
            )
        }
    }

    fn lid_mapping_row(&self, entry: &LidPnMappingEntry) -> Result<Row> {
        Ok(Row {
            grp: Some(self.index.group("phone", &entry.phone_number)),
            num: Some(entry.updated_at),
            ..Row::new(
                self.index.key(Ns::LidMapping, &[&entry.lid]),
                encode("LID mapping", entry)?,
            )
        })
    }

    fn device_list_row(&self, record: &DeviceListRecord) -> Result<Row> {
        Ok(Row::new(
            self.index.key(Ns::DeviceList, &[&record.user]),
            encode("device list", record)?,
        ))
    }

    fn tc_token_plain(jid: &str, token: &[u8]) -> Result<Vec<u8>> {
        encode(
            "tc token",
            &TcTokenRow {
                jid: jid.to_owned(),
                token: token.to_vec(),
            },
        )
    }

    fn pending_k(&self, chat: &str, sender: &str, id: &str) -> Vec<u8> {
        self.index.key(Ns::PendingInbound, &[chat, sender, id])
    }
}

#[async_trait]
impl ProtocolStore for PgSessionStore {
    async fn get_sender_key_devices(&self, group_jid: &str) -> StoreResult<Vec<(String, bool)>> {
        let grp = self.index.group("group", group_jid);
        let rows = self.get_group(Ns::SenderKeyDevice, &grp).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (plain, flag) in rows {
            let jid = String::from_utf8(plain)
                .map_err(|_| SessionStoreError::Malformed("sender-key device JID"))?;
            out.push((jid, flag.unwrap_or(false)));
        }
        Ok(out)
    }

    async fn set_sender_key_status(
        &self,
        group_jid: &str,
        entries: &[(&str, bool)],
    ) -> StoreResult<()> {
        let rows = entries
            .iter()
            .map(|(device_jid, has_key)| {
                self.sender_key_device_row(group_jid, device_jid, *has_key)
            })
            .collect();
        Ok(self.put_rows(Ns::SenderKeyDevice, rows).await?)
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> StoreResult<()> {
        let grp = self.index.group("group", group_jid);
        Ok(self
            .delete_where(Ns::SenderKeyDevice, LookupColumn::Grp, Some(vec![grp]))
            .await?)
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> StoreResult<()> {
        if device_jids.is_empty() {
            return Ok(());
        }
        let members = device_jids
            .iter()
            .map(|jid| self.index.group("device", jid))
            .collect();
        Ok(self
            .delete_where(Ns::SenderKeyDevice, LookupColumn::Member, Some(members))
            .await?)
    }

    async fn clear_all_sender_key_devices(&self) -> StoreResult<()> {
        Ok(self
            .delete_where(Ns::SenderKeyDevice, LookupColumn::Grp, None)
            .await?)
    }

    async fn get_lid_mapping(&self, lid: &str) -> StoreResult<Option<LidPnMappingEntry>> {
        let value = self
            .get(Ns::LidMapping, &self.index.key(Ns::LidMapping, &[lid]))
            .await?;
        Ok(value
            .map(|bytes| decode("LID mapping", &bytes))
            .transpose()?)
    }

    /// The most recently updated mapping for the phone number. A LID re-mapped to another number has its
    /// `grp` rewritten by the upsert, so it no longer answers for the old number.
    async fn get_pn_mapping(&self, phone: &str) -> StoreResult<Option<LidPnMappingEntry>> {
        let grp = self.index.group("phone", phone);
        let mut tx = self.begin().await?;
        let row = wa_kv::newest_in_group(&mut tx, Ns::LidMapping.id(), &grp)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let plain = self.open_row(Ns::LidMapping, &row.k, &row.sealed)?;
        Ok(Some(decode("LID mapping", &plain)?))
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> StoreResult<()> {
        let row = self.lid_mapping_row(entry)?;
        Ok(self.put(Ns::LidMapping, row).await?)
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> StoreResult<()> {
        let rows = entries
            .iter()
            .map(|entry| self.lid_mapping_row(entry))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.put_rows(Ns::LidMapping, rows).await?)
    }

    async fn get_all_lid_mappings(&self) -> StoreResult<Vec<LidPnMappingEntry>> {
        let rows = self.get_all(Ns::LidMapping).await?;
        Ok(rows
            .iter()
            .map(|bytes| decode("LID mapping", bytes))
            .collect::<Result<Vec<_>>>()?)
    }

    async fn save_base_key(
        &self,
        address: &str,
        message_id: &str,
        base_key: &[u8],
    ) -> StoreResult<()> {
        let row = Row::new(
            self.index.key(Ns::BaseKey, &[address, message_id]),
            base_key.to_vec(),
        );
        Ok(self.put(Ns::BaseKey, row).await?)
    }

    async fn has_same_base_key(
        &self,
        address: &str,
        message_id: &str,
        current_base_key: &[u8],
    ) -> StoreResult<bool> {
        let stored = self
            .get(
                Ns::BaseKey,
                &self.index.key(Ns::BaseKey, &[address, message_id]),
            )
            .await?;
        Ok(stored.is_some_and(|stored| stored == current_base_key))
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> StoreResult<()> {
        let k = self.index.key(Ns::BaseKey, &[address, message_id]);
        Ok(self.delete(Ns::BaseKey, k).await?)
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> StoreResult<()> {
        let row = self.device_list_row(&record)?;
        Ok(self.put(Ns::DeviceList, row).await?)
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> StoreResult<()> {
        let rows = records
            .iter()
            .map(|record| self.device_list_row(record))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.put_rows(Ns::DeviceList, rows).await?)
    }

    async fn get_devices(&self, user: &str) -> StoreResult<Option<DeviceListRecord>> {
        let value = self
            .get(Ns::DeviceList, &self.index.key(Ns::DeviceList, &[user]))
            .await?;
        Ok(value
            .map(|bytes| decode("device list", &bytes))
            .transpose()?)
    }

    async fn delete_devices(&self, user: &str) -> StoreResult<()> {
        let k = self.index.key(Ns::DeviceList, &[user]);
        Ok(self.delete(Ns::DeviceList, k).await?)
    }

    async fn get_group_metadata(&self, group_jid: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .get(
                Ns::GroupMetadata,
                &self.index.key(Ns::GroupMetadata, &[group_jid]),
            )
            .await?)
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> StoreResult<()> {
        let row = Row::new(
            self.index.key(Ns::GroupMetadata, &[group_jid]),
            blob.to_vec(),
        );
        Ok(self.put(Ns::GroupMetadata, row).await?)
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> StoreResult<()> {
        let k = self.index.key(Ns::GroupMetadata, &[group_jid]);
        Ok(self.delete(Ns::GroupMetadata, k).await?)
    }

    async fn get_tc_token(&self, jid: &str) -> StoreResult<Option<TcTokenEntry>> {
        let k = self.index.key(Ns::TcToken, &[jid]);
        let mut tx = self.begin().await?;
        let row = wa_kv::get_timed(&mut tx, Ns::TcToken.id(), &k)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let plain = self.open_row(Ns::TcToken, &k, &row.sealed)?;
        let stored: TcTokenRow = decode("tc token", &plain)?;
        Ok(Some(TcTokenEntry {
            token: stored.token,
            token_timestamp: row
                .ts
                .ok_or(SessionStoreError::Malformed("tc token timestamp"))?,
            sender_timestamp: row.ts2,
        }))
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> StoreResult<()> {
        let row = Row {
            flag: Some(!entry.token.is_empty()),
            ts: Some(entry.token_timestamp),
            ts2: entry.sender_timestamp,
            ..Row::new(
                self.index.key(Ns::TcToken, &[jid]),
                Self::tc_token_plain(jid, &entry.token)?,
            )
        };
        Ok(self.put(Ns::TcToken, row).await?)
    }

    async fn delete_tc_token(&self, jid: &str) -> StoreResult<()> {
        let k = self.index.key(Ns::TcToken, &[jid]);
        Ok(self.delete(Ns::TcToken, k).await?)
    }

    async fn get_all_tc_token_jids(&self) -> StoreResult<Vec<String>> {
        let rows = self.get_all(Ns::TcToken).await?;
        Ok(rows
            .iter()
            .map(|bytes| decode::<TcTokenRow>("tc token", bytes).map(|row| row.jid))
            .collect::<Result<Vec<_>>>()?)
    }

    /// A row goes only when both windows are dead: the received token is a placeholder or older than
    /// `token_cutoff`, and the sender time is absent or older than `sender_cutoff`.
    async fn delete_expired_tc_tokens(
        &self,
        token_cutoff: i64,
        sender_cutoff: i64,
    ) -> StoreResult<u32> {
        let mut tx = self.begin().await?;
        let deleted =
            wa_kv::delete_expired_tc_tokens(&mut tx, Ns::TcToken.id(), token_cutoff, sender_cutoff)
                .await
                .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(saturating_u32(deleted))
    }

    /// One atomic upsert: inserts a byte-less placeholder, or only advances `ts2` of an existing row, so a
    /// concurrently stored real token is never replaced and the sender time never goes back.
    async fn touch_tc_token_sender_timestamp(
        &self,
        jid: &str,
        sender_timestamp: i64,
    ) -> StoreResult<()> {
        let k = self.index.key(Ns::TcToken, &[jid]);
        let sealed = self.seal_row(Ns::TcToken, &k, &Self::tc_token_plain(jid, &[])?)?;
        let mut tx = self.begin().await?;
        wa_kv::touch_tc_token_sender_time(&mut tx, Ns::TcToken.id(), &k, &sealed, sender_timestamp)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(())
    }

    /// One atomic upsert with newer-wins: the token pair is replaced only when the stored one is a placeholder
    /// or not newer than the incoming one; `ts2` (the other writer's field) is never touched.
    async fn store_received_tc_token(
        &self,
        jid: &str,
        token: &[u8],
        token_timestamp: i64,
    ) -> StoreResult<()> {
        let k = self.index.key(Ns::TcToken, &[jid]);
        let sealed = self.seal_row(Ns::TcToken, &k, &Self::tc_token_plain(jid, token)?)?;
        let mut tx = self.begin().await?;
        wa_kv::store_received_tc_token(
            &mut tx,
            Ns::TcToken.id(),
            &k,
            &sealed,
            !token.is_empty(),
            token_timestamp,
        )
        .await
        .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(())
    }

    async fn store_sent_message(
        &self,
        chat_jid: &str,
        message_id: &str,
        payload: &[u8],
    ) -> StoreResult<()> {
        let row = Row {
            ts: Some(now_secs()),
            ..Row::new(
                self.index.key(Ns::SentMessage, &[chat_jid, message_id]),
                payload.to_vec(),
            )
        };
        Ok(self.put(Ns::SentMessage, row).await?)
    }

    /// `delete .. returning`: of two concurrent takes, exactly one gets the payload. The delete is committed
    /// only once the payload opened, so a corrupt row surfaces as an error instead of vanishing.
    async fn take_sent_message(
        &self,
        chat_jid: &str,
        message_id: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        let k = self.index.key(Ns::SentMessage, &[chat_jid, message_id]);
        let mut tx = self.begin().await?;
        let sealed = wa_kv::take(&mut tx, Ns::SentMessage.id(), &k)
            .await
            .map_err(SessionStoreError::from)?;
        let payload = sealed
            .map(|sealed| self.open_row(Ns::SentMessage, &k, &sealed))
            .transpose()?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(payload)
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> StoreResult<u32> {
        Ok(self
            .delete_older_than(Ns::SentMessage, cutoff_timestamp)
            .await?)
    }

    async fn store_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
        message: &[u8],
    ) -> StoreResult<()> {
        self.store_pending_inbound_batch(&[PendingInboundRow {
            chat,
            sender,
            id,
            message,
        }])
        .await
    }

    async fn get_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .get(Ns::PendingInbound, &self.pending_k(chat, sender, id))
            .await?)
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> StoreResult<()> {
        Ok(self
            .delete(Ns::PendingInbound, self.pending_k(chat, sender, id))
            .await?)
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> StoreResult<u32> {
        Ok(self
            .delete_older_than(Ns::PendingInbound, cutoff_timestamp)
            .await?)
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> StoreResult<()> {
        let now = now_secs();
        let rows = rows
            .iter()
            .map(|row| Row {
                ts: Some(now),
                ..Row::new(
                    self.pending_k(row.chat, row.sender, row.id),
                    row.message.to_vec(),
                )
            })
            .collect();
        Ok(self.put_rows(Ns::PendingInbound, rows).await?)
    }

    async fn delete_pending_inbound_batch(
        &self,
        keys: &[PendingInboundKey<'_>],
    ) -> StoreResult<()> {
        let keys = keys
            .iter()
            .map(|key| self.pending_k(key.chat, key.sender, key.id))
            .collect();
        Ok(self.delete_many(Ns::PendingInbound, keys).await?)
    }
}
