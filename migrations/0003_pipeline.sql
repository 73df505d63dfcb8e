-- The sales-bot pipeline: chat claims (one worker per chat at a time), message states, order references,
-- per-month usage counters and dead letters.

-- A worker claims a chat before answering it; the claim expires so a crashed worker's chat is picked up again.
alter table chat
  add column claimed_by text,
  add column claim_expires_at timestamptz,
  -- Highest inbound-stream sequence of this chat known to be stored: a turn first stores any earlier message
  -- of the chat still in flight, so replies follow the customer's order even with concurrent deliveries.
  add column ingested_seq bigint not null default 0;
create index chat_claim_expiry on chat (claim_expires_at) where claim_expires_at is not null;

-- Inbound: pending until answered in a turn (or skipped: bot paused, subscription suspended, limit reached).
-- Outbound: queued for the ingress, then sent or failed; simulator replies are 'sent' at once.
alter table message
  add column status text not null default 'pending'
    check (status in ('pending', 'answered', 'skipped', 'queued', 'sent', 'failed')),
  -- Who wrote an outbound message: the bot, or the shop owner from the phone (human takeover).
  add column author text not null default 'customer' check (author in ('customer', 'bot', 'owner')),
  add column in_reply_to uuid,
  add column status_detail text not null default '',
  -- When the customer sent it (WhatsApp's timestamp): turns answer messages in this order.
  add column sent_at timestamptz not null default now(),
  -- Sequence in the inbound stream: a turn answers only messages up to the chat's ingested_seq.
  add column stream_seq bigint;
create index message_tenant_chat_pending on message (tenant_id, chat_id, sent_at) where status = 'pending';

-- A short reference customers can quote ("CMD-1A2B3C4D").
alter table customer_order
  add column order_ref text not null,
  add column customer_jid text not null default '';
create unique index customer_order_ref on customer_order (tenant_id, order_ref);
create index customer_order_tenant_chat on customer_order (tenant_id, chat_id);

-- Counters for plan limits and the operator's dashboards, one row per tenant and calendar month (UTC).
create table tenant_usage (
  tenant_id uuid not null references tenant on delete cascade,
  month date not null check (extract(day from month) = 1),
  bot_replies integer not null default 0,
  inbound_messages integer not null default 0,
  llm_prompt_tokens bigint not null default 0,
  llm_output_tokens bigint not null default 0,
  primary key (tenant_id, month)
);
select tdj_isolate_tenant_table('tenant_usage');

-- Messages the pipeline gave up on after its retries: never dropped silently, listed to the shop and operator.
create table dead_letter (
  tenant_id uuid not null references tenant on delete cascade,
  dead_letter_id uuid not null default gen_random_uuid(),
  subject text not null,
  wa_message_id text not null default '',
  payload jsonb not null,
  reason text not null,
  deliveries integer not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, dead_letter_id)
);
create index dead_letter_tenant_created on dead_letter (tenant_id, created_at desc);
select tdj_isolate_tenant_table('dead_letter');

-- Transactional outbox: replies to send and domain events are written in the same transaction as the change
-- they describe, then published to NATS (with their id as Nats-Msg-Id, so a re-publish is deduplicated).
create table outbox (
  tenant_id uuid not null references tenant on delete cascade,
  outbox_id bigint generated always as identity,
  subject text not null,
  msg_id text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  published_at timestamptz,
  primary key (tenant_id, outbox_id)
);
create index outbox_unpublished on outbox (tenant_id, outbox_id) where published_at is null;
select tdj_isolate_tenant_table('outbox');
