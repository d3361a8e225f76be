-- 0002: what the platform adds to today's tables (additive only), the one charge per session,
-- and background work kept in the database.
--
-- Legacy rows need no rewrite to keep working: a session row whose `state` is null was
-- written by the previous service and is read through `qwip_legacy_state` (0004), so rows
-- the old service writes during a cut-over are understood too. This migration only freezes
-- the facts that can drift (the rate, the door-code window, the provisioning id) and flags
-- legacy rows that today's races left in conflict with the new constraints.

-- ---- pods ---------------------------------------------------------------------------

-- The exact rate in ten-thousandths of a pound per minute. `price` (float pounds) stays
-- and is kept in step by a trigger, so old readers and writers keep working.
alter table pods add column if not exists rate_ten_thousandths integer
  check (rate_ten_thousandths is null or rate_ten_thousandths >= 0);
alter table pods add column if not exists lock_device_id text;
alter table pods add column if not exists access_mode text not null default 'lock-provider'
  check (access_mode in ('static', 'lock-provider'));
alter table pods add column if not exists updated_at timestamptz;

-- A price with more than 4 decimal places of pounds is rounded half-up to 4.
update pods set rate_ten_thousandths = round(price::numeric * 10000)::integer
where rate_ten_thousandths is null and price is not null;

create or replace function qwip_pods_sync_rate() returns trigger
language plpgsql set search_path from current as $$
begin
  if tg_op = 'INSERT' then
    if new.rate_ten_thousandths is null and new.price is not null then
      new.rate_ten_thousandths := round(new.price::numeric * 10000)::integer;
    elsif new.rate_ten_thousandths is not null then
      new.price := new.rate_ten_thousandths::numeric / 10000;
    end if;
  elsif new.rate_ten_thousandths is distinct from old.rate_ten_thousandths then
    new.price := new.rate_ten_thousandths::numeric / 10000;
  elsif new.price is distinct from old.price then
    -- An old writer changed the float price: follow it.
    new.rate_ten_thousandths := round(new.price::numeric * 10000)::integer;
  end if;
  return new;
end
$$;

drop trigger if exists pods_sync_rate on pods;
create trigger pods_sync_rate before insert or update on pods
  for each row execute function qwip_pods_sync_rate();

-- ---- pod_sessions -------------------------------------------------------------------

alter table pod_sessions add column if not exists provisioning_id uuid;
-- The state's tag; null on rows the previous service wrote (see qwip_legacy_state).
alter table pod_sessions add column if not exists state text
  check (state in ('Provisioning', 'Active', 'ProvisioningFailed', 'Ending', 'Ended'));
-- The whole state as `Schema.encode(SessionState)` gives it (end, quote, outcome, actor).
alter table pod_sessions add column if not exists state_data jsonb;
-- The pod's rate when the session started.
alter table pod_sessions add column if not exists rate_ten_thousandths integer;
alter table pod_sessions add column if not exists access_until timestamptz;
-- The door code: `access_code_id` keeps the reference (lock provider's id or sealed token).
alter table pod_sessions add column if not exists access_mode text
  check (access_mode in ('static', 'lock-provider'));
alter table pod_sessions add column if not exists sealed_code text;
alter table pod_sessions add column if not exists access_revoked_at timestamptz;
-- Optimistic concurrency: bumped by every change; legacy rows start at 0.
alter table pod_sessions add column if not exists version integer not null default 0;
alter table pod_sessions add column if not exists updated_at timestamptz;
-- Set only by this migration, on legacy rows today's races left in conflict with the
-- constraints below; such rows stay readable and endable but are exempt from them.
alter table pod_sessions add column if not exists legacy_conflict text;
-- Whether the session holds its pod: from the state, or for legacy rows from `end_time`.
alter table pod_sessions add column if not exists live boolean generated always as (
  case when state is null then end_time is null else state in ('Provisioning', 'Active', 'Ending') end
) stored;

-- Freeze what could drift on legacy rows: the rate (from the pod's price now), the door-code
-- window (start + 180 minutes, today's Seam code validity) and the provisioning id.
update pod_sessions s set
  rate_ten_thousandths = coalesce(
    s.rate_ten_thousandths,
    (select coalesce(p.rate_ten_thousandths, round(p.price::numeric * 10000)::integer) from pods p where p.id = s.pod_id)
  ),
  access_until = coalesce(s.access_until, s.start_time + interval '180 minutes'),
  provisioning_id = coalesce(
    s.provisioning_id,
    (select sp.id from session_provisionings sp where sp.session_id = s.id order by sp.created_at nulls last, sp.id limit 1)
  )
where s.state is null;

-- Today's finalize race could leave two open sessions on one pod, or two sessions for one
-- SetupIntent. The latest open session keeps the pod and the earliest keeps the SetupIntent.
with ranked as (
  select id, row_number() over (partition by pod_id order by start_time desc nulls last, id desc) as n
  from pod_sessions where live and legacy_conflict is null
)
update pod_sessions s set legacy_conflict = 'open at migration while a later session on the same pod was also open'
from ranked r where r.id = s.id and r.n > 1;

with ranked as (
  select id, row_number() over (partition by stripe_setup_intent_id order by start_time nulls last, id) as n
  from pod_sessions where stripe_setup_intent_id is not null and legacy_conflict is null
)
update pod_sessions s set legacy_conflict = 'shares its SetupIntent with an earlier session'
from ranked r where r.id = s.id and r.n > 1;

-- One live session per pod; one session per SetupIntent.
create unique index if not exists pod_sessions_one_live_per_pod on pod_sessions (pod_id)
  where live and legacy_conflict is null;
create unique index if not exists pod_sessions_one_per_setup_intent on pod_sessions (stripe_setup_intent_id)
  where legacy_conflict is null;
create index if not exists pod_sessions_live_on_pod on pod_sessions (pod_id) where live;

-- ---- session_provisionings / invalid_payment_attempts ---------------------------------

-- `openSession` upserts the provisioning row by id (the token's provisioning id).
do $qwip$
begin
  if not exists (
    select 1 from pg_index i
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
    where i.indrelid = 'session_provisionings'::regclass and i.indisunique and i.indnkeyatts = 1
      and i.indpred is null and a.attname = 'id'
  ) then
    create unique index session_provisionings_id_key on session_provisionings (id);
  end if;
end
$qwip$;
create index if not exists session_provisionings_session on session_provisionings (session_id);

alter table invalid_payment_attempts add column if not exists payment_intent_id text;
alter table invalid_payment_attempts add column if not exists decline_code text;
alter table invalid_payment_attempts add column if not exists created_at timestamptz default now();
create index if not exists invalid_payment_attempts_session on invalid_payment_attempts (session_id);

-- ---- the one charge per session -------------------------------------------------------

-- Derived from the session's recorded outcome as `Charge.chargeOf` (core) derives it.

create table if not exists session_charges (
  session_id uuid primary key references pod_sessions (id),
  idempotency_key text not null unique,
  amount_pence integer not null check (amount_pence >= 0),
  currency text not null default 'gbp',
  payment_intent_id text,
  status text not null
    check (status in ('succeeded', 'failed', 'requires_action', 'unknown', 'not_billed', 'waived')),
  detail text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists session_charges_payment_intent on session_charges (payment_intent_id);
create index if not exists session_charges_recent on session_charges (updated_at);

-- ---- background work ------------------------------------------------------------------

-- Keys are unique for ever: finished work stays as history (`done`), failing work is kept
-- with its error (`parked`). A worker holds claimed work under a lease.
create table if not exists background_work (
  id uuid primary key default gen_random_uuid(),
  key text not null unique,
  kind text not null,
  session_id uuid not null,
  run_at timestamptz not null,
  message jsonb,
  status text not null default 'pending' check (status in ('pending', 'done', 'parked')),
  attempts integer not null default 0,
  leased_by text,
  lease_until timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz
);
create index if not exists background_work_due on background_work (run_at) where status = 'pending';
create index if not exists background_work_worker on background_work (leased_by) where status = 'pending';
create index if not exists background_work_session on background_work (session_id);

insert into qwip_schema_migrations (version, name) values (2, 'sessions') on conflict (version) do nothing;
