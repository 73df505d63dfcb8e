-- The web dashboard: browser sessions and each user's interface language.

-- A browser session. The cookie carries a random token; only its SHA-256 is stored, so a copy of this table
-- does not hand out live sessions. Looked up by token before the tenant is known (platform path), then every
-- change goes through the tenant's own transaction.
create table web_session (
  tenant_id uuid not null references tenant on delete cascade,
  session_id uuid not null default gen_random_uuid(),
  user_id uuid not null references app_user on delete cascade,
  token_hash bytea not null unique check (length(token_hash) = 32),
  -- Synchronizer token every state-changing form must echo.
  csrf_token text not null check (length(csrf_token) >= 32),
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (tenant_id, session_id)
);
create index web_session_user on web_session (tenant_id, user_id);
create index web_session_expiry on web_session (expires_at);
select tdj_isolate_tenant_table('web_session');

-- The dashboard speaks the user's language (French unless they switch).
alter table app_user add column language text not null default 'fr' check (language in ('fr', 'en'));

-- Where the shop is in the dashboard's onboarding (plan → pay → whatsapp → products → bot → done). Shops that
-- signed up before the dashboard existed are considered onboarded.
alter table tenant add column onboarding_step text not null default 'done'
  check (onboarding_step in ('plan', 'pay', 'whatsapp', 'products', 'bot', 'done'));
alter table tenant alter column onboarding_step set default 'plan';
