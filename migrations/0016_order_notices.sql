-- What the customer is told on WhatsApp when the shop confirms, delivers or cancels an order: a text per
-- status chosen by the shop (absent: the default text; empty: nothing is sent).
alter table bot_setting
  add column order_messages jsonb not null default '{}' check (jsonb_typeof(order_messages) = 'object');
