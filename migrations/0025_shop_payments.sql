-- How a shop's customers pay their orders: the shop's own Wave and Orange Money merchant accounts (customers
-- pay the shop directly, never the platform) and whether payment on delivery is offered.

-- One row per shop once it changes a setting; no row means the defaults.
create table shop_payment_setting (
  tenant_id uuid primary key references tenant on delete cascade,
  -- Payment in cash on delivery, the usual way in Côte d'Ivoire: on unless the shop turns it off.
  cash_on_delivery boolean not null default true,
  -- When an unpaid payment link expires, cancel the order (if the shop has not confirmed it) so its stock is
  -- sold again, instead of waiting for the order's confirmation hold to end.
  release_on_link_expiry boolean not null default false,
  updated_at timestamptz not null default now()
);
select tdj_isolate_tenant_table('shop_payment_setting');

-- The shop's merchant account at a provider. The credentials are one JSON document sealed with the shop's data
-- key under the purpose `payments/<provider>` (store::shop_payments), so a copied blob opens neither for another
-- shop nor for another provider; only a short hint is readable, to show which key is configured.
create table shop_payment_account (
  tenant_id uuid not null references tenant on delete cascade,
  provider text not null check (provider in ('wave', 'orange_money')),
  sealed_credentials bytea not null,
  -- The last characters of a non-secret-enough identifier (Wave key, Orange client id), e.g. `1234`.
  hint text not null check (length(hint) <= 8),
  -- Offered to customers; an owner may pause an account without deleting its keys.
  enabled boolean not null default true,
  -- When a live call to the provider last accepted these credentials.
  verified_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (tenant_id, provider)
);
select tdj_isolate_tenant_table('shop_payment_account');
