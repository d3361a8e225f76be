-- 0007: a pod stays in use after its session ends while that session's door code is not
-- confirmed gone from the lock (the previous customer could still open the door), and is
-- freed when the revocation is recorded, only if it is still held for that code. Which
-- session's code holds a pod, and since when, is stored on the pod; the core decides when to
-- hold and when to free. Additive only; safe to apply twice.

alter table pods add column if not exists code_hold_session_id uuid;
alter table pods add column if not exists code_hold_since timestamptz;

-- A hold only ever sits on a pod in use: whoever frees a pod (a commit, staff, the previous
-- service writing `in_use` itself) clears it, so a stale hold can never be shown nor matched.
create or replace function qwip_pods_clear_code_hold() returns trigger
language plpgsql set search_path from current as $$
begin
  if not coalesce(new.in_use, false) then
    new.code_hold_session_id := null;
    new.code_hold_since := null;
  end if;
  return new;
end
$$;

drop trigger if exists qwip_pods_clear_code_hold on pods;
create trigger qwip_pods_clear_code_hold before insert or update on pods
  for each row execute function qwip_pods_clear_code_hold();

create or replace function qwip_pod_status_doc(p pods) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object(
    'pod', qwip_pod_doc(p),
    'inUse', coalesce(p.in_use, false),
    'codeHold', case when p.code_hold_session_id is null then null else jsonb_build_object(
      'sessionId', p.code_hold_session_id::text,
      'since', qwip_iso(p.code_hold_since)
    ) end
  )
$$;

-- commit (0004's `qwip_commit`, unchanged) and, in the same transaction, the pod's code hold:
-- `keep`: the pod stays in use, held by this session's code since the session's `updatedAt`;
-- `free`: frees the pod only if it is still held by this session's code and no other live
-- session holds it (a pod staff released and someone booked since is left alone).
create or replace function qwip_commit_session(p_before_version integer, p_after jsonb, p_release_pod boolean,
  p_code_hold text, p_work jsonb) returns jsonb
language plpgsql set search_path from current as $$
declare
  v_result jsonb;
  v_id uuid := (p_after ->> 'id')::uuid;
  v_pod_id text := p_after ->> 'podId';
begin
  v_result := qwip_commit(p_before_version, p_after, p_release_pod, p_work);
  if v_result ? 'error' then
    return v_result;
  end if;
  if p_code_hold = 'keep' then
    update pods set in_use = true, code_hold_session_id = v_id,
      code_hold_since = (p_after ->> 'updatedAt')::timestamptz, updated_at = (p_after ->> 'updatedAt')::timestamptz
    where id::text = v_pod_id;
  elsif p_code_hold = 'free' then
    update pods p set in_use = false, updated_at = (p_after ->> 'updatedAt')::timestamptz
    where p.id::text = v_pod_id and p.code_hold_session_id = v_id
      and not exists (select 1 from pod_sessions o where o.pod_id = p.id and o.live and o.id <> v_id);
  end if;
  return v_result;
end
$$;

-- Staff release: clears a pod's in-use flag (and so its code hold) only if no live session
-- holds it and its code hold is still the one staff saw (`p_code_hold`, null for none). The
-- pod row is locked first, as in 0005's `qwip_staff_free_pod`. null when the pod does not exist.
create or replace function qwip_staff_release_pod(p_pod_id text, p_code_hold text) returns jsonb
language plpgsql set search_path from current as $$
declare
  v_pod pods;
begin
  select * into v_pod from pods where id::text = p_pod_id for update;
  if not found then
    return null;
  end if;
  if exists (select 1 from pod_sessions s where s.pod_id = v_pod.id and s.live)
    or v_pod.code_hold_session_id::text is distinct from p_code_hold then
    return jsonb_build_object('freed', false);
  end if;
  update pods set in_use = false, updated_at = now() where id = v_pod.id and coalesce(in_use, false);
  return jsonb_build_object('freed', true);
end
$$;

-- On Supabase, as in 0004: only the service role may call the new functions.
do $qwip$
declare
  f text;
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    foreach f in array array['qwip_commit_session(integer, jsonb, boolean, text, jsonb)',
      'qwip_staff_release_pod(text, text)', 'qwip_pods_clear_code_hold()'] loop
      execute format('revoke execute on function %s from public, anon, authenticated', f);
      if exists (select 1 from pg_roles where rolname = 'service_role') then
        execute format('grant execute on function %s to service_role', f);
      end if;
    end loop;
  end if;
end
$qwip$;

notify pgrst, 'reload schema';

insert into qwip_schema_migrations (version, name) values (7, 'code_holds') on conflict (version) do nothing;
