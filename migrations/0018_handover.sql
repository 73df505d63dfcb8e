-- A conversation the bot handed over to the shop (it could not help): why and since when, until the shop
-- answers by hand. The shop's alert number gets a WhatsApp message when a conversation is handed over.
alter table chat
  add column attention_reason text check (length(attention_reason) <= 300),
  add column attention_at timestamptz;
create index chat_attention on chat (tenant_id, attention_at) where attention_at is not null;

alter table bot_setting add column alert_phone text not null default '' check (alert_phone ~ '^[0-9]{0,15}$');
