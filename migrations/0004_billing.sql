-- Billing: what checkout, webhooks and the expiry job need on top of 0002's subscription and payment tables.

-- The expiry job writes the end of the grace period when it moves a subscription to past_due, so deciding
-- whether the bot may answer needs no configuration (store::billing::answer_permission).
alter table subscription
  add column past_due_since timestamptz,
  add column grace_until timestamptz,
  add column suspended_at timestamptz;
-- The expiry job scans by status and date across tenants.
create index subscription_status_expiry on subscription (status, expires_at);

alter table payment
  -- Orange Money's pay_token, needed by its transaction-status API (it is also in the payment page URL,
  -- so it is not a secret).
  add column pay_token text,
  -- SHA-256 of Orange Money's notif_token: the notification is matched and authenticated by it, and the
  -- token itself is never stored.
  add column notif_token_hash bytea,
  -- The provider's own transaction id once paid (Wave T_…, Orange Money MP…, Stripe payment intent).
  add column provider_txn_id text,
  add column failure_reason text,
  add column paid_at timestamptz;
create unique index payment_notif_token_hash on payment (notif_token_hash) where notif_token_hash is not null;
-- Webhooks resolve a payment by its id before the tenant is known (platform path).
create index payment_payment_id on payment (payment_id);

-- One row per provider event (or transaction) processed: the unique key makes a redelivered webhook a no-op
-- even when a hundred copies arrive at once.
create table billing_event (
  tenant_id uuid not null references tenant on delete cascade,
  provider text not null check (provider in ('wave', 'orange_money', 'stripe', 'sandbox')),
  event_id text not null check (length(event_id) between 1 and 255),
  payment_id uuid not null,
  outcome text not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, provider, event_id),
  foreign key (tenant_id, payment_id) references payment on delete cascade
);
-- Provider event ids are global: the same id cannot be replayed against another tenant's payment.
create unique index billing_event_provider_event on billing_event (provider, event_id);
select tdj_isolate_tenant_table('billing_event');
