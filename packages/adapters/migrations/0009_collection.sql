-- 0009: getting paid beyond the first charge (issue 13). The core's `Session.collection` (the
-- card check hold placed at booking, the dunning of a declined charge, refunds) is kept as one
-- document beside the session, and the charge row carries what staff list about it (refunded
-- so far, where dunning stands, its next attempt), as core's `chargeOf` computed them. The SQL
-- stores these as given and decides nothing about them.
-- Additive for data: every existing row reads as a session with nothing collected (core's
-- `noCollection`) and a charge with nothing refunded. Safe to apply twice.

-- ---- columns --------------------------------------------------------------------------

-- `Schema.encode(Collection)`; null for every row written before this (the session decodes it
-- as `noCollection`) and for rows the previous service writes.
alter table pod_sessions add column if not exists collection_data jsonb;

alter table session_charges add column if not exists refunded_pence integer not null default 0
  check (refunded_pence >= 0);
-- `Dunning.status` (scheduled, stopped, exhausted, paid); null when dunning never started.
alter table session_charges add column if not exists collection_status text;
alter table session_charges add column if not exists next_attempt_at timestamptz;

-- The sandbox payment provider may keep refunds as objects of their own, as Stripe does.
alter table sandbox_payments drop constraint if exists sandbox_payments_object_check;
alter table sandbox_payments add constraint sandbox_payments_object_check
  check (object in ('customer', 'setup_intent', 'payment_intent', 'refund'));

-- ---- documents ------------------------------------------------------------------------

-- As 0008's, with the collection document of a row written with a state, when it has one.
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
      -- Absent, never null, when not recorded: the core reads a missing one as empty.
      || case when s.collection_data is null then '{}'::jsonb
         else jsonb_build_object('collection', s.collection_data) end
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

-- The charge row, with its refunded amount and where its dunning stands (read by
-- `qwip_charges` and `qwip_staff_charges` too).
create or replace function qwip_session_charge(p_session_id text) returns jsonb
language sql stable set search_path from current as $$
  select jsonb_build_object(
    'sessionId', c.session_id::text, 'idempotencyKey', c.idempotency_key, 'amountPence', c.amount_pence,
    'currency', c.currency, 'paymentIntentId', c.payment_intent_id, 'status', c.status, 'detail', c.detail,
    'refundedPence', c.refunded_pence, 'collection', c.collection_status, 'nextAttemptAt', qwip_iso(c.next_attempt_at),
    'createdAt', qwip_iso(c.created_at), 'updatedAt', qwip_iso(c.updated_at)
  )
  from session_charges c where c.session_id = p_session_id::uuid
$$;

-- ---- writes ---------------------------------------------------------------------------

-- As 0008's, also writing the session's collection document.
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
      rate_ten_thousandths, access_until, access_mode, sealed_code, access_revoked_at, version, updated_at,
      collection_data
    ) values (
      v_id, v_pod.id, p_session #>> '{card,email}', (p_session ->> 'startedAt')::timestamptz,
      (p_records ->> 'endedAt')::timestamptz, p_session #>> '{card,customerId}', p_session #>> '{card,paymentMethodId}',
      p_session #>> '{access,ref}', v_intent, (p_session ->> 'provisioningId')::uuid, v_state ->> '_tag', v_state,
      (p_records ->> 'holdsPod')::boolean,
      (p_session ->> 'rate')::integer, (p_session ->> 'accessUntil')::timestamptz, p_session #>> '{access,mode}',
      p_session #>> '{access,sealedCode}', (p_session ->> 'accessRevokedAt')::timestamptz,
      (p_session ->> 'version')::integer, v_at,
      nullif(p_session -> 'collection', 'null'::jsonb)
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

-- As 0008's, also writing the session's collection document and the charge row's refunded
-- amount, dunning status and next attempt (core's `chargeOf`), as given.
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
    collection_data = nullif(p_after -> 'collection', 'null'::jsonb),
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
      session_id, idempotency_key, amount_pence, payment_intent_id, status, detail,
      refunded_pence, collection_status, next_attempt_at, created_at, updated_at
    ) values (
      v_id, v_charge ->> 'idempotencyKey', (v_charge ->> 'amountPence')::integer, v_charge ->> 'paymentIntentId',
      v_charge ->> 'status', v_charge ->> 'detail',
      coalesce((v_charge ->> 'refundedPence')::integer, 0), v_charge ->> 'collection',
      (v_charge ->> 'nextAttemptAt')::timestamptz, v_at, v_at
    )
    on conflict (session_id) do update set
      amount_pence = excluded.amount_pence,
      -- a later outcome without a PaymentIntent (unknown) must not forget the one we knew
      payment_intent_id = coalesce(excluded.payment_intent_id, c.payment_intent_id),
      status = excluded.status,
      detail = excluded.detail,
      refunded_pence = excluded.refunded_pence,
      collection_status = excluded.collection_status,
      next_attempt_at = excluded.next_attempt_at,
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

-- `create or replace` kept every function's signature, so Supabase's grants from 0004 and 0008
-- still hold: nothing new to grant.

notify pgrst, 'reload schema';

insert into qwip_schema_migrations (version, name) values (9, 'collection') on conflict (version) do nothing;
