//! The sealed key-value layer under the trait implementations: namespaces, hashed row keys, sealing, and the
//! generic reads and writes of `wa_kv` (statements in `store::whatsapp_keys::wa_kv`). Namespace-specific
//! merges (tc tokens, message secrets) live with their traits.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::TenantTx;
use store::crypto::MasterKey;
use store::whatsapp_keys::wa_kv::{self, SealedRow};
use uuid::Uuid;

use super::{PgSessionStore, Result, SessionStoreError};

/// What a `wa_kv` row holds. The numbers are stored (`wa_kv.ns`): never reuse or renumber one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ns {
    Identity = 1,
    Session = 2,
    PreKey = 3,
    SignedPreKey = 4,
    SenderKey = 5,
    SyncKey = 6,
    AppStateVersion = 7,
    MutationMac = 8,
    SenderKeyDevice = 9,
    LidMapping = 10,
    BaseKey = 11,
    DeviceList = 12,
    GroupMetadata = 13,
    TcToken = 14,
    SentMessage = 15,
    PendingInbound = 16,
    MsgSecret = 17,
}

impl Ns {
    pub(super) fn id(self) -> i16 {
        self as i16
    }

    /// Part of the AAD and of the HMAC domain, so equal keys in two namespaces never collide.
    pub(super) fn label(self) -> &'static str {
        match self {
            Ns::Identity => "identity",
            Ns::Session => "session",
            Ns::PreKey => "prekey",
            Ns::SignedPreKey => "signed-prekey",
            Ns::SenderKey => "sender-key",
            Ns::SyncKey => "sync-key",
            Ns::AppStateVersion => "app-state-version",
            Ns::MutationMac => "mutation-mac",
            Ns::SenderKeyDevice => "sender-key-device",
            Ns::LidMapping => "lid-mapping",
            Ns::BaseKey => "base-key",
            Ns::DeviceList => "device-list",
            Ns::GroupMetadata => "group-metadata",
            Ns::TcToken => "tc-token",
            Ns::SentMessage => "sent-message",
            Ns::PendingInbound => "pending-inbound",
            Ns::MsgSecret => "msg-secret",
        }
    }
}

/// The per-tenant HMAC key that turns JIDs and phone numbers into opaque, still-indexable row keys.
#[derive(Clone)]
pub(super) struct IndexKey([u8; 32]);

impl IndexKey {
    /// Derived from the master key rather than stored: it is as durable as the data key it sits next to, and
    /// binding the tenant id keeps two tenants' hashes of the same phone number unrelated.
    pub(super) fn derive(master: &MasterKey, tenant_id: Uuid) -> Self {
        Self(master.derive(&format!("tdjaasa/wa-index/v1/{tenant_id}")))
    }

    /// HMAC-SHA256 over the domain and the length-prefixed parts (unambiguous for any part contents).
    pub(super) fn mac(&self, domain: &str, parts: &[&[u8]]) -> Vec<u8> {
        // Any key length is valid for HMAC, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(domain.as_bytes());
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// The row key of a string-keyed entry.
    pub(super) fn key(&self, ns: Ns, parts: &[&str]) -> Vec<u8> {
        let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        self.mac(ns.label(), &parts)
    }

    /// A lookup column value (`grp`, `member`) for `domain` ("user", "group", "phone", ...).
    pub(super) fn group(&self, domain: &str, value: &str) -> Vec<u8> {
        self.mac(&format!("group/{domain}"), &[value.as_bytes()])
    }
}

/// Row keys of id-keyed namespaces (pre-keys): plain big-endian ids, so `num` and `k` agree.
pub(super) fn id_key(id: u32) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// One row to upsert: the plaintext is sealed on write.
#[derive(Default)]
pub(super) struct Row {
    pub k: Vec<u8>,
    pub plain: Vec<u8>,
    pub grp: Option<Vec<u8>>,
    pub member: Option<Vec<u8>>,
    pub num: Option<i64>,
    pub flag: Option<bool>,
    pub ts: Option<i64>,
    pub ts2: Option<i64>,
}

impl Row {
    pub(super) fn new(k: Vec<u8>, plain: Vec<u8>) -> Self {
        Self {
            k,
            plain,
            ..Self::default()
        }
    }
}

/// Keeps the last row per key: one `insert .. on conflict do update` may not touch a row twice, and a batch
/// that names a key twice means "the last value wins", as the per-item default would have done.
pub(super) fn last_per_key(rows: Vec<Row>) -> Vec<Row> {
    let mut position: HashMap<Vec<u8>, usize> = HashMap::with_capacity(rows.len());
    let mut out: Vec<Option<Row>> = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(&i) = position.get(&row.k) {
            out[i] = None;
        }
        position.insert(row.k.clone(), out.len());
        out.push(Some(row));
    }
    out.into_iter().flatten().collect()
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| SessionStoreError::Decode { what, source })
}

pub(super) fn encode<T: serde::Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|source| SessionStoreError::Encode { what, source })
}

impl PgSessionStore {
    /// AAD purpose: tenant (added by `DataKey`), namespace and row key. The hashed key stands for the clear
    /// one, so even rows read by enumeration (no clear key in hand) can be opened.
    fn purpose(ns: Ns, k: &[u8]) -> String {
        format!("wa/{}/{}", ns.label(), hex::encode(k))
    }

    pub(super) fn seal_row(&self, ns: Ns, k: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        Ok(self.key.seal(&Self::purpose(ns, k), plain)?)
    }

    pub(super) fn open_row(&self, ns: Ns, k: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        Ok(self.key.open(&Self::purpose(ns, k), sealed)?)
    }

    /// Upserts `rows` in one statement; every column of an existing row is replaced.
    pub(super) async fn put_rows_in(
        &self,
        tx: &mut TenantTx<'_>,
        ns: Ns,
        rows: Vec<Row>,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let sealed = last_per_key(rows)
            .into_iter()
            .map(|row| {
                Ok(SealedRow {
                    sealed: self.seal_row(ns, &row.k, &row.plain)?,
                    k: row.k,
                    grp: row.grp,
                    member: row.member,
                    num: row.num,
                    flag: row.flag,
                    ts: row.ts,
                    ts2: row.ts2,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        wa_kv::put(tx, ns.id(), sealed).await?;
        Ok(())
    }

    pub(super) async fn put_rows(&self, ns: Ns, rows: Vec<Row>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        self.put_rows_in(&mut tx, ns, rows).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn put(&self, ns: Ns, row: Row) -> Result<()> {
        self.put_rows(ns, vec![row]).await
    }

    pub(super) async fn get_in(
        &self,
        tx: &mut TenantTx<'_>,
        ns: Ns,
        k: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let sealed = wa_kv::get(tx, ns.id(), k).await?;
        sealed.map(|s| self.open_row(ns, k, &s)).transpose()
    }

    pub(super) async fn get(&self, ns: Ns, k: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut tx = self.begin().await?;
        let value = self.get_in(&mut tx, ns, k).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// The rows among `keys` that exist, as `(k, plaintext)`, in one query.
    pub(super) async fn get_many(
        &self,
        ns: Ns,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let rows = wa_kv::get_many(&mut tx, ns.id(), &keys).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| {
                let plain = self.open_row(ns, &row.k, &row.sealed)?;
                Ok((row.k, plain))
            })
            .collect()
    }

    pub(super) async fn delete(&self, ns: Ns, k: Vec<u8>) -> Result<()> {
        self.delete_many(ns, vec![k]).await
    }

    pub(super) async fn delete_many(&self, ns: Ns, keys: Vec<Vec<u8>>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        wa_kv::delete_keys(&mut tx, ns.id(), &keys).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the rows of `ns` whose `ts` is below `cutoff` (stored-at sweeps); returns how many went.
    pub(super) async fn delete_older_than(&self, ns: Ns, cutoff: i64) -> Result<u32> {
        let mut tx = self.begin().await?;
        let deleted = wa_kv::delete_older_than(&mut tx, ns.id(), cutoff).await?;
        tx.commit().await?;
        Ok(saturating_u32(deleted))
    }

    /// Every row of `ns` whose `grp` is `grp`, opened, with its flag.
    pub(super) async fn get_group(
        &self,
        ns: Ns,
        grp: &[u8],
    ) -> Result<Vec<(Vec<u8>, Option<bool>)>> {
        let mut tx = self.begin().await?;
        let rows = wa_kv::in_group(&mut tx, ns.id(), grp).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| Ok((self.open_row(ns, &row.k, &row.sealed)?, row.flag)))
            .collect()
    }

    /// Every row of `ns`, opened.
    pub(super) async fn get_all(&self, ns: Ns) -> Result<Vec<Vec<u8>>> {
        let mut tx = self.begin().await?;
        let rows = wa_kv::all(&mut tx, ns.id()).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| self.open_row(ns, &row.k, &row.sealed))
            .collect()
    }

    /// Deletes the rows of `ns` whose `column` (`grp` or `member`) is one of `values`, or every row of `ns`
    /// when `values` is `None`.
    pub(super) async fn delete_where(
        &self,
        ns: Ns,
        column: LookupColumn,
        values: Option<Vec<Vec<u8>>>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        match (column, values) {
            (_, None) => wa_kv::delete_namespace(&mut tx, ns.id()).await?,
            (LookupColumn::Grp, Some(grps)) => {
                wa_kv::delete_groups(&mut tx, ns.id(), &grps).await?
            }
            (LookupColumn::Member, Some(members)) => {
                wa_kv::delete_members(&mut tx, ns.id(), &members).await?
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum LookupColumn {
    Grp,
    Member,
}

pub(super) fn saturating_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_the_last_value_of_a_repeated_key() {
        let rows = vec![
            Row::new(vec![1], b"a".to_vec()),
            Row::new(vec![2], b"b".to_vec()),
            Row::new(vec![1], b"c".to_vec()),
        ];
        let kept: Vec<(Vec<u8>, Vec<u8>)> = last_per_key(rows)
            .into_iter()
            .map(|r| (r.k, r.plain))
            .collect();
        assert_eq!(
            kept,
            vec![(vec![2], b"b".to_vec()), (vec![1], b"c".to_vec())]
        );
    }

    #[test]
    fn hashed_keys_depend_on_tenant_namespace_and_part_boundaries() {
        let master = MasterKey::from_bytes([3u8; 32]);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ka = IndexKey::derive(&master, a);
        let kb = IndexKey::derive(&master, b);
        let jid = "2250700000000@s.whatsapp.net";
        assert_ne!(ka.key(Ns::Session, &[jid]), kb.key(Ns::Session, &[jid]));
        assert_ne!(ka.key(Ns::Session, &[jid]), ka.key(Ns::Identity, &[jid]));
        assert_ne!(
            ka.key(Ns::BaseKey, &["ab", "c"]),
            ka.key(Ns::BaseKey, &["a", "bc"])
        );
        assert_eq!(ka.key(Ns::Session, &[jid]), ka.key(Ns::Session, &[jid]));
    }
}
