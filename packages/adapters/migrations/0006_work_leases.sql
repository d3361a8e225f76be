-- 0006: work leases are renewed while the work runs, so an item that takes longer than its
-- lease (a slow lock, a provider that does not answer) is not claimed by a second worker
-- meanwhile. Additive only; safe to apply twice.

-- Extends the lease of a pending item still held by `p_worker`; false when it was lost
-- (finished, deferred, parked, released, or claimed by another worker).
create or replace function qwip_renew_lease(p_id text, p_worker text, p_until timestamptz) returns boolean
language sql set search_path from current as $$
  with renewed as (
    update background_work set lease_until = p_until, updated_at = now()
    where id = p_id::uuid and status = 'pending' and leased_by = p_worker
    returning 1
  ) select exists (select 1 from renewed)
$$;

-- On Supabase, as in 0004: only the service role may call it.
do $qwip$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke execute on function qwip_renew_lease(text, text, timestamptz) from public, anon, authenticated;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
      grant execute on function qwip_renew_lease(text, text, timestamptz) to service_role;
    end if;
  end if;
end
$qwip$;

notify pgrst, 'reload schema';

insert into qwip_schema_migrations (version, name) values (6, 'work_leases') on conflict (version) do nothing;
