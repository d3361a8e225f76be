-- 0001: the tables Qwip's Supabase already holds, created only when absent, with today's
-- names and columns; and the record of applied migration versions.
--
-- On an existing database this adds nothing but missing legacy columns (additive) and checks
-- that session ids are uuids, as every session token already assumes. Unqualified names:
-- the migrator sets `search_path` to the target schema; the Supabase CLI applies it to `public`.

create table if not exists qwip_schema_migrations (
  version integer primary key,
  name text not null,
  applied_at timestamptz not null default now()
);

do $qwip$
declare
  created text[] := '{}';
  t text;
begin
  if to_regclass('pods') is null then
    create table pods (
      id text primary key,
      name text,
      address text,
      price double precision,
      in_use boolean not null default false
    );
    created := created || 'pods'::text;
  end if;

  if to_regclass('pod_sessions') is null then
    create table pod_sessions (
      id uuid primary key,
      pod_id text references pods (id),
      user_email text,
      start_time timestamptz,
      end_time timestamptz,
      stripe_customer_id text,
      stripe_payment_method text,
      access_code_id text,
      stripe_setup_intent_id text,
      checkout_photo_url text
    );
    created := created || 'pod_sessions'::text;
  end if;

  if to_regclass('session_provisionings') is null then
    create table session_provisionings (
      id uuid primary key default gen_random_uuid(),
      session_id uuid references pod_sessions (id),
      status text not null default 'draft'
        check (status in ('draft', 'pending', 'ready', 'failed', 'expired')),
      attempts integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      ready_at timestamptz,
      failed_at timestamptz
    );
    created := created || 'session_provisionings'::text;
  end if;

  if to_regclass('invalid_payment_attempts') is null then
    create table invalid_payment_attempts (
      session_id uuid references pod_sessions (id),
      session_cost integer
    );
    created := created || 'invalid_payment_attempts'::text;
  end if;

  -- On Supabase (role `anon` exists) tables in `public` are reachable with the anon key:
  -- tables we create get row level security with no policy (the service role bypasses it).
  -- Existing tables are left exactly as they are, so today's readers keep working.
  if exists (select 1 from pg_roles where rolname = 'anon') then
    foreach t in array created || array['qwip_schema_migrations'] loop
      execute format('alter table %I enable row level security', t);
    end loop;
  end if;
end
$qwip$;

-- Legacy columns an older copy of the schema may lack (additive only).
alter table pods add column if not exists name text;
alter table pods add column if not exists address text;
alter table pods add column if not exists price double precision;
alter table pods add column if not exists in_use boolean not null default false;
alter table pod_sessions add column if not exists user_email text;
alter table pod_sessions add column if not exists start_time timestamptz;
alter table pod_sessions add column if not exists end_time timestamptz;
alter table pod_sessions add column if not exists stripe_customer_id text;
alter table pod_sessions add column if not exists stripe_payment_method text;
alter table pod_sessions add column if not exists access_code_id text;
alter table pod_sessions add column if not exists stripe_setup_intent_id text;
alter table pod_sessions add column if not exists checkout_photo_url text;
alter table session_provisionings add column if not exists attempts integer not null default 0;
alter table session_provisionings add column if not exists created_at timestamptz default now();
alter table session_provisionings add column if not exists updated_at timestamptz default now();
alter table session_provisionings add column if not exists ready_at timestamptz;
alter table session_provisionings add column if not exists failed_at timestamptz;

-- Session ids travel in tokens and links as uuids; the functions compare them as uuids.
do $qwip$
declare
  bad text;
begin
  select string_agg(format('%s.%s is %s', c.table_name, c.column_name, c.data_type), '; ')
  into bad
  from information_schema.columns c
  where c.table_schema = current_schema()
    and (c.table_name, c.column_name) in (
      ('pod_sessions', 'id'),
      ('session_provisionings', 'id'),
      ('session_provisionings', 'session_id'),
      ('invalid_payment_attempts', 'session_id')
    )
    and c.data_type <> 'uuid';
  if bad is not null then
    raise exception 'qwip: expected uuid session ids, but %', bad
      using hint = 'Convert these columns to uuid before applying the Qwip migrations.';
  end if;
end
$qwip$;

insert into qwip_schema_migrations (version, name) values (1, 'legacy_tables') on conflict (version) do nothing;
