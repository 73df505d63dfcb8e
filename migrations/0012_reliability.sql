-- Reliability of the pipeline (every customer message answered once, through failures).

-- A turn that failed (model error, timeout, stock moved under it) is retried after a backoff, never before:
-- `retry_at` holds the chat back from every worker and the sweeper, `failed_turns` counts consecutive
-- failures; at the poison limit the pending messages are dead-lettered. Infrastructure errors (database,
-- NATS) never count here.
alter table chat
  add column failed_turns integer not null default 0,
  add column retry_at timestamptz;

-- The sweeper's fair pick ("oldest waiting chats, round-robin across shops") reads pending messages by age.
create index message_pending_age on message (created_at) where status = 'pending';

-- Published outbox entries are pruned; this index keeps the pruning cheap.
create index outbox_published on outbox (published_at) where published_at is not null;
