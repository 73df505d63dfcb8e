-- The platform path logs in as its own role: the app role can no longer become it, so no statement run as
-- the app role (whatever its SQL) reaches past row-level security. And billing state (a shop's status and
-- plan, its subscription and payments) is written only on the platform path: tenant-scoped code may read it,
-- never change it.
--
-- Roles are cluster-wide while this runs once per database, possibly several at once (tests): each change is
-- made only if still needed, and a concurrent twin's identical change is tolerated.
do $$
begin
  if exists (
    select from pg_auth_members m
      join pg_roles granted on granted.oid = m.roleid
      join pg_roles member on member.oid = m.member
     where granted.rolname = 'tdjaasa_platform' and member.rolname = 'tdjaasa_app'
  ) then
    begin
      revoke tdjaasa_platform from tdjaasa_app;
    exception when others then
      if exists (
        select from pg_auth_members m
          join pg_roles granted on granted.oid = m.roleid
          join pg_roles member on member.oid = m.member
         where granted.rolname = 'tdjaasa_platform' and member.rolname = 'tdjaasa_app'
      ) then
        raise;
      end if;
    end;
  end if;
  if exists (select from pg_roles where rolname = 'tdjaasa_platform' and not rolcanlogin) then
    begin
      alter role tdjaasa_platform login;
    exception when others then
      if exists (select from pg_roles where rolname = 'tdjaasa_platform' and not rolcanlogin) then
        raise;
      end if;
    end;
  end if;
end $$;

-- Plans are the operator's catalogue, changed by migrations only.
revoke insert, update, delete on plan from tdjaasa_platform;

-- Billing state: read-only for tenant-scoped code.
revoke insert, update, delete on subscription, payment, billing_event from tdjaasa_app;
revoke insert, delete on tenant from tdjaasa_app;
revoke update on tenant from tdjaasa_app;
grant update (name, onboarding_step) on tenant to tdjaasa_app;
