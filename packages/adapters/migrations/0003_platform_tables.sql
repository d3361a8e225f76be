-- 0003: new tables the platform needs beside sessions: Stripe webhook events, the staff
-- audit log, per-pod static code lists, and the embedded default's outbox of emails and
-- sandbox payments.

-- Each Stripe event once, by its id; its handling recorded.
create table if not exists stripe_webhook_events (
  event_id text primary key,
  type text not null,
  status text not null default 'received' check (status in ('received', 'processed', 'failed')),
  payload jsonb not null,
  error text,
  deliveries integer not null default 1,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  updated_at timestamptz not null default now()
);
create index if not exists stripe_webhook_events_unprocessed on stripe_webhook_events (received_at)
  where status <> 'processed';

-- What staff did, with the record before and after.
create table if not exists staff_audit_log (
  id bigint generated always as identity primary key,
  actor text not null,
  action text not null,
  subject text,
  before jsonb,
  after jsonb,
  at timestamptz not null default now()
);
create index if not exists staff_audit_log_subject on staff_audit_log (subject, at);

-- A static-mode pod's door codes, as digits (text, so leading zeros survive). Codes are
-- operator configuration like a lock's code list; sessions store only sealed tokens.
do $qwip$
declare
  pod_id_type text;
begin
  if to_regclass('pod_static_codes') is null then
    select format_type(a.atttypid, a.atttypmod) into pod_id_type
    from pg_attribute a where a.attrelid = 'pods'::regclass and a.attname = 'id';
    execute format(
      'create table pod_static_codes (
         pod_id %s not null references pods (id) on delete cascade,
         code text not null check (code ~ ''^[0-9]{4,12}$''),
         added_at timestamptz not null default now(),
         primary key (pod_id, code)
       )',
      pod_id_type
    );
  end if;
end
$qwip$;

-- Emails the embedded default "sends": one row per message key.
create table if not exists email_outbox (
  id bigint generated always as identity primary key,
  message_key text not null unique,
  recipient text not null,
  kind text not null,
  message jsonb not null,
  rendered jsonb,
  created_at timestamptz not null default now()
);

-- The sandbox payment provider's objects (customers, set-up intents, payment intents).
create table if not exists sandbox_payments (
  id text primary key,
  object text not null check (object in ('customer', 'setup_intent', 'payment_intent')),
  idempotency_key text unique,
  status text not null,
  amount_pence integer check (amount_pence is null or amount_pence >= 0),
  data jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

insert into qwip_schema_migrations (version, name) values (3, 'platform_tables') on conflict (version) do nothing;
