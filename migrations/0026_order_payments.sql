-- Customers pay their orders inside the chat, on the shop's own merchant account. The bot sends a link of ours
-- (`/pay/<token>`, one per order and method, for exactly the order's total); the API opens the provider's
-- checkout with the shop's credentials on the first visit, and the provider's webhook — verified with the
-- shop's own signing secret — marks the order paid.
create table order_payment (
  tenant_id uuid not null references tenant on delete cascade,
  order_payment_id uuid not null default gen_random_uuid(),
  order_id uuid not null,
  provider text not null check (provider in ('wave', 'orange_money', 'sandbox')),
  amount_xof bigint not null check (amount_xof > 0),
  currency text not null default 'XOF' check (currency = 'XOF'),
  status text not null default 'pending' check (status in ('pending', 'paid', 'expired', 'failed')),
  -- The link's secret part: 32 random bytes, URL-safe base64. Knowing it is what lets a visitor pay the order.
  token text not null unique check (length(token) between 32 and 64),
  -- The provider's checkout (Wave `cos-…`, Orange Money order id), its page, and Orange Money's pay token and
  -- the hash of its notification token.
  provider_ref text,
  checkout_url text check (length(checkout_url) <= 2048),
  pay_token text,
  notif_token_hash bytea,
  expires_at timestamptz not null,
  paid_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, order_payment_id),
  -- One link per order and method: asking again returns the same one.
  unique (tenant_id, order_id, provider),
  foreign key (tenant_id, order_id) references customer_order on delete cascade
);
create index order_payment_due on order_payment (expires_at) where status = 'pending';
select tdj_isolate_tenant_table('order_payment');

-- Each provider notification once (event ids are the provider's).
create table order_payment_event (
  tenant_id uuid not null references tenant on delete cascade,
  provider text not null,
  event_id text not null check (length(event_id) <= 200),
  received_at timestamptz not null default now(),
  primary key (tenant_id, provider, event_id)
);
select tdj_isolate_tenant_table('order_payment_event');

-- What the shop sees on the order: paid (when, how), and a refund to do once a paid order is cancelled.
alter table customer_order
  add column paid_at timestamptz,
  add column paid_with text check (paid_with in ('wave', 'orange_money', 'sandbox')),
  add column refund_status text check (refund_status in ('to_do', 'done'));
