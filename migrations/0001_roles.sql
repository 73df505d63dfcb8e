-- Roles and the row-level-security helper every tenant table uses.
--
-- The application never connects as the owner of the tables. It logs in as tdjaasa_app, which owns nothing
-- and is therefore subject to every FORCEd policy. tdjaasa_platform is the explicit path for cross-tenant work
-- (platform admin, login by e-mail, scheduled jobs): tdjaasa_app may `set local role tdjaasa_platform` but is
-- NOINHERIT, so it never holds those rights implicitly.
--
-- Roles are cluster-wide while this migration runs once per database, possibly several at once (tests):
-- creation tolerates a concurrent twin.
do $$
begin
  if not exists (select from pg_roles where rolname = 'tdjaasa_platform') then
    begin
      create role tdjaasa_platform nologin;
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
  if not exists (select from pg_roles where rolname = 'tdjaasa_app') then
    begin
      create role tdjaasa_app login noinherit;
      grant tdjaasa_platform to tdjaasa_app;
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
end $$;

grant usage on schema public to tdjaasa_app, tdjaasa_platform;

-- Tables created by later migrations get the same grants without repeating them.
alter default privileges in schema public
  grant select, insert, update, delete on tables to tdjaasa_app, tdjaasa_platform;
alter default privileges in schema public
  grant usage, select on sequences to tdjaasa_app, tdjaasa_platform;

-- Turns on tenant isolation for one table: RLS enabled and FORCEd, the app role sees only the rows of the tenant
-- in `app.tenant_id` (set per transaction), the platform role sees all. `current_setting` is STABLE, so the
-- policy compares `tenant_id` with a per-statement constant and indexes leading on tenant_id are usable.
-- With no tenant set, `nullif(.., '')` makes the comparison NULL: zero rows, never another tenant's data.
create function tdj_isolate_tenant_table(tbl regclass) returns void
language plpgsql as $$
begin
  execute format('alter table %s enable row level security', tbl);
  execute format('alter table %s force row level security', tbl);
  execute format(
    'create policy tenant_isolation on %s to tdjaasa_app '
    'using (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
    'with check (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', tbl);
  execute format('create policy platform_access on %s to tdjaasa_platform using (true) with check (true)', tbl);
end $$;
revoke all on function tdj_isolate_tenant_table(regclass) from public;
