-- Core model: tenants, their users, plans and subscriptions, catalogue, bot identity, conversations, orders,
-- WhatsApp session state, per-tenant data keys and the audit log. Every tenant table leads with tenant_id.

-- Plans are the platform's catalogue, shared by all tenants: read-only to the application.
create table plan (
  plan_code text primary key check (plan_code ~ '^[a-z][a-z0-9_]{1,30}$'),
  name text not null,
  price_xof bigint not null check (price_xof >= 0),
  -- Limits the product enforces; null means unlimited.
  max_products integer check (max_products >= 0),
  max_replies_per_month integer check (max_replies_per_month >= 0),
  max_staff_users integer check (max_staff_users >= 0),
  sort_order integer not null default 0,
  active boolean not null default true
);
revoke insert, update, delete on plan from tdjaasa_app;

insert into plan (plan_code, name, price_xof, max_products, max_replies_per_month, max_staff_users, sort_order) values
  ('starter', 'Starter', 5000, 50, 1000, 1, 1),
  ('pro', 'Pro', 10000, 500, 5000, 3, 2),
  ('business', 'Business', 15000, null, 20000, 10, 3);

create table tenant (
  tenant_id uuid primary key,
  name text not null check (length(name) between 2 and 120),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  -- Set by the platform operator; 'suspended' silences the bot whatever the subscription says.
  status text not null default 'active' check (status in ('active', 'suspended')),
  plan_code text not null references plan,
  created_at timestamptz not null default now()
);
select tdj_isolate_tenant_table('tenant');

create table app_user (
  user_id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenant on delete cascade,
  -- Stored lower-case so uniqueness is case-insensitive; unique across tenants because login is by e-mail.
  email text not null unique check (email = lower(email) and length(email) <= 254),
  password_hash text not null,
  role text not null check (role in ('owner', 'staff', 'platform_admin')),
  created_at timestamptz not null default now()
);
create index app_user_tenant on app_user (tenant_id);
select tdj_isolate_tenant_table('app_user');

-- One row per tenant: the subscription's current state. Payments are the history.
create table subscription (
  tenant_id uuid primary key references tenant on delete cascade,
  plan_code text not null references plan,
  status text not null default 'pending' check (status in ('pending', 'active', 'past_due', 'suspended')),
  expires_at timestamptz,
  updated_at timestamptz not null default now()
);
select tdj_isolate_tenant_table('subscription');

create table payment (
  tenant_id uuid not null references tenant on delete cascade,
  payment_id uuid not null default gen_random_uuid(),
  plan_code text not null references plan,
  provider text not null check (provider in ('wave', 'orange_money', 'stripe', 'sandbox')),
  amount_xof bigint not null check (amount_xof > 0),
  currency text not null default 'XOF',
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed', 'flagged')),
  -- A double click reuses the same pending payment instead of charging twice.
  idempotency_key text not null,
  provider_ref text,
  checkout_url text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, payment_id),
  unique (tenant_id, idempotency_key)
);
create unique index payment_provider_ref on payment (provider, provider_ref) where provider_ref is not null;
select tdj_isolate_tenant_table('payment');

create table product (
  tenant_id uuid not null references tenant on delete cascade,
  product_id uuid not null default gen_random_uuid(),
  sku text check (length(sku) between 1 and 64),
  name text not null check (length(name) between 1 and 200),
  description text not null default '' check (length(description) <= 2000),
  category text not null default '' check (length(category) <= 100),
  price_xof bigint not null check (price_xof >= 0),
  -- null means unlimited (services, made to order).
  stock integer check (stock >= 0),
  image_url text check (length(image_url) <= 2048),
  attributes jsonb not null default '{}' check (jsonb_typeof(attributes) = 'object'),
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, product_id)
);
create unique index product_tenant_sku on product (tenant_id, sku) where sku is not null;
create index product_tenant_name on product (tenant_id, lower(name));
select tdj_isolate_tenant_table('product');

create table bot_setting (
  tenant_id uuid primary key references tenant on delete cascade,
  bot_name text not null default 'Awa' check (length(bot_name) between 1 and 60),
  tone text not null default 'friendly' check (tone in ('friendly', 'professional', 'casual', 'enthusiastic')),
  language text not null default 'fr' check (language in ('fr', 'en')),
  instructions text not null default '' check (length(instructions) <= 4000),
  -- [{"day": 0..6 (0 = Monday), "open": "HH:MM", "close": "HH:MM"}]; empty means always open.
  business_hours jsonb not null default '[]' check (jsonb_typeof(business_hours) = 'array'),
  out_of_hours_message text not null default '' check (length(out_of_hours_message) <= 1000),
  updated_at timestamptz not null default now()
);
select tdj_isolate_tenant_table('bot_setting');

create table chat (
  tenant_id uuid not null references tenant on delete cascade,
  chat_id uuid not null default gen_random_uuid(),
  channel text not null check (channel in ('whatsapp', 'simulator')),
  -- The customer's WhatsApp JID (or the simulator's phone number).
  customer_jid text not null,
  customer_name text not null default '',
  -- The shop owner took the conversation over by hand: the bot stays silent until then.
  bot_paused_until timestamptz,
  last_message_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, chat_id),
  unique (tenant_id, channel, customer_jid)
);
select tdj_isolate_tenant_table('chat');

create table message (
  tenant_id uuid not null,
  message_id uuid not null default gen_random_uuid(),
  chat_id uuid not null,
  direction text not null check (direction in ('inbound', 'outbound')),
  -- WhatsApp's id for inbound messages, our outbound id for replies: storing twice is a no-op.
  wa_message_id text not null,
  body text not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, message_id),
  unique (tenant_id, wa_message_id),
  foreign key (tenant_id, chat_id) references chat on delete cascade
);
create index message_tenant_chat on message (tenant_id, chat_id, created_at);
select tdj_isolate_tenant_table('message');

create table customer_order (
  tenant_id uuid not null references tenant on delete cascade,
  order_id uuid not null default gen_random_uuid(),
  chat_id uuid,
  customer_name text not null default '',
  customer_phone text not null default '',
  delivery_address text not null default '',
  note text not null default '',
  status text not null default 'new' check (status in ('new', 'confirmed', 'delivered', 'cancelled')),
  total_xof bigint not null check (total_xof >= 0),
  -- A retried bot turn must never create a second order.
  idempotency_key text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, order_id),
  unique (tenant_id, idempotency_key),
  foreign key (tenant_id, chat_id) references chat on delete set null (chat_id)
);
create index customer_order_tenant_created on customer_order (tenant_id, created_at desc);
select tdj_isolate_tenant_table('customer_order');

create table order_item (
  tenant_id uuid not null,
  order_id uuid not null,
  line_no integer not null check (line_no > 0),
  -- Kept when the product is deleted: the name and price are a snapshot of the sale.
  product_id uuid,
  product_name text not null,
  unit_price_xof bigint not null check (unit_price_xof >= 0),
  quantity integer not null check (quantity > 0),
  primary key (tenant_id, order_id, line_no),
  foreign key (tenant_id, order_id) references customer_order on delete cascade,
  foreign key (tenant_id, product_id) references product on delete set null (product_id)
);
select tdj_isolate_tenant_table('order_item');

create table whatsapp_session (
  tenant_id uuid primary key references tenant on delete cascade,
  status text not null default 'disconnected'
    check (status in ('disconnected', 'waiting_for_scan', 'connecting', 'connected', 'logged_out', 'banned')),
  phone_number text,
  last_seen_at timestamptz,
  updated_at timestamptz not null default now()
);
select tdj_isolate_tenant_table('whatsapp_session');

-- Envelope encryption: each tenant's data key, wrapped (AES-256-GCM) by the platform master key.
create table tenant_key (
  tenant_id uuid primary key references tenant on delete cascade,
  key_version integer not null default 1,
  wrapped_key bytea not null,
  created_at timestamptz not null default now()
);
select tdj_isolate_tenant_table('tenant_key');

create table audit_log (
  tenant_id uuid not null references tenant on delete cascade,
  audit_id bigint generated always as identity,
  actor_user_id uuid,
  action text not null,
  detail jsonb not null default '{}',
  created_at timestamptz not null default now(),
  primary key (tenant_id, audit_id)
);
select tdj_isolate_tenant_table('audit_log');
