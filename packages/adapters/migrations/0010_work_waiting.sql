-- 0010: how much background work is waiting, for the `qwip_background_work_waiting` gauge
-- (issue 14). A count over the partial index of pending work; no rule.

create or replace function qwip_work_waiting() returns jsonb
language sql stable set search_path from current as $$
  select to_jsonb(count(*)::integer) from background_work where status = 'pending'
$$;

-- On Supabase, as in 0004: only the service role may call it.
do $qwip$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke execute on function qwip_work_waiting() from public, anon, authenticated;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
      grant execute on function qwip_work_waiting() to service_role;
    end if;
  end if;
end
$qwip$;

notify pgrst, 'reload schema';

insert into qwip_schema_migrations (version, name) values (10, 'work_waiting') on conflict (version) do nothing;
