-- 0005: what staff tooling (the `qwip` CLI) needs beyond the service's functions: session
-- listings, pods created and freed under the same rules as sessions, re-sealing stored door
-- codes under a new key, and the attempts staff make at charging a session again after a
-- decline (each with its own idempotency key, recorded before the charge is sent).
-- Additive only; safe to apply twice.

-- A staff retry of a declined charge. `pending` until the provider answers definitely; a
-- pending attempt is retried with its own key, so a lost answer never becomes a second charge.
create table if not exists staff_charge_attempts (
  session_id uuid not null references pod_sessions (id),
  attempt integer not null check (attempt >= 1),
  idempotency_key text not null unique,
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'declined', 'requires_action')),
  payment_intent_id text,
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (session_id, attempt)
);
create unique index if not exists staff_charge_attempts_one_pending on staff_charge_attempts (session_id)
  where status = 'pending';

create or replace function qwip_staff_attempt_doc(a staff_charge_attempts) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object('sessionId', a.session_id::text, 'attempt', a.attempt, 'idempotencyKey', a.idempotency_key,
    'status', a.status, 'paymentIntentId', a.payment_intent_id, 'by', a.created_by,
    'createdAt', qwip_iso(a.created_at), 'updatedAt', qwip_iso(a.updated_at))
$$;

-- Sessions newest first. `live`: holding their pod; `overdue`: live with the door-code window
-- closed before `p_window_before`; `failed`: provisioning failed, or the payment failed, needs
-- the customer or is unknown. Rows of the previous service are judged by their derived state.
create or replace function qwip_staff_sessions(p_filter text, p_pod_id text, p_window_before timestamptz, p_limit integer)
returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(e.doc order by e.start_time desc nulls last, e.id desc), '[]'::jsonb)
  from (
    select s.id, s.start_time, qwip_session_doc(s) as doc
    from pod_sessions s
    cross join lateral (select coalesce(s.state_data, qwip_legacy_state(s)) as state) st
    where (p_pod_id is null or s.pod_id::text = p_pod_id)
      and case p_filter
        when 'live' then s.live
        when 'overdue' then s.live
          and coalesce(s.access_until, s.start_time + interval '180 minutes') < p_window_before
        when 'failed' then st.state ->> '_tag' = 'ProvisioningFailed'
          or st.state #>> '{outcome,_tag}' in ('PaymentFailed', 'NeedsAuthentication', 'PaymentUnknown')
        else true
      end
    order by s.start_time desc nulls last, s.id desc
    limit greatest(p_limit, 0)
  ) e
$$;

-- Inserts a pod, free. `{"error": "PodAlreadyExists"}` if its id is taken.
create or replace function qwip_staff_create_pod(p_pod jsonb) returns jsonb
language plpgsql set search_path from current as $$
declare
  v_pod pods;
begin
  insert into pods (id, name, address, rate_ten_thousandths, lock_device_id, access_mode, in_use, updated_at)
  values (p_pod ->> 'id', p_pod ->> 'name', p_pod ->> 'address', (p_pod ->> 'rate')::integer,
    p_pod ->> 'lockDeviceId', p_pod ->> 'accessMode', false, now())
  on conflict (id) do nothing
  returning * into v_pod;
  if not found then
    return jsonb_build_object('error', 'PodAlreadyExists');
  end if;
  return jsonb_build_object('pod', qwip_pod_status_doc(v_pod));
end
$$;

-- Clears a pod's in-use flag if no live session holds it. The pod row is locked first, so a
-- session being opened on it is either seen (and the flag kept) or opens after (and sets it).
-- null when the pod does not exist.
create or replace function qwip_staff_free_pod(p_pod_id text) returns jsonb
language plpgsql set search_path from current as $$
declare
  v_pod pods;
  v_live integer;
begin
  select * into v_pod from pods where id::text = p_pod_id for update;
  if not found then
    return null;
  end if;
  select count(*) into v_live from pod_sessions s where s.pod_id = v_pod.id and s.live;
  if v_live > 0 then
    return jsonb_build_object('freed', false);
  end if;
  update pods set in_use = false, updated_at = now() where id = v_pod.id and coalesce(in_use, false);
  return jsonb_build_object('freed', true);
end
$$;

-- Whether a session row stores a sealed door code (its own column, or a legacy static token).
create or replace function qwip_staff_has_sealed_code(s pod_sessions) returns boolean
language sql immutable set search_path from current as $$
  select coalesce(s.sealed_code <> '', false)
    or (s.sealed_code is null and s.access_code_id is not null and not qwip_is_lock_ref(s.access_code_id))
$$;

create or replace function qwip_staff_sealed_sessions(p_after text, p_limit integer) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(e.doc order by e.id), '[]'::jsonb)
  from (
    select s.id, qwip_session_doc(s) as doc from pod_sessions s
    where qwip_staff_has_sealed_code(s) and (p_after is null or s.id > p_after::uuid)
    order by s.id
    limit greatest(p_limit, 0)
  ) e
$$;

create or replace function qwip_staff_count_sealed() returns integer
language sql stable set search_path from current as $$
  select count(*)::integer from pod_sessions s where qwip_staff_has_sealed_code(s)
$$;

-- Replaces a session's stored door code (the same code sealed under another key) if its
-- version is `p_version`, bumping the version so a writer that read the old token retries.
create or replace function qwip_staff_replace_sealed_code(p_session_id text, p_version integer, p_ref text,
  p_sealed text, p_at timestamptz) returns jsonb
language plpgsql set search_path from current as $$
declare
  v_row pod_sessions;
begin
  update pod_sessions set access_code_id = p_ref, sealed_code = p_sealed, version = version + 1, updated_at = p_at
  where id = p_session_id::uuid and version = p_version
  returning * into v_row;
  if not found then
    return jsonb_build_object('error', 'StaleSession');
  end if;
  return jsonb_build_object('session', qwip_session_doc(v_row));
end
$$;

create or replace function qwip_staff_charge_attempts(p_session_id text) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_staff_attempt_doc(a) order by a.attempt), '[]'::jsonb)
  from staff_charge_attempts a where a.session_id = p_session_id::uuid
$$;

-- The session's pending attempt if it has one, else a new attempt numbered after the last
-- and keyed `<p_key_prefix><n>`. The session row is locked, so two staff retrying at once
-- share one attempt.
create or replace function qwip_staff_begin_charge_attempt(p_session_id text, p_by text, p_key_prefix text)
returns jsonb
language plpgsql set search_path from current as $$
declare
  v staff_charge_attempts;
  v_next integer;
begin
  perform 1 from pod_sessions where id = p_session_id::uuid for update;
  select * into v from staff_charge_attempts where session_id = p_session_id::uuid and status = 'pending';
  if found then
    return qwip_staff_attempt_doc(v);
  end if;
  select coalesce(max(attempt), 0) + 1 into v_next from staff_charge_attempts where session_id = p_session_id::uuid;
  insert into staff_charge_attempts (session_id, attempt, idempotency_key, status, created_by)
  values (p_session_id::uuid, v_next, p_key_prefix || v_next, 'pending', p_by)
  returning * into v;
  return qwip_staff_attempt_doc(v);
end
$$;

create or replace function qwip_staff_finish_charge_attempt(p_session_id text, p_attempt integer, p_status text,
  p_payment_intent_id text) returns boolean
language sql set search_path from current as $$
  with done as (
    update staff_charge_attempts set status = p_status,
      payment_intent_id = coalesce(p_payment_intent_id, payment_intent_id), updated_at = now()
    where session_id = p_session_id::uuid and attempt = p_attempt and status = 'pending'
    returning 1
  ) select exists (select 1 from done)
$$;

-- Charges newest first, with staff's retries (their count and the last one's key); `p_failed`
-- keeps those that failed, need the customer or are unknown.
create or replace function qwip_staff_charges(p_failed boolean, p_limit integer) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_session_charge(e.session_id::text) || jsonb_build_object(
    'retries', (select count(*) from staff_charge_attempts a where a.session_id = e.session_id),
    'lastRetryKey', (select a.idempotency_key from staff_charge_attempts a where a.session_id = e.session_id
      order by a.attempt desc limit 1)
  ) order by e.updated_at desc, e.session_id), '[]'::jsonb)
  from (
    select session_id, updated_at from session_charges
    where not coalesce(p_failed, false) or status in ('failed', 'requires_action', 'unknown')
    order by updated_at desc, session_id limit greatest(p_limit, 0)
  ) e
$$;

-- The emails of one session, oldest first.
create or replace function qwip_staff_outbox_for_session(p_session_id text) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_outbox_doc(o) order by o.id), '[]'::jsonb)
  from email_outbox o where o.message ->> 'sessionId' = p_session_id
$$;

-- On Supabase, as in 0004: only the service role may call these functions, and the new table
-- gets row level security with no policy.
do $qwip$
declare
  f regprocedure;
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    for f in
      select p.oid::regprocedure from pg_proc p
      where p.pronamespace = current_schema()::regnamespace and p.proname like 'qwip\_staff\_%'
    loop
      execute format('revoke execute on function %s from public, anon, authenticated', f);
      if exists (select 1 from pg_roles where rolname = 'service_role') then
        execute format('grant execute on function %s to service_role', f);
      end if;
    end loop;
    alter table staff_charge_attempts enable row level security;
  end if;
end
$qwip$;

notify pgrst, 'reload schema';

insert into qwip_schema_migrations (version, name) values (5, 'staff') on conflict (version) do nothing;
