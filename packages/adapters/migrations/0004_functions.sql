-- 0004: every store operation as one SQL function. The PGlite and Postgres stores call them
-- with `select qwip_x(p_a => $1, ...)`, the Supabase store with `.rpc('qwip_x', {p_a})`, so
-- all three share one implementation of each atomic step. Each returns jsonb in the shape
-- `Schema.encode` gives the domain types (camelCase fields, ISO dates); snake_case columns
-- are mapped to fields only here.
--
-- Typed outcomes come back as `{"error": "PodInUse" | "PodNotFound" | "StaleSession"}`;
-- anything raised is a store fault. Functions run with the search_path they were created
-- under, so they work the same from any connection.

-- ---- documents ------------------------------------------------------------------------

create or replace function qwip_iso(t timestamptz) returns text
language sql immutable set search_path from current as $$
  select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

create or replace function qwip_pod_rate(p pods) returns integer
language sql stable set search_path from current as $$
  select coalesce(p.rate_ten_thousandths, round(p.price::numeric * 10000)::integer)
$$;

create or replace function qwip_pod_doc(p pods) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object(
    'id', p.id::text,
    'name', coalesce(p.name, ''),
    'address', coalesce(p.address, ''),
    'rate', qwip_pod_rate(p),
    'lockDeviceId', p.lock_device_id,
    'accessMode', p.access_mode
  )
$$;

create or replace function qwip_pod_status_doc(p pods) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object('pod', qwip_pod_doc(p), 'inUse', coalesce(p.in_use, false))
$$;

-- Today's tariff without promo (the previous service's promo setting is not recorded):
-- whole seconds × rate, rounded half-up to the penny once; below 30p nothing is charged.
create or replace function qwip_quote(p_start timestamptz, p_end timestamptz, p_rate integer) returns jsonb
language sql immutable set search_path from current as $$
  select jsonb_build_object(
    'billableSeconds', b,
    'grossPence', g,
    'chargePence', case when g < 30 then 0 else g end,
    'reason', case when g < 30 then 'below_minimum' else 'charge' end
  )
  from (
    select b, (2 * b * p_rate::bigint * 100 + 600000) / 1200000 as g
    from (select greatest(0, floor(extract(epoch from (p_end - p_start))))::bigint as b) seconds
  ) priced
$$;

create or replace function qwip_session_rate(s pod_sessions) returns integer
language sql stable set search_path from current as $$
  select coalesce(s.rate_ten_thousandths, (select qwip_pod_rate(p) from pods p where p.id = s.pod_id))
$$;

-- A Seam access code id is a uuid; anything else in `access_code_id` is a sealed static code.
create or replace function qwip_is_lock_ref(ref text) returns boolean
language sql immutable set search_path from current as $$
  select ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
$$;

-- The state of a row the previous service wrote (state is null):
-- - open (end_time null): Active if it has an access code, else Provisioning; live and endable;
-- - ended: Ended at end_time, priced from start, end and the rate; the outcome is
--   PaymentFailed if `invalid_payment_attempts` has the session, NotBilled below 30p, else
--   Paid with the marker PaymentIntent id `legacy-unrecorded` (today's service never stored it).
create or replace function qwip_legacy_state(s pod_sessions) returns jsonb
language sql stable set search_path from current as $$
  select case
    when s.end_time is null then
      case
        when s.access_code_id is null then jsonb_build_object('_tag', 'Provisioning')
        else jsonb_build_object('_tag', 'Active', 'activatedAt', qwip_iso(coalesce(
          (select max(sp.ready_at) from session_provisionings sp where sp.session_id = s.id), s.start_time)))
      end
    else (
      select jsonb_build_object(
        '_tag', 'Ended',
        'endedAt', qwip_iso(s.end_time),
        'quote', q.quote,
        'outcome', case
          when exists (select 1 from invalid_payment_attempts a where a.session_id = s.id) then jsonb_build_object(
            '_tag', 'PaymentFailed', 'paymentIntentId', null, 'declineCode', 'legacy',
            'message', 'the previous service recorded this charge as failed')
          when (q.quote ->> 'chargePence')::integer = 0 then jsonb_build_object('_tag', 'NotBilled')
          else jsonb_build_object('_tag', 'Paid', 'paymentIntentId', 'legacy-unrecorded',
            'amountPence', (q.quote ->> 'chargePence')::integer)
        end,
        'closedAt', qwip_iso(s.end_time),
        'by', jsonb_build_object('_tag', 'System', 'reason', 'ended by the previous service')
      )
      from (select qwip_quote(s.start_time, s.end_time, qwip_session_rate(s)) as quote) q
    )
  end
$$;

create or replace function qwip_session_doc(s pod_sessions) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object(
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
      'email', coalesce(nullif(s.user_email, ''), 'hello@qwip.co.uk')
    ),
    'rate', qwip_session_rate(s),
    'startedAt', qwip_iso(s.start_time),
    'accessUntil', qwip_iso(coalesce(s.access_until, s.start_time + interval '180 minutes')),
    'access', case when s.access_code_id is null then null else jsonb_build_object(
      'ref', s.access_code_id,
      -- Legacy Seam codes were never stored: their sealed code is empty.
      'sealedCode', coalesce(s.sealed_code, case when qwip_is_lock_ref(s.access_code_id) then '' else s.access_code_id end),
      'mode', coalesce(s.access_mode, case when qwip_is_lock_ref(s.access_code_id) then 'lock-provider' else 'static' end)
    ) end,
    'accessRevokedAt', qwip_iso(s.access_revoked_at),
    'state', coalesce(s.state_data, qwip_legacy_state(s)),
    'version', s.version,
    'updatedAt', qwip_iso(coalesce(s.updated_at, s.end_time, s.start_time))
  )
$$;

create or replace function qwip_work_doc(w background_work) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object(
    'id', w.id::text,
    'key', w.key,
    'kind', w.kind,
    'sessionId', w.session_id::text,
    'runAt', qwip_iso(w.run_at),
    'message', w.message,
    'attempts', w.attempts,
    'leasedBy', coalesce(w.leased_by, ''),
    'leaseUntil', qwip_iso(coalesce(w.lease_until, 'epoch'::timestamptz)),
    'lastError', w.last_error
  )
$$;

-- When a state ends the session for old readers of `end_time`.
create or replace function qwip_state_end_time(p_state jsonb) returns timestamptz
language sql stable set search_path from current as $$
  select case p_state ->> '_tag'
    when 'Ending' then (p_state ->> 'endedAt')::timestamptz
    when 'Ended' then (p_state ->> 'endedAt')::timestamptz
    when 'ProvisioningFailed' then (p_state ->> 'failedAt')::timestamptz
  end
$$;

-- ---- reads (one query each) -------------------------------------------------------------

create or replace function qwip_schema_version() returns integer
language sql stable set search_path from current as $$
  select coalesce(max(version), 0) from qwip_schema_migrations
$$;

create or replace function qwip_pod_status(p_pod_id text) returns jsonb
language sql stable set search_path from current as $$
  select qwip_pod_status_doc(p) from pods p where p.id::text = p_pod_id
$$;

create or replace function qwip_pods() returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_pod_status_doc(p) order by p.id::text), '[]'::jsonb) from pods p
$$;

create or replace function qwip_session(p_session_id text) returns jsonb
language sql stable set search_path from current as $$
  select qwip_session_doc(s) from pod_sessions s where s.id = p_session_id::uuid
$$;

create or replace function qwip_session_with_pod(p_session_id text) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object('session', qwip_session_doc(s), 'pod', qwip_pod_doc(p))
  from pod_sessions s join pods p on p.id = s.pod_id
  where s.id = p_session_id::uuid
$$;

create or replace function qwip_session_for_setup_intent(p_setup_intent_id text) returns jsonb
language sql stable set search_path from current as $$
  select qwip_session_doc(s) from pod_sessions s
  where s.stripe_setup_intent_id = p_setup_intent_id
  order by (s.legacy_conflict is null) desc, s.start_time nulls last, s.id
  limit 1
$$;

create or replace function qwip_live_sessions_on_pod(p_pod_id text) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_session_doc(s) order by s.start_time, s.id), '[]'::jsonb)
  from pod_sessions s where s.live and s.pod_id::text = p_pod_id
$$;

create or replace function qwip_live_sessions_past_window(p_before timestamptz) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_session_doc(s) order by s.start_time, s.id), '[]'::jsonb)
  from pod_sessions s
  where s.live and coalesce(s.access_until, s.start_time + interval '180 minutes') < p_before
$$;

-- ---- writes ---------------------------------------------------------------------------

-- Inserts work orders (`Schema.encode(WorkOrder)` objects); a key seen before is left as it
-- is. Returns the keys that were new.
create or replace function qwip_add_work(p_work jsonb) returns text[]
language sql set search_path from current as $$
  with added as (
    insert into background_work (key, kind, session_id, run_at, message)
    select w.key, w.kind, w."sessionId", w."runAt", w.message
    from jsonb_to_recordset(coalesce(p_work, '[]'::jsonb))
      as w(key text, kind text, "sessionId" uuid, "runAt" timestamptz, message jsonb)
    on conflict (key) do nothing
    returning key
  )
  select coalesce(array_agg(key), '{}'::text[]) from added
$$;

-- openSession: the session for the SetupIntent if there is one; else claims the pod with a
-- conditional update and inserts the session, its provisioning row and its work.
create or replace function qwip_open_session(p_session jsonb, p_work jsonb) returns jsonb
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
      access_code_id, stripe_setup_intent_id, provisioning_id, state, state_data,
      rate_ten_thousandths, access_until, access_mode, sealed_code, access_revoked_at, version, updated_at
    ) values (
      v_id, v_pod.id, p_session #>> '{card,email}', (p_session ->> 'startedAt')::timestamptz,
      qwip_state_end_time(v_state), p_session #>> '{card,customerId}', p_session #>> '{card,paymentMethodId}',
      p_session #>> '{access,ref}', v_intent, (p_session ->> 'provisioningId')::uuid, v_state ->> '_tag', v_state,
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

-- commit: applies `p_after` only if the stored version is `p_before_version`; keeps today's
-- columns, the provisioning row, the one charge row and `invalid_payment_attempts` in step;
-- frees the pod if asked (unless another live session still holds it); enqueues work.
create or replace function qwip_commit(p_before_version integer, p_after jsonb, p_release_pod boolean, p_work jsonb)
returns jsonb
language plpgsql set search_path from current as $$
declare
  v_id uuid := (p_after ->> 'id')::uuid;
  v_old pod_sessions;
  v_new pod_sessions;
  v_state jsonb := p_after -> 'state';
  v_tag text := p_after #>> '{state,_tag}';
  v_outcome jsonb := p_after #> '{state,outcome}';
  v_old_outcome text;
  v_at timestamptz := (p_after ->> 'updatedAt')::timestamptz;
begin
  select * into v_old from pod_sessions where id = v_id for update;
  if not found or v_old.version <> p_before_version then
    return jsonb_build_object('error', 'StaleSession');
  end if;
  v_old_outcome := coalesce(v_old.state_data, qwip_legacy_state(v_old)) #>> '{outcome,_tag}';

  update pod_sessions set
    end_time = qwip_state_end_time(v_state),
    access_code_id = p_after #>> '{access,ref}',
    access_mode = p_after #>> '{access,mode}',
    sealed_code = p_after #>> '{access,sealedCode}',
    access_revoked_at = (p_after ->> 'accessRevokedAt')::timestamptz,
    access_until = (p_after ->> 'accessUntil')::timestamptz,
    rate_ten_thousandths = (p_after ->> 'rate')::integer,
    provisioning_id = (p_after ->> 'provisioningId')::uuid,
    state = v_tag,
    state_data = v_state,
    version = (p_after ->> 'version')::integer,
    updated_at = v_at
  where id = v_id
  returning * into v_new;

  if v_tag = 'Active' then
    update session_provisionings set status = 'ready', ready_at = (v_state ->> 'activatedAt')::timestamptz, updated_at = v_at
    where session_id = v_id and status in ('draft', 'pending');
  elsif v_tag = 'ProvisioningFailed' then
    update session_provisionings set status = 'failed', failed_at = (v_state ->> 'failedAt')::timestamptz, updated_at = v_at
    where session_id = v_id and status in ('draft', 'pending');
  end if;

  if v_tag = 'Ended' then
    insert into session_charges as c (
      session_id, idempotency_key, amount_pence, payment_intent_id, status, detail, created_at, updated_at
    ) values (
      v_id,
      'qwip-session-charge-' || v_id::text,
      case v_outcome ->> '_tag'
        when 'Paid' then (v_outcome ->> 'amountPence')::integer
        when 'NotBilled' then 0
        when 'Waived' then 0
        else (v_state #>> '{quote,chargePence}')::integer end,
      v_outcome ->> 'paymentIntentId',
      case v_outcome ->> '_tag'
        when 'Paid' then 'succeeded' when 'NotBilled' then 'not_billed' when 'Waived' then 'waived'
        when 'PaymentFailed' then 'failed' when 'NeedsAuthentication' then 'requires_action'
        else 'unknown' end,
      case v_outcome ->> '_tag'
        when 'PaymentFailed' then (v_outcome ->> 'declineCode') || ': ' || (v_outcome ->> 'message')
        when 'PaymentUnknown' then v_outcome ->> 'detail'
        when 'Waived' then (v_outcome ->> 'reason') || ' (' || (v_outcome ->> 'by') || ')'
      end,
      v_at, v_at
    )
    on conflict (session_id) do update set
      amount_pence = excluded.amount_pence,
      payment_intent_id = coalesce(excluded.payment_intent_id, c.payment_intent_id),
      status = excluded.status,
      detail = excluded.detail,
      updated_at = excluded.updated_at;

    if v_outcome ->> '_tag' = 'PaymentFailed' and v_old_outcome is distinct from 'PaymentFailed' then
      insert into invalid_payment_attempts (session_id, session_cost, payment_intent_id, decline_code)
      values (v_id, (v_state #>> '{quote,chargePence}')::integer, v_outcome ->> 'paymentIntentId', v_outcome ->> 'declineCode');
    end if;
  end if;

  if p_release_pod then
    update pods p set in_use = false, updated_at = v_at
    where p.id = v_new.pod_id
      and not exists (select 1 from pod_sessions o where o.pod_id = v_new.pod_id and o.live and o.id <> v_id);
  end if;

  perform qwip_add_work(p_work);
  return jsonb_build_object('session', qwip_session_doc(v_new));
end
$$;

create or replace function qwip_enqueue(p_work jsonb) returns jsonb
language sql set search_path from current as $$
  select to_jsonb(qwip_add_work(p_work))
$$;

-- Claims up to `p_limit` due items that nobody holds (or whose lease ran out), skipping rows
-- another claimer has locked; counts an attempt on each.
create or replace function qwip_claim_work(p_worker text, p_now timestamptz, p_lease_ms bigint, p_limit integer)
returns jsonb
language sql set search_path from current as $$
  with due as (
    select id from background_work
    where status = 'pending' and run_at <= p_now and (lease_until is null or lease_until <= p_now)
    order by run_at, created_at, id
    limit greatest(p_limit, 0)
    for update skip locked
  ), claimed as (
    update background_work w set
      leased_by = p_worker,
      lease_until = p_now + p_lease_ms * interval '1 millisecond',
      attempts = w.attempts + 1,
      updated_at = now()
    from due where w.id = due.id
    returning w.run_at, w.created_at, w.id, w.kind, w.session_id, qwip_work_doc(w) as doc
  ), provisioning as (
    -- today's column: how many times a session's provisioning was attempted
    update session_provisionings sp set attempts = coalesce(sp.attempts, 0) + 1
    where sp.session_id in (select session_id from claimed where kind = 'provision-access')
      and sp.status in ('draft', 'pending')
  )
  select coalesce(jsonb_agg(doc order by run_at, created_at, id), '[]'::jsonb) from claimed
$$;

create or replace function qwip_finish_work(p_id text, p_worker text) returns boolean
language sql set search_path from current as $$
  with done as (
    update background_work set status = 'done', lease_until = null, finished_at = now(), updated_at = now()
    where id = p_id::uuid and status = 'pending' and leased_by = p_worker
    returning 1
  ) select exists (select 1 from done)
$$;

create or replace function qwip_park_work(p_id text, p_worker text, p_error text) returns boolean
language sql set search_path from current as $$
  with parked as (
    update background_work set status = 'parked', last_error = p_error, lease_until = null,
      finished_at = now(), updated_at = now()
    where id = p_id::uuid and status = 'pending' and leased_by = p_worker
    returning 1
  ) select exists (select 1 from parked)
$$;

create or replace function qwip_defer_work(p_id text, p_worker text, p_run_at timestamptz, p_error text) returns boolean
language sql set search_path from current as $$
  with deferred as (
    update background_work set run_at = p_run_at, last_error = p_error, leased_by = null, lease_until = null,
      updated_at = now()
    where id = p_id::uuid and status = 'pending' and leased_by = p_worker
    returning 1
  ) select exists (select 1 from deferred)
$$;

create or replace function qwip_release_leases(p_worker text) returns integer
language sql set search_path from current as $$
  with released as (
    update background_work set leased_by = null, lease_until = null, updated_at = now()
    where status = 'pending' and leased_by = p_worker
    returning 1
  ) select count(*)::integer from released
$$;

-- ---- platform records -------------------------------------------------------------------

-- Creates or updates a pod's settings (not its in_use flag). `price` follows by trigger.
create or replace function qwip_upsert_pod(p_pod jsonb) returns jsonb
language plpgsql set search_path from current as $$
declare
  v_id pods.id%type := p_pod ->> 'id';
  v_pod pods;
begin
  insert into pods as p (id, name, address, rate_ten_thousandths, lock_device_id, access_mode, in_use, updated_at)
  values (v_id, p_pod ->> 'name', p_pod ->> 'address', (p_pod ->> 'rate')::integer, p_pod ->> 'lockDeviceId',
    p_pod ->> 'accessMode', false, now())
  on conflict (id) do update set
    name = excluded.name, address = excluded.address, rate_ten_thousandths = excluded.rate_ten_thousandths,
    lock_device_id = excluded.lock_device_id, access_mode = excluded.access_mode, updated_at = now()
  returning * into v_pod;
  return qwip_pod_status_doc(v_pod);
end
$$;

create or replace function qwip_static_codes(p_pod_id text) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(c.code order by c.code), '[]'::jsonb) from pod_static_codes c where c.pod_id::text = p_pod_id
$$;

-- Replaces a pod's code list. Returns false if the pod does not exist.
create or replace function qwip_set_static_codes(p_pod_id text, p_codes jsonb) returns boolean
language plpgsql set search_path from current as $$
declare
  v_pod_id pods.id%type;
begin
  select id into v_pod_id from pods where id::text = p_pod_id for update;
  if not found then
    return false;
  end if;
  delete from pod_static_codes c where c.pod_id = v_pod_id
    and not (to_jsonb(c.code) <@ coalesce(p_codes, '[]'::jsonb));
  insert into pod_static_codes (pod_id, code)
  select v_pod_id, code from jsonb_array_elements_text(coalesce(p_codes, '[]'::jsonb)) as code
  on conflict do nothing;
  return true;
end
$$;

create or replace function qwip_session_charge(p_session_id text) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object(
    'sessionId', c.session_id::text, 'idempotencyKey', c.idempotency_key, 'amountPence', c.amount_pence,
    'currency', c.currency, 'paymentIntentId', c.payment_intent_id, 'status', c.status, 'detail', c.detail,
    'createdAt', qwip_iso(c.created_at), 'updatedAt', qwip_iso(c.updated_at)
  )
  from session_charges c where c.session_id = p_session_id::uuid
$$;

create or replace function qwip_charges(p_limit integer) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_session_charge(e.session_id::text) order by e.updated_at desc, e.session_id), '[]'::jsonb)
  from (select session_id, updated_at from session_charges order by updated_at desc, session_id limit greatest(p_limit, 0)) e
$$;

create or replace function qwip_payment_attempts(p_session_id text) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(jsonb_build_object(
    'sessionId', a.session_id::text, 'sessionCost', a.session_cost, 'paymentIntentId', a.payment_intent_id,
    'declineCode', a.decline_code, 'createdAt', qwip_iso(a.created_at)
  ) order by a.created_at), '[]'::jsonb)
  from invalid_payment_attempts a where a.session_id = p_session_id::uuid
$$;

create or replace function qwip_work_for_session(p_session_id text) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(qwip_work_doc(w) || jsonb_build_object(
    'status', w.status, 'createdAt', qwip_iso(w.created_at), 'finishedAt', qwip_iso(w.finished_at)
  ) order by w.created_at, w.key), '[]'::jsonb)
  from background_work w where w.session_id = p_session_id::uuid
$$;

-- Records a delivery of a Stripe event; `isNew` only for the first delivery of an event id.
create or replace function qwip_record_webhook_event(p_event_id text, p_type text, p_payload jsonb) returns jsonb
language plpgsql set search_path from current as $$
declare
  v_event stripe_webhook_events;
  v_new boolean := true;
begin
  insert into stripe_webhook_events (event_id, type, payload) values (p_event_id, p_type, p_payload)
  on conflict (event_id) do nothing
  returning * into v_event;
  if not found then
    v_new := false;
    update stripe_webhook_events set deliveries = deliveries + 1, updated_at = now()
    where event_id = p_event_id returning * into v_event;
  end if;
  return jsonb_build_object('eventId', v_event.event_id, 'isNew', v_new, 'status', v_event.status,
    'deliveries', v_event.deliveries, 'error', v_event.error);
end
$$;

create or replace function qwip_finish_webhook_event(p_event_id text, p_status text, p_error text) returns boolean
language sql set search_path from current as $$
  with done as (
    update stripe_webhook_events set status = p_status, error = p_error, updated_at = now(),
      processed_at = case when p_status = 'processed' then now() else processed_at end
    where event_id = p_event_id
    returning 1
  ) select exists (select 1 from done)
$$;

create or replace function qwip_append_audit(p_actor text, p_action text, p_subject text, p_before jsonb, p_after jsonb)
returns bigint
language sql set search_path from current as $$
  insert into staff_audit_log (actor, action, subject, before, after) values (p_actor, p_action, p_subject, p_before, p_after)
  returning id
$$;

create or replace function qwip_list_audit(p_subject text, p_limit integer) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(e.doc order by e.id desc), '[]'::jsonb)
  from (
    select a.id, jsonb_build_object('id', a.id, 'actor', a.actor, 'action', a.action, 'subject', a.subject,
      'before', a.before, 'after', a.after, 'at', qwip_iso(a.at)) as doc
    from staff_audit_log a
    where p_subject is null or a.subject = p_subject
    order by a.id desc
    limit greatest(p_limit, 0)
  ) e
$$;

-- Adds an email to the outbox; false if its message key was already there.
create or replace function qwip_outbox_add(p_key text, p_recipient text, p_kind text, p_message jsonb, p_rendered jsonb)
returns boolean
language sql set search_path from current as $$
  with added as (
    insert into email_outbox (message_key, recipient, kind, message, rendered)
    values (p_key, p_recipient, p_kind, p_message, p_rendered)
    on conflict (message_key) do nothing
    returning 1
  ) select exists (select 1 from added)
$$;

create or replace function qwip_outbox_doc(o email_outbox) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object('id', o.id::text, 'messageKey', o.message_key, 'recipient', o.recipient, 'kind', o.kind,
    'message', o.message, 'rendered', o.rendered, 'createdAt', qwip_iso(o.created_at))
$$;

create or replace function qwip_outbox_list(p_limit integer) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(e.doc order by e.id desc), '[]'::jsonb)
  from (
    select o.id, qwip_outbox_doc(o) as doc
    from email_outbox o order by o.id desc limit greatest(p_limit, 0)
  ) e
$$;

create or replace function qwip_outbox_get(p_id text) returns jsonb
language sql stable set search_path from current as $$
  select qwip_outbox_doc(o) from email_outbox o where o.id::text = p_id
$$;

create or replace function qwip_sandbox_doc(p sandbox_payments) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object('id', p.id, 'object', p.object, 'idempotencyKey', p.idempotency_key, 'status', p.status,
    'amountPence', p.amount_pence, 'data', p.data, 'createdAt', qwip_iso(p.created_at), 'updatedAt', qwip_iso(p.updated_at))
$$;

-- Creates a sandbox object; a repeated idempotency key returns the object made first.
create or replace function qwip_sandbox_create(p_id text, p_object text, p_idempotency_key text, p_status text,
  p_amount_pence integer, p_data jsonb) returns jsonb
language plpgsql set search_path from current as $$
declare
  v sandbox_payments;
begin
  insert into sandbox_payments (id, object, idempotency_key, status, amount_pence, data)
  values (p_id, p_object, p_idempotency_key, p_status, p_amount_pence, coalesce(p_data, '{}'::jsonb))
  on conflict do nothing
  returning * into v;
  if not found then
    select * into v from sandbox_payments
    where (p_idempotency_key is not null and idempotency_key = p_idempotency_key) or id = p_id
    order by (idempotency_key = p_idempotency_key) desc nulls last limit 1;
  end if;
  return qwip_sandbox_doc(v);
end
$$;

create or replace function qwip_sandbox_update(p_id text, p_status text, p_data jsonb) returns jsonb
language sql set search_path from current as $$
  with updated as (
    update sandbox_payments p set status = p_status, data = p.data || coalesce(p_data, '{}'::jsonb), updated_at = now()
    where p.id = p_id
    returning p.*
  ) select qwip_sandbox_doc(u::sandbox_payments) from updated u
$$;

create or replace function qwip_sandbox_get(p_id text) returns jsonb
language sql stable set search_path from current as $$
  select qwip_sandbox_doc(p) from sandbox_payments p where p.id = p_id
$$;

-- The newest sandbox object of a kind whose data has `p_field` = `p_value`.
create or replace function qwip_sandbox_find(p_object text, p_field text, p_value text) returns jsonb
language sql stable set search_path from current as $$
  select qwip_sandbox_doc(p) from sandbox_payments p
  where p.object = p_object and p.data ->> p_field = p_value
  order by p.created_at desc, p.id desc
  limit 1
$$;

create or replace function qwip_sandbox_list(p_limit integer) returns jsonb
language sql stable set search_path from current as $$
  select coalesce(jsonb_agg(e.doc order by e.created_at desc, e.id desc), '[]'::jsonb)
  from (
    select p.id, p.created_at, qwip_sandbox_doc(p) as doc from sandbox_payments p
    order by p.created_at desc, p.id desc limit greatest(p_limit, 0)
  ) e
$$;

-- ---- Supabase: nothing here for the anon key ----------------------------------------------

-- On Supabase (role `anon` exists) functions are executable by PUBLIC and tables in `public`
-- are reachable with the anon key. Only the service role may call these functions, and new
-- tables get row level security with no policy (the service role bypasses it). Elsewhere the
-- database's own grants apply.
do $qwip$
declare
  f regprocedure;
  t text;
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    for f in
      select p.oid::regprocedure from pg_proc p
      where p.pronamespace = current_schema()::regnamespace and p.proname like 'qwip\_%'
    loop
      execute format('revoke execute on function %s from public, anon, authenticated', f);
      if exists (select 1 from pg_roles where rolname = 'service_role') then
        execute format('grant execute on function %s to service_role', f);
      end if;
    end loop;
    foreach t in array array['session_charges', 'background_work', 'stripe_webhook_events', 'staff_audit_log',
      'pod_static_codes', 'email_outbox', 'sandbox_payments', 'qwip_schema_migrations'] loop
      execute format('alter table %I enable row level security', t);
    end loop;
  end if;
end
$qwip$;

-- Tell PostgREST (Supabase) to pick up the new functions.
notify pgrst, 'reload schema';

insert into qwip_schema_migrations (version, name) values (4, 'functions') on conflict (version) do nothing;
