-- Entries a chat's turn queues carry the chat: right after the turn commits, the worker publishes that chat's
-- unpublished entries itself, oldest first (an earlier one left by a crashed worker goes first), without the
-- shop-wide publisher lock, and marks them published in batches. A crash between publish and mark only
-- republishes, which JetStream's dedup window drops.
alter table outbox add column chat_id uuid;
create index outbox_unpublished_chat on outbox (tenant_id, chat_id, outbox_id)
  where published_at is null and chat_id is not null;
