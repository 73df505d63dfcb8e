-- What the customer is told on WhatsApp when the shop confirms, delivers or cancels an order: a text per
-- status chosen by the shop (absent: the default text; empty: nothing is sent).
alter table bot_setting
  add column order_messages jsonb not null default '{}' check (jsonb_typeof(order_messages) = 'object');

-- `auto`: the bot answers in French, or in English to a customer who writes in English.
alter table bot_setting drop constraint bot_setting_language_check;
alter table bot_setting add constraint bot_setting_language_check check (language in ('fr', 'en', 'auto'));
