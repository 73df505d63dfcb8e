-- WhatsApp Web session storage: what `whatsapp-rust` persists for one linked device, per tenant
-- (ingress/src/whatsapp/store implements the crate's storage traits on these two tables).
--
-- Any ingress node must be able to resume any tenant's session, so the Signal state lives here rather than on
-- a node's disk. Every value is sealed (AES-256-GCM) with the tenant's data key from `tenant_key`; the associated
-- data binds the tenant, the namespace and the row key, so a value copied to another row or tenant fails to
-- open instead of decrypting to the wrong secret.
--
-- Row keys are JIDs and addresses, that is, customer phone numbers and the LIDs WhatsApp uses to hide them. They
-- are never stored in clear: `k` and the lookup columns `grp`/`member` hold HMAC-SHA256 values under a per-tenant
-- index key derived from the master key, and the clear key, when a method has to return it, travels inside
-- `sealed`. Only what the library's range and expiry queries need is plaintext: pre-key ids (`num`, for
-- `get_max_prekey_id`; random numbers, not personal data), unix-second timestamps (`ts`, `ts2`, `num`) and flags.
create table wa_kv (
  tenant_id uuid not null references tenant on delete cascade,
  -- Namespace (identity, session, pre-key, ...): the `Ns` enum in ingress/src/whatsapp/store/kv.rs.
  ns smallint not null check (ns between 1 and 32),
  -- HMAC of the namespace and the clear key; for pre-keys and signed pre-keys the 4-byte big-endian id.
  k bytea not null check (length(k) between 1 and 32),
  -- version (1) || nonce (12) || ciphertext+tag, see store::crypto.
  sealed bytea not null,
  -- HMAC of the group a row belongs to: the user of a session or identity (`has_signal_state_for_user`), the
  -- group of a sender-key device, the phone number of a LID mapping (`get_pn_mapping`), the collection of a
  -- mutation MAC (`clear_mutation_macs`).
  grp bytea,
  -- HMAC of a sender-key device JID, so `delete_sender_key_device_rows` can delete across groups.
  member bytea,
  -- Pre-key id (max, batch loads); parent message time of a message secret; `updated_at` of a LID mapping
  -- (the most recent one wins a phone-number lookup).
  num bigint,
  -- Pre-key uploaded; sender-key device has its key; tc token holds real token bytes (not a placeholder).
  flag boolean,
  -- Unix seconds, per namespace: stored-at for sent messages and pending inbound messages (expiry sweeps),
  -- token time of a tc token, deadline of a message secret (0 = never).
  ts bigint,
  -- Unix seconds: sender time of a tc token. A separate column so the two tc-token writers merge atomically
  -- in SQL, each touching only its own field.
  ts2 bigint,
  -- clock_timestamp(), not now(): "latest sync key" is the last one written, even within one transaction.
  updated_at timestamptz not null default clock_timestamp(),
  primary key (tenant_id, ns, k)
);
create index wa_kv_grp on wa_kv (tenant_id, ns, grp) where grp is not null;
create index wa_kv_member on wa_kv (tenant_id, ns, member) where member is not null;
create index wa_kv_num on wa_kv (tenant_id, ns, num) where num is not null;
create index wa_kv_ts on wa_kv (tenant_id, ns, ts) where ts is not null;
select tdj_isolate_tenant_table('wa_kv');

-- The linked device itself (`whatsapp_rust::wacore::store::Device`: Noise and identity key pairs, registration
-- id, our JIDs, ...), one per tenant, serialised and sealed as a whole.
create table wa_device (
  tenant_id uuid primary key references tenant on delete cascade,
  sealed bytea not null,
  -- Bumped on every save: lets an operator see a session is alive, and is the hook for fencing later.
  version bigint not null default 1,
  updated_at timestamptz not null default now()
);
select tdj_isolate_tenant_table('wa_device');
