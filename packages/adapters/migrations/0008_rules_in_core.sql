-- 0008: every business rule lives once, in @qwip/core; these functions only store, fetch and
-- keep steps atomic. Replaces what 0002, 0004, 0005 and 0007 decided in SQL:
-- - no session is priced here: a row the previous service wrote (no `state`) is returned as
--   its facts (`{"legacy": ...}`) and core's `Legacy` decides its state, with the same tariff;
-- - no door-code window: listings return live sessions and the core keeps those past their
--   window (`isPastWindow`), and staff listings are filtered by core's `listingIncludes`;
-- - a commit writes what core's `recordsOf` computed beside the session (whether it holds its
--   pod, its end time, its charge row with its key, a failed payment, today's provisioning
--   status) as given, and frees a pod under one rule for every store.
-- Additive for data; safe to apply twice (0004/0005/0007 applied again recreate the old
-- functions, which this file drops again).

-- ---- whether a session holds its pod --------------------------------------------------

-- `live` backs the one-live-session-per-pod unique index, so it stays a column the database
-- enforces. For rows written with a state it is now what the core said (`holds_pod`, from
-- `isLive`), no longer a list of states; for rows the previous service writes, which carry no
-- state, an open row (no end time) holds its pod, as that service meant it.
alter table pod_sessions add column if not exists holds_pod boolean;

do $qwip$
begin
  if not exists (
    select 1 from information_schema.columns
    where table_schema = current_schema() and table_name = 'pod_sessions' and column_name = 'live'
      and generation_expression like '%holds_pod%'
  ) then
    update pod_sessions set holds_pod = live where state is not null;
    drop index if exists pod_sessions_one_live_per_pod;
    drop index if exists pod_sessions_live_on_pod;
    alter table pod_sessions drop column live;
    alter table pod_sessions add column live boolean generated always as (
      case when state is null then end_time is null else coalesce(holds_pod, false) end
    ) stored;
  end if;
end
$qwip$;

create unique index if not exists pod_sessions_one_live_per_pod on pod_sessions (pod_id)
  where live and legacy_conflict is null;
create index if not exists pod_sessions_live_on_pod on pod_sessions (pod_id) where live;

-- ---- documents ------------------------------------------------------------------------

-- A session row: `Schema.encode(Session)` when it was written with a state, else the facts
-- core's `Legacy.LegacyRow` reads (end time, recorded window, when its code was ready,
-- whether a failed payment was recorded).
create or replace function qwip_session_doc(s pod_sessions) returns jsonb
language sql stable set search_path from current as $$
  select case when s.state_data is null then
    jsonb_build_object('legacy', d.common || jsonb_build_object(
      'endedAt', qwip_iso(s.end_time),
      'accessUntil', qwip_iso(s.access_until),
      'codeReadyAt', qwip_iso((select max(sp.ready_at) from session_provisionings sp where sp.session_id = s.id)),
      'paymentFailed', exists (select 1 from invalid_payment_attempts a where a.session_id = s.id)
    ))
  else
    d.common || jsonb_build_object('accessUntil', qwip_iso(s.access_until), 'state', s.state_data)
  end
  from (select jsonb_build_object(
    'id', s.id::text,
    'podId', s.pod_id::text,
    'provisioningId', coalesce(
      s.provisioning_id,
      (select sp.id from session_provisionings sp where sp.session_id = s.id order by sp.created_at nulls last, sp.id limit 1),
      s.id
    )::text,
    'setupIntentId', coalesce(nullif(s.stripe_setup_intent_id, ''), 'legacy:' || s.id::text),
    'card', jsonb_build_object(
      'customerId', coalesce(s.stripe_customer_id, ''),
      'paymentMethodId', coalesce(s.stripe_payment_method, ''),
      -- The core puts its fallback address in for a card with no email.
      'email', coalesce(s.user_email, '')
    ),
    'rate', qwip_session_rate(s),
    'startedAt', qwip_iso(s.start_time),
    'access', case when s.access_code_id is null then null else jsonb_build_object(
      'ref', s.access_code_id,
      -- Legacy Seam codes were never stored: their sealed code is empty.
      'sealedCode', coalesce(s.sealed_code, case when qwip_is_lock_ref(s.access_code_id) then '' else s.access_code_id end),
      'mode', coalesce(s.access_mode, case when qwip_is_lock_ref(s.access_code_id) then 'lock-provider' else 'static' end)
    ) end,
    'accessRevokedAt', qwip_iso(s.access_revoked_at),
    'version', s.version,
    'updatedAt', qwip_iso(coalesce(s.updated_at, s.end_time, s.start_time))
  ) as common) d
$$;

drop function if exists qwip_legacy_state(pod_sessions);
drop function if exists qwip_quote(timestamptz, timestamptz, integer);

-- ---- reads ----------------------------------------------------------------------------

-- Every session holding its pod, oldest first; the core keeps those past their window.
create or replace function qwip_live_sessions() returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_session_doc(s) order by s.start_time, s.id), '[]'::jsonb)
  from pod_sessions s where s.live
$$;

drop function if exists qwip_live_sessions_past_window(timestamptz);

-- Sessions newest first, a page at a time after the session `p_after_id` (the last of the
-- previous page), optionally on one pod and only those holding their pod; the core decides
-- which of them a listing shows.
create or replace function qwip_staff_sessions_page(p_pod_id text, p_live_only boolean, p_after_id text,
  p_limit integer) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(e.doc order by e.start_time desc, e.id desc), '[]'::jsonb)
  from (
    select s.id, s.start_time, qwip_session_doc(s) as doc
    from pod_sessions s
    where (p_pod_id is null or s.pod_id::text = p_pod_id)
      and (not coalesce(p_live_only, false) or s.live)
      and (p_after_id is null
        or (s.start_time, s.id) < (select a.start_time, a.id from pod_sessions a where a.id = p_after_id::uuid))
    order by s.start_time desc, s.id desc
    limit greatest(p_limit, 0)
  ) e
$$;

drop function if exists qwip_staff_sessions(text, text, timestamptz, integer);

-- Charges newest first, with staff's retries (their count and the last one's key); only those
-- whose status is in `p_statuses` when it is given (core's `unsettledChargeStatuses`).
create or replace function qwip_staff_charges(p_statuses jsonb, p_limit integer) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_session_charge(e.session_id::text) || jsonb_build_object(
    'retries', (select count(*) from staff_charge_attempts a where a.session_id = e.session_id),
    'lastRetryKey', (select a.idempotency_key from staff_charge_attempts a where a.session_id = e.session_id
      order by a.attempt desc limit 1)
  ) order by e.updated_at desc, e.session_id), '[]'::jsonb)
  from (
    select session_id, updated_at from session_charges
    where p_statuses is null or status in (select jsonb_array_elements_text(p_statuses))
    order by updated_at desc, session_id limit greatest(p_limit, 0)
  ) e
$$;

drop function if exists qwip_staff_charges(boolean, integer);

-- ---- writes ---------------------------------------------------------------------------

-- openSession: the session for the SetupIntent if there is one; else claims the pod with a
-- conditional update and inserts the session (with `p_records`, core's `recordsOf`), its
-- provisioning row and its work.
create or replace function qwip_open_session(p_session jsonb, p_records jsonb, p_work jsonb) returns jsonb
language plpgsql set search_path from current as $$
declare
  v_row pod_sessions;
  v_pod pods;
  v_id uuid := (p_session ->> 'id')::uuid;
  v_intent text := p_session ->> 'setupIntentId';
  v_state jsonb := p_session -> 'state';
  v_at timestamptz := (p_session ->> 'updatedAt')::timestamptz;
begin
  select * into v_row from pod_sessions
  where stripe_setup_intent_id = v_intent
  order by (legacy_conflict is null) desc, start_time nulls last, id limit 1;
  if found then
    return jsonb_build_object('session', qwip_session_doc(v_row));
  end if;

  begin
    update pods set in_use = true, updated_at = v_at
    where id::text = p_session ->> 'podId' and not coalesce(in_use, false)
    returning * into v_pod;
    if not found then
      -- A concurrent open for the same SetupIntent may have just committed.
      select * into v_row from pod_sessions where stripe_setup_intent_id = v_intent
      order by (legacy_conflict is null) desc, start_time nulls last, id limit 1;
      if found then
        return jsonb_build_object('session', qwip_session_doc(v_row));
      end if;
      if exists (select 1 from pods where id::text = p_session ->> 'podId') then
        return jsonb_build_object('error', 'PodInUse');
      end if;
      return jsonb_build_object('error', 'PodNotFound');
    end if;

    insert into pod_sessions (
      id, pod_id, user_email, start_time, end_time, stripe_customer_id, stripe_payment_method,
      access_code_id, stripe_setup_intent_id, provisioning_id, state, state_data, holds_pod,
      rate_ten_thousandths, access_until, access_mode, sealed_code, access_revoked_at, version, updated_at
    ) values (
      v_id, v_pod.id, p_session #>> '{card,email}', (p_session ->> 'startedAt')::timestamptz,
      (p_records ->> 'endedAt')::timestamptz, p_session #>> '{card,customerId}', p_session #>> '{card,paymentMethodId}',
      p_session #>> '{access,ref}', v_intent, (p_session ->> 'provisioningId')::uuid, v_state ->> '_tag', v_state,
      (p_records ->> 'holdsPod')::boolean,
      (p_session ->> 'rate')::integer, (p_session ->> 'accessUntil')::timestamptz, p_session #>> '{access,mode}',
      p_session #>> '{access,sealedCode}', (p_session ->> 'accessRevokedAt')::timestamptz,
      (p_session ->> 'version')::integer, v_at
    )
    returning * into v_row;

    insert into session_provisionings as sp (id, session_id, status, attempts, created_at, updated_at)
    values ((p_session ->> 'provisioningId')::uuid, v_id, 'pending', 0, v_at, v_at)
    on conflict (id) do update set session_id = excluded.session_id, status = 'pending', updated_at = excluded.updated_at
      where sp.session_id is null;

    perform qwip_add_work(p_work);
  exception when unique_violation then
    -- The constraints caught a race the conditional update did not: the same SetupIntent
    -- opened on another pod, or a live session on a pod marked free.
    select * into v_row from pod_sessions where stripe_setup_intent_id = v_intent
    order by (legacy_conflict is null) desc, start_time nulls last, id limit 1;
    if found then
      return jsonb_build_object('session', qwip_session_doc(v_row));
    end if;
    return jsonb_build_object('error', 'PodInUse');
  end;
  return jsonb_build_object('session', qwip_session_doc(v_row));
end
$$;

drop function if exists qwip_open_session(jsonb, jsonb);

-- commit: applies `p_after` only if the stored version is `p_before_version`, with what core's
-- `recordsOf` computed beside it (`p_records`) written as given: today's columns, the
-- provisioning row's status, the one charge row, a failed payment. In the same step it frees
-- the pod if asked (`p_release_pod`, or `p_code_hold` = `free` while the pod is still held by
-- this session's code), only while no other live session holds it, or keeps it in use held
-- by this session's code (`p_code_hold` = `keep`), and enqueues work.
create or replace function qwip_commit_session(p_before_version integer, p_after jsonb, p_records jsonb,
  p_release_pod boolean, p_code_hold text, p_work jsonb) returns jsonb
language plpgsql set search_path from current as $$
declare
  v_id uuid := (p_after ->> 'id')::uuid;
  v_old pod_sessions;
  v_new pod_sessions;
  v_charge jsonb := nullif(p_records -> 'charge', 'null'::jsonb);
  v_failed jsonb := nullif(p_records -> 'failedPayment', 'null'::jsonb);
  v_provisioning jsonb := nullif(p_records -> 'provisioning', 'null'::jsonb);
  v_at timestamptz := (p_after ->> 'updatedAt')::timestamptz;
begin
  select * into v_old from pod_sessions where id = v_id for update;
  if not found or v_old.version <> p_before_version then
    return jsonb_build_object('error', 'StaleSession');
  end if;

  update pod_sessions set
    end_time = (p_records ->> 'endedAt')::timestamptz,
    holds_pod = (p_records ->> 'holdsPod')::boolean,
    access_code_id = p_after #>> '{access,ref}',
    access_mode = p_after #>> '{access,mode}',
    sealed_code = p_after #>> '{access,sealedCode}',
    access_revoked_at = (p_after ->> 'accessRevokedAt')::timestamptz,
    access_until = (p_after ->> 'accessUntil')::timestamptz,
    rate_ten_thousandths = (p_after ->> 'rate')::integer,
    provisioning_id = (p_after ->> 'provisioningId')::uuid,
    state = p_after #>> '{state,_tag}',
    state_data = p_after -> 'state',
    version = (p_after ->> 'version')::integer,
    updated_at = v_at
  where id = v_id
  returning * into v_new;

  if v_provisioning is not null then
    update session_provisionings set
      status = v_provisioning ->> 'status',
      ready_at = case when v_provisioning ->> 'status' = 'ready' then (v_provisioning ->> 'at')::timestamptz else ready_at end,
      failed_at = case when v_provisioning ->> 'status' = 'failed' then (v_provisioning ->> 'at')::timestamptz else failed_at end,
      updated_at = v_at
    where session_id = v_id and status in ('draft', 'pending');
  end if;

  if v_charge is not null then
    insert into session_charges as c (
      session_id, idempotency_key, amount_pence, payment_intent_id, status, detail, created_at, updated_at
    ) values (
      v_id, v_charge ->> 'idempotencyKey', (v_charge ->> 'amountPence')::integer, v_charge ->> 'paymentIntentId',
      v_charge ->> 'status', v_charge ->> 'detail', v_at, v_at
    )
    on conflict (session_id) do update set
      amount_pence = excluded.amount_pence,
      -- a later outcome without a PaymentIntent (unknown) must not forget the one we knew
      payment_intent_id = coalesce(excluded.payment_intent_id, c.payment_intent_id),
      status = excluded.status,
      detail = excluded.detail,
      updated_at = excluded.updated_at;
  end if;

  if v_failed is not null then
    insert into invalid_payment_attempts (session_id, session_cost, payment_intent_id, decline_code)
    values (v_id, (v_failed ->> 'sessionCost')::integer, v_failed ->> 'paymentIntentId', v_failed ->> 'declineCode');
  end if;

  if p_release_pod or p_code_hold = 'free' then
    update pods p set in_use = false, updated_at = v_at
    where p.id = v_new.pod_id
      and (p_release_pod or p.code_hold_session_id = v_id)
      and not exists (select 1 from pod_sessions o where o.pod_id = p.id and o.live and o.id <> v_id);
  end if;
  if p_code_hold = 'keep' then
    update pods set in_use = true, code_hold_session_id = v_id, code_hold_since = v_at, updated_at = v_at
    where id = v_new.pod_id;
  end if;

  perform qwip_add_work(p_work);
  return jsonb_build_object('session', qwip_session_doc(v_new));
end
$$;

drop function if exists qwip_commit_session(integer, jsonb, boolean, text, jsonb);
drop function if exists qwip_commit(integer, jsonb, boolean, jsonb);
drop function if exists qwip_state_end_time(jsonb);
-- Replaced by 0007's `qwip_staff_release_pod`, which also checks the pod's code hold.
drop function if exists qwip_staff_free_pod(text);

-- Staff's retry of a declined charge: the session's pending attempt if it has one, else the
-- attempt the core numbered and keyed. The session row is locked, so two staff retrying at
-- once share one attempt; null when that number was taken meanwhile (the core reads again).
create or replace function qwip_staff_begin_charge_attempt(p_session_id text, p_by text, p_attempt integer,
  p_idempotency_key text) returns jsonb
language plpgsql set search_path from current as $$
declare
  v staff_charge_attempts;
begin
  perform 1 from pod_sessions where id = p_session_id::uuid for update;
  select * into v from staff_charge_attempts where session_id = p_session_id::uuid and status = 'pending';
  if found then
    return qwip_staff_attempt_doc(v);
  end if;
  insert into staff_charge_attempts (session_id, attempt, idempotency_key, status, created_by)
  values (p_session_id::uuid, p_attempt, p_idempotency_key, 'pending', p_by)
  on conflict do nothing
  returning * into v;
  if not found then
    return null;
  end if;
  return qwip_staff_attempt_doc(v);
end
$$;
drop function if exists qwip_staff_begin_charge_attempt(text, text, text);

-- On Supabase, as in 0004: only the service role may call the new functions.
do $qwip$
declare
  f text;
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    foreach f in array array['qwip_session_doc(pod_sessions)', 'qwip_live_sessions()',
      'qwip_staff_sessions_page(text, boolean, text, integer)', 'qwip_staff_charges(jsonb, integer)',
      'qwip_open_session(jsonb, jsonb, jsonb)', 'qwip_commit_session(integer, jsonb, jsonb, boolean, text, jsonb)',
      'qwip_staff_begin_charge_attempt(text, text, integer, text)'] loop
      execute format('revoke execute on function %s from public, anon, authenticated', f);
      if exists (select 1 from pg_roles where rolname = 'service_role') then
        execute format('grant execute on function %s to service_role', f);
      end if;
    end loop;
  end if;
end
$qwip$;

notify pgrst, 'reload schema';

insert into qwip_schema_migrations (version, name) values (8, 'rules_in_core') on conflict (version) do nothing;
