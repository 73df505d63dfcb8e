//! `wa_kv`: the sealed key-value rows of a tenant's WhatsApp session, by namespace (`ns`, numbered by the
//! ingress) and hashed key (`k`). Values arrive sealed and keys hashed; the plaintext columns are only what
//! the library's lookups, merges and expiry sweeps need (see migration 0005).

use crate::{Result, TenantTx};

/// One row to upsert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedRow {
    pub k: Vec<u8>,
    pub sealed: Vec<u8>,
    /// Hashed group the row belongs to (a user, a group, a phone number, a collection).
    pub grp: Option<Vec<u8>>,
    /// Hashed member (a sender-key device), for deletes across groups.
    pub member: Option<Vec<u8>>,
    pub num: Option<i64>,
    pub flag: Option<bool>,
    pub ts: Option<i64>,
    pub ts2: Option<i64>,
}

/// A row read back: its key and sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub k: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// A row read back with its flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedValue {
    pub k: Vec<u8>,
    pub sealed: Vec<u8>,
    pub flag: Option<bool>,
}

/// A row read back with its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberedValue {
    pub k: Vec<u8>,
    pub sealed: Vec<u8>,
    pub num: Option<i64>,
}

/// A row read back with its two timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedValue {
    pub sealed: Vec<u8>,
    pub ts: Option<i64>,
    pub ts2: Option<i64>,
}

/// Upserts `rows` of `ns` in one statement; every column of an existing row is replaced. A key may appear
/// only once (one statement cannot update a row twice).
pub async fn put(tx: &mut TenantTx<'_>, ns: i16, rows: Vec<SealedRow>) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len();
    let (mut k, mut sealed, mut grp, mut member) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut num, mut flag, mut ts, mut ts2) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for row in rows {
        k.push(row.k);
        sealed.push(row.sealed);
        grp.push(row.grp);
        member.push(row.member);
        num.push(row.num);
        flag.push(row.flag);
        ts.push(row.ts);
        ts2.push(row.ts2);
    }
    // The nullable columns bind as arrays with null elements, which the macro cannot type-check: overridden.
    sqlx::query!(
        "insert into wa_kv (tenant_id, ns, k, sealed, grp, member, num, flag, ts, ts2)
         select $1, $2, r.k, r.sealed, r.grp, r.member, r.num, r.flag, r.ts, r.ts2
         from unnest($3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::int8[], $8::bool[],
                     $9::int8[], $10::int8[]) as r(k, sealed, grp, member, num, flag, ts, ts2)
         on conflict (tenant_id, ns, k) do update set sealed = excluded.sealed, grp = excluded.grp,
           member = excluded.member, num = excluded.num, flag = excluded.flag, ts = excluded.ts,
           ts2 = excluded.ts2, updated_at = clock_timestamp()",
        tx.tenant_id(),
        ns,
        &k,
        &sealed,
        &grp as &[Option<Vec<u8>>],
        &member as &[Option<Vec<u8>>],
        &num as &[Option<i64>],
        &flag as &[Option<bool>],
        &ts as &[Option<i64>],
        &ts2 as &[Option<i64>],
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The sealed value of one key.
pub async fn get(tx: &mut TenantTx<'_>, ns: i16, k: &[u8]) -> Result<Option<Vec<u8>>> {
    Ok(sqlx::query_scalar!(
        "select sealed from wa_kv where tenant_id = $1 and ns = $2 and k = $3",
        tx.tenant_id(),
        ns,
        k,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// One key's sealed value with its number.
pub async fn get_numbered(
    tx: &mut TenantTx<'_>,
    ns: i16,
    k: &[u8],
) -> Result<Option<NumberedValue>> {
    Ok(sqlx::query_as!(
        NumberedValue,
        "select k, sealed, num from wa_kv where tenant_id = $1 and ns = $2 and k = $3",
        tx.tenant_id(),
        ns,
        k,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// One key's sealed value with its timestamps.
pub async fn get_timed(tx: &mut TenantTx<'_>, ns: i16, k: &[u8]) -> Result<Option<TimedValue>> {
    Ok(sqlx::query_as!(
        TimedValue,
        "select sealed, ts, ts2 from wa_kv where tenant_id = $1 and ns = $2 and k = $3",
        tx.tenant_id(),
        ns,
        k,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// The rows among `keys` that exist, in one `= any(..)` query.
pub async fn get_many(
    tx: &mut TenantTx<'_>,
    ns: i16,
    keys: &[Vec<u8>],
) -> Result<Vec<SealedValue>> {
    Ok(sqlx::query_as!(
        SealedValue,
        "select k, sealed from wa_kv where tenant_id = $1 and ns = $2 and k = any($3)",
        tx.tenant_id(),
        ns,
        keys,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Every row of `ns`.
pub async fn all(tx: &mut TenantTx<'_>, ns: i16) -> Result<Vec<SealedValue>> {
    Ok(sqlx::query_as!(
        SealedValue,
        "select k, sealed from wa_kv where tenant_id = $1 and ns = $2",
        tx.tenant_id(),
        ns,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Every row of `ns`, by ascending number.
pub async fn all_by_num(tx: &mut TenantTx<'_>, ns: i16) -> Result<Vec<NumberedValue>> {
    Ok(sqlx::query_as!(
        NumberedValue,
        "select k, sealed, num from wa_kv where tenant_id = $1 and ns = $2 order by num",
        tx.tenant_id(),
        ns,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Every row of `ns` in group `grp`, with its flag.
pub async fn in_group(tx: &mut TenantTx<'_>, ns: i16, grp: &[u8]) -> Result<Vec<FlaggedValue>> {
    Ok(sqlx::query_as!(
        FlaggedValue,
        "select k, sealed, flag from wa_kv where tenant_id = $1 and ns = $2 and grp = $3",
        tx.tenant_id(),
        ns,
        grp,
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// The row of group `grp` with the highest number, the most recently written among equals.
pub async fn newest_in_group(
    tx: &mut TenantTx<'_>,
    ns: i16,
    grp: &[u8],
) -> Result<Option<SealedValue>> {
    Ok(sqlx::query_as!(
        SealedValue,
        "select k, sealed from wa_kv where tenant_id = $1 and ns = $2 and grp = $3
         order by num desc, updated_at desc limit 1",
        tx.tenant_id(),
        ns,
        grp,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// The row of `ns` written last (`updated_at` is the write's clock time, even within one transaction).
pub async fn last_written(tx: &mut TenantTx<'_>, ns: i16) -> Result<Option<SealedValue>> {
    Ok(sqlx::query_as!(
        SealedValue,
        "select k, sealed from wa_kv where tenant_id = $1 and ns = $2
         order by updated_at desc, k desc limit 1",
        tx.tenant_id(),
        ns,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Whether the key exists, without reading its value.
pub async fn exists(tx: &mut TenantTx<'_>, ns: i16, k: &[u8]) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from wa_kv where tenant_id = $1 and ns = $2 and k = $3) as "exists!""#,
        tx.tenant_id(),
        ns,
        k,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Whether any row of the namespaces `ns` belongs to group `grp`.
pub async fn group_exists(tx: &mut TenantTx<'_>, ns: &[i16], grp: &[u8]) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from wa_kv where tenant_id = $1 and ns = any($2) and grp = $3) as "exists!""#,
        tx.tenant_id(),
        ns,
        grp,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The highest number in `ns`, if it has a numbered row.
pub async fn max_num(tx: &mut TenantTx<'_>, ns: i16) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar!(
        "select max(num) from wa_kv where tenant_id = $1 and ns = $2",
        tx.tenant_id(),
        ns,
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Sets the flag of the existing rows whose number is in `nums`; creates none.
pub async fn flag_numbers(tx: &mut TenantTx<'_>, ns: i16, nums: &[i64]) -> Result<()> {
    sqlx::query!(
        "update wa_kv set flag = true, updated_at = clock_timestamp()
         where tenant_id = $1 and ns = $2 and num = any($3)",
        tx.tenant_id(),
        ns,
        nums,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_keys(tx: &mut TenantTx<'_>, ns: i16, keys: &[Vec<u8>]) -> Result<()> {
    sqlx::query!(
        "delete from wa_kv where tenant_id = $1 and ns = $2 and k = any($3)",
        tx.tenant_id(),
        ns,
        keys,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes one key and returns its sealed value: of two concurrent takes, exactly one gets it.
pub async fn take(tx: &mut TenantTx<'_>, ns: i16, k: &[u8]) -> Result<Option<Vec<u8>>> {
    Ok(sqlx::query_scalar!(
        r#"delete from wa_kv where tenant_id = $1 and ns = $2 and k = $3 returning sealed as "sealed!""#,
        tx.tenant_id(),
        ns,
        k,
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Deletes every row of `ns`.
pub async fn delete_namespace(tx: &mut TenantTx<'_>, ns: i16) -> Result<()> {
    sqlx::query!(
        "delete from wa_kv where tenant_id = $1 and ns = $2",
        tx.tenant_id(),
        ns,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the rows of `ns` whose group is one of `grps`.
pub async fn delete_groups(tx: &mut TenantTx<'_>, ns: i16, grps: &[Vec<u8>]) -> Result<()> {
    sqlx::query!(
        "delete from wa_kv where tenant_id = $1 and ns = $2 and grp = any($3)",
        tx.tenant_id(),
        ns,
        grps,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the rows of `ns` whose member is one of `members`, whatever their group.
pub async fn delete_members(tx: &mut TenantTx<'_>, ns: i16, members: &[Vec<u8>]) -> Result<()> {
    sqlx::query!(
        "delete from wa_kv where tenant_id = $1 and ns = $2 and member = any($3)",
        tx.tenant_id(),
        ns,
        members,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the rows of `ns` stamped (`ts`) before `cutoff`; returns how many went.
pub async fn delete_older_than(tx: &mut TenantTx<'_>, ns: i16, cutoff: i64) -> Result<u64> {
    let done = sqlx::query!(
        "delete from wa_kv where tenant_id = $1 and ns = $2 and ts < $3",
        tx.tenant_id(),
        ns,
        cutoff,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes the rows of `ns` whose deadline (`ts`, `0` = never) is at or before `cutoff`; returns how many went.
pub async fn delete_past_deadline(tx: &mut TenantTx<'_>, ns: i16, cutoff: i64) -> Result<u64> {
    let done = sqlx::query!(
        "delete from wa_kv where tenant_id = $1 and ns = $2 and ts <> 0 and ts <= $3",
        tx.tenant_id(),
        ns,
        cutoff,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// One message secret to merge: the deadline (`0` = never) and the parent message's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgSecretRow {
    pub k: Vec<u8>,
    pub sealed: Vec<u8>,
    pub expires_at: i64,
    pub message_ts: i64,
}

/// Upserts message secrets in one statement. On conflict the deadline merges as whatsapp-rust's
/// `merge_msg_secret_expiry` (`0` = never wins, else the later one) and the message time as
/// `merge_msg_secret_message_ts` (the later one), atomically. A key may appear only once.
pub async fn merge_msg_secrets(
    tx: &mut TenantTx<'_>,
    ns: i16,
    rows: Vec<MsgSecretRow>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len();
    let (mut k, mut sealed, mut expires, mut message_ts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for row in rows {
        k.push(row.k);
        sealed.push(row.sealed);
        expires.push(row.expires_at);
        message_ts.push(row.message_ts);
    }
    sqlx::query!(
        "insert into wa_kv (tenant_id, ns, k, sealed, ts, num)
         select $1, $2, r.k, r.sealed, r.ts, r.num
         from unnest($3::bytea[], $4::bytea[], $5::int8[], $6::int8[]) as r(k, sealed, ts, num)
         on conflict (tenant_id, ns, k) do update set sealed = excluded.sealed,
           ts = case when wa_kv.ts = 0 or excluded.ts = 0 then 0 else greatest(wa_kv.ts, excluded.ts) end,
           num = greatest(wa_kv.num, excluded.num), updated_at = clock_timestamp()",
        tx.tenant_id(),
        ns,
        &k,
        &sealed,
        &expires,
        &message_ts,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the trusted-contact tokens whose two windows are both dead: the received token is a placeholder
/// (`flag` false) or older than `token_cutoff`, and the sender time (`ts2`) is absent or older than
/// `sender_cutoff`. Returns how many went.
pub async fn delete_expired_tc_tokens(
    tx: &mut TenantTx<'_>,
    ns: i16,
    token_cutoff: i64,
    sender_cutoff: i64,
) -> Result<u64> {
    let done = sqlx::query!(
        "delete from wa_kv where tenant_id = $1 and ns = $2
         and (not coalesce(flag, false) or ts < $3) and (ts2 is null or ts2 < $4)",
        tx.tenant_id(),
        ns,
        token_cutoff,
        sender_cutoff,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Inserts a token-less placeholder (`sealed`) stamped `sender_ts`, or only advances the sender time
/// (`ts2`) of an existing row, so a concurrently stored real token is never replaced and the sender time
/// never goes back.
pub async fn touch_tc_token_sender_time(
    tx: &mut TenantTx<'_>,
    ns: i16,
    k: &[u8],
    sealed: &[u8],
    sender_ts: i64,
) -> Result<()> {
    sqlx::query!(
        "insert into wa_kv (tenant_id, ns, k, sealed, flag, ts, ts2) values ($1, $2, $3, $4, false, $5, $5)
         on conflict (tenant_id, ns, k) do update
         set ts2 = greatest(wa_kv.ts2, excluded.ts2), updated_at = clock_timestamp()",
        tx.tenant_id(),
        ns,
        k,
        sealed,
        sender_ts,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores a received token (`has_token` false for a placeholder) with newer-wins: the stored pair is
/// replaced only when it is a placeholder or not newer than `token_ts`; the sender time (`ts2`) is never
/// touched.
pub async fn store_received_tc_token(
    tx: &mut TenantTx<'_>,
    ns: i16,
    k: &[u8],
    sealed: &[u8],
    has_token: bool,
    token_ts: i64,
) -> Result<()> {
    sqlx::query!(
        "insert into wa_kv (tenant_id, ns, k, sealed, flag, ts, ts2) values ($1, $2, $3, $4, $5, $6, null)
         on conflict (tenant_id, ns, k) do update
         set sealed = excluded.sealed, flag = excluded.flag, ts = excluded.ts, updated_at = clock_timestamp()
         where not coalesce(wa_kv.flag, false) or excluded.ts >= wa_kv.ts",
        tx.tenant_id(),
        ns,
        k,
        sealed,
        has_token,
        token_ts,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
