-- Accounts: team invitations and password resets. Both hand out a link carrying a random token; only the
-- token's SHA-256 is stored, so a copy of these tables opens nothing. A link works once and expires.

-- The owner invites someone by e-mail. Pending while neither accepted nor expired; pending invitations count
-- against the plan's max_staff_users like members do, so a plan's seats cannot be overbooked.
create table invitation (
  tenant_id uuid not null references tenant on delete cascade,
  invitation_id uuid not null default gen_random_uuid(),
  -- Stored lower-case, like app_user.email.
  email text not null check (email = lower(email) and length(email) <= 254),
  role text not null check (role in ('owner', 'staff')),
  token_hash bytea not null unique check (length(token_hash) = 32),
  invited_by uuid references app_user on delete set null,
  -- The inviter's language: the e-mail and the acceptance page speak it, and the new member starts in it.
  language text not null default 'fr' check (language in ('fr', 'en')),
  created_at timestamptz not null default now(),
  -- Renewed (with a new token) when the owner resends it.
  sent_at timestamptz not null default now(),
  expires_at timestamptz not null,
  -- Set once, by the acceptance: a used link never works again.
  accepted_at timestamptz,
  primary key (tenant_id, invitation_id)
);
-- One open invitation per address and shop (a second one is a resend).
create unique index invitation_open_email on invitation (tenant_id, email) where accepted_at is null;
select tdj_isolate_tenant_table('invitation');

-- "Forgot password": one row per link sent. Looked up by token before the tenant is known (platform path),
-- consumed in the tenant's transaction together with the password change.
create table password_reset (
  tenant_id uuid not null references tenant on delete cascade,
  reset_id uuid not null default gen_random_uuid(),
  user_id uuid not null references app_user on delete cascade,
  token_hash bytea not null unique check (length(token_hash) = 32),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  primary key (tenant_id, reset_id)
);
create index password_reset_user on password_reset (tenant_id, user_id);
select tdj_isolate_tenant_table('password_reset');
