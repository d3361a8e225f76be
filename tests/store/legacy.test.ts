/**
 * Migrations on an empty database and on today's schema with rows in it (fixtures/legacy-
 * schema.sql), on PGlite always and on Postgres when QWIP_TEST_DATABASE_URL is set: nothing
 * legacy is changed, versions are recorded, a newer database is refused, and today's rows
 * read as faithful sessions that the new code can end.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import {
  layerPostgres,
  Migrator,
  openPglite,
  SqlStore,
  type StoreBackend,
  StoreRecords
} from "@qwip/adapters/store/index"
import { makeBackend, migrationTarget } from "@qwip/adapters/store/Pglite"
import { poolMigrationTarget } from "@qwip/adapters/store/Postgres"
import { type PodId, Policy, Session, SessionEnd, type SessionId, SessionStore, type SetupIntentId } from "@qwip/core"
import { layerFakeLock, layerFakeMailer, layerFakePayments, layerFakeStaticCodes } from "@qwip/core/testing"
import { type Context, Effect, Layer, Option, type Scope, TestClock } from "effect"
import { freshSchema, type StoreName, type TestSqlShape, testDatabaseUrl, testPool } from "../support/Stores.js"

const fixture = readFileSync(new URL("./fixtures/legacy-schema.sql", import.meta.url), "utf8")

interface Db {
  readonly sql: TestSqlShape
  /** Runs a multi-statement script as it is (how `psql` or the Supabase CLI would). */
  readonly exec: (script: string) => Effect.Effect<void>
  readonly migrate: Effect.Effect<Migrator.MigrationReport, unknown>
  /** The store's services over this database (the Postgres layer migrates at start). */
  readonly services: Effect.Effect<Context.Context<SessionStore | StoreRecords | StoreBackend>, unknown, Scope.Scope>
}

const pgliteDb: Effect.Effect<Db, never, Scope.Scope> = Effect.gen(function* () {
  const db = yield* openPglite({ setting: "test" }).pipe(Effect.orDie)
  return {
    sql: {
      schema: "public",
      query: <A>(text: string, params?: ReadonlyArray<unknown>) =>
        Effect.promise(() => db.query<A>(text, params === undefined ? [] : [...params])).pipe(Effect.map((r) => r.rows))
    },
    exec: (script) => Effect.promise(() => db.exec(script)).pipe(Effect.asVoid),
    migrate: Migrator.migrate(migrationTarget(db), { schema: "public" }),
    services: Effect.sync(() => SqlStore.servicesFor(makeBackend(db)))
  }
})

const postgresDb: Effect.Effect<Db, never, Scope.Scope> = Effect.gen(function* () {
  const schema = yield* freshSchema("qwip_legacy")
  const pool = yield* testPool({ schema })
  return {
    sql: {
      schema,
      query: <A>(text: string, params?: ReadonlyArray<unknown>) =>
        Effect.promise(() => pool.query(text, params === undefined ? [] : [...params])).pipe(
          Effect.map((r) => r.rows as Array<A>)
        )
    },
    exec: (script) => Effect.promise(() => pool.query(script)).pipe(Effect.asVoid),
    migrate: Migrator.migrate(poolMigrationTarget(pool), { schema }),
    services: Layer.build(layerPostgres({ url: testDatabaseUrl ?? "", schema }))
  }
})

const databases: ReadonlyArray<{ name: StoreName; make: Effect.Effect<Db, never, Scope.Scope>; skip?: string }> = [
  { name: "pglite", make: pgliteDb },
  {
    name: "postgres",
    make: postgresDb,
    ...(testDatabaseUrl === undefined ? { skip: "QWIP_TEST_DATABASE_URL is not set" } : {})
  }
]

const SESSION = {
  active: "10000000-0000-4000-8000-000000000001",
  provisioning: "10000000-0000-4000-8000-000000000002",
  paid: "10000000-0000-4000-8000-000000000003",
  failed: "10000000-0000-4000-8000-000000000004",
  short: "10000000-0000-4000-8000-000000000005",
  raceOld: "10000000-0000-4000-8000-000000000006",
  raceNew: "10000000-0000-4000-8000-000000000007",
  intentDup: "10000000-0000-4000-8000-000000000008",
  ancient: "10000000-0000-4000-8000-000000000009"
} as const
const POD = {
  a: "a0000000-0000-4000-8000-00000000000a",
  b: "b0000000-0000-4000-8000-00000000000b",
  c: "c0000000-0000-4000-8000-00000000000c",
  d: "d0000000-0000-4000-8000-00000000000d",
  e: "e0000000-0000-4000-8000-00000000000e"
} as const

const TABLES = ["pods", "pod_sessions", "session_provisionings", "invalid_payment_attempts"] as const
const LEGACY_COLUMNS: Record<(typeof TABLES)[number], string> = {
  pods: "id, name, address, price, in_use, created_at",
  pod_sessions:
    "id, pod_id, user_email, start_time, end_time, stripe_customer_id, stripe_payment_method, access_code_id, stripe_setup_intent_id, checkout_photo_url, created_at",
  session_provisionings: "id, session_id, status, attempts, created_at, updated_at, ready_at, failed_at",
  invalid_payment_attempts: "id, session_id, session_cost"
}

/** Today's columns of today's tables, as JSON text, for before/after comparison. */
const snapshot = (sql: TestSqlShape) =>
  Effect.forEach(TABLES, (table) =>
    sql
      .query<{ rows: unknown }>(
        `select coalesce(json_agg(t order by t.id)::text, '[]') as rows from (select ${LEGACY_COLUMNS[table]} from ${table}) t`
      )
      .pipe(Effect.map((r) => [table, r[0]?.rows] as const))
  )

const read = (id: string) =>
  Effect.flatMap(SessionStore, (store) => store.session(id as SessionId)).pipe(Effect.map(Option.getOrThrow))

/** Ends a session as the new code does, with fakes for everything but the store. */
const endWithNewCode = (id: string) =>
  SessionEnd.endSession(id as SessionId).pipe(
    Effect.provide(
      Layer.mergeAll(layerFakePayments, layerFakeStaticCodes, layerFakeLock, layerFakeMailer, Policy.Default)
    )
  )

/** Every migration this build has, and the newest. */
const versions = Effect.map(Migrator.migrations, (ms) => {
  const all = ms.map((m) => m.version)
  return { all, latest: all[all.length - 1] ?? 0 }
})

for (const database of databases) {
  const suite = database.skip === undefined ? describe : describe.skip
  suite(`[${database.name}] migrations`, () => {
    it.scoped(
      "an empty database: today's tables and the platform's are created, versions recorded, re-runs do nothing",
      () =>
        Effect.gen(function* () {
          const db = yield* database.make
          const { all, latest } = yield* versions
          const report = yield* db.migrate
          expect(report).toEqual({ from: 0, to: latest, applied: all })
          const tables = yield* db.sql.query<{ name: string }>(
            "select table_name as name from information_schema.tables where table_schema = $1 order by 1",
            [db.sql.schema]
          )
          expect(tables.map((t) => t.name)).toEqual(
            expect.arrayContaining([
              ...TABLES,
              "background_work",
              "email_outbox",
              "pod_static_codes",
              "qwip_schema_migrations",
              "sandbox_payments",
              "session_charges",
              "staff_audit_log",
              "stripe_webhook_events"
            ])
          )
          const recorded = yield* db.sql.query<{ version: number }>(
            "select version from qwip_schema_migrations order by version"
          )
          expect(recorded.map((v) => v.version)).toEqual(all)
          expect(yield* db.migrate).toEqual({ from: latest, to: latest, applied: [] })
        })
    )

    it.scoped("the files applied as plain SQL, as the Supabase CLI would, record the same versions", () =>
      Effect.gen(function* () {
        const db = yield* database.make
        const { latest } = yield* versions
        for (const migration of yield* Migrator.migrations) yield* db.exec(migration.sql)
        expect(yield* db.migrate).toEqual({ from: latest, to: latest, applied: [] })
        // and they are safe to apply twice
        for (const migration of yield* Migrator.migrations) yield* db.exec(migration.sql)
      })
    )

    it.scoped("a database migrated by a newer build is refused", () =>
      Effect.gen(function* () {
        const db = yield* database.make
        yield* db.migrate
        yield* db.sql.query("insert into qwip_schema_migrations (version, name) values (99, 'from_the_future')")
        const refused = yield* Effect.flip(db.migrate)
        expect(refused).toMatchObject({
          _tag: "SchemaTooNew",
          databaseVersion: 99,
          codeVersion: (yield* versions).latest
        })
        if (database.name === "postgres") {
          const startup = yield* Effect.flip(db.services)
          expect(startup).toMatchObject({ _tag: "StoreStartupError", setting: "DATABASE_URL" })
          expect(String((startup as Error).message)).toContain("newer than this build")
        }
      })
    )

    it.scoped("today's schema with rows: migrated additively, and its rows read as faithful sessions", () =>
      Effect.gen(function* () {
        const db = yield* database.make
        yield* db.exec(fixture)
        const before = yield* snapshot(db.sql)
        const report = yield* db.migrate
        expect(report.applied).toEqual((yield* versions).all)
        expect(yield* snapshot(db.sql)).toEqual(before) // nothing legacy changed
        const services = yield* db.services

        yield* Effect.gen(function* () {
          const store = yield* SessionStore
          const records = yield* StoreRecords

          // pods: the exact rate from the float price (0.33333 → 3333, rounded to 4 places)
          const pods = yield* store.pods
          expect(pods.map((p) => [p.pod.id, p.pod.rate, p.inUse])).toEqual([
            [POD.a, 5000, true],
            [POD.b, 2500, true],
            [POD.c, 1250, false],
            [POD.d, 3333, true],
            [POD.e, 5000, false]
          ])

          // open with a code: Active, the sealed token kept, 180-minute window, endable
          const active = yield* read(SESSION.active)
          expect(active.state).toMatchObject({ _tag: "Active", activatedAt: new Date("2024-01-02T09:00:40.000Z") })
          expect(active.access).toEqual(
            Option.some(
              expect.objectContaining({
                ref: "Q-tqrXZEigF8SNeznfVpYtoXTdEDLvQsOtdeWusyOo_4",
                sealedCode: "Q-tqrXZEigF8SNeznfVpYtoXTdEDLvQsOtdeWusyOo_4",
                mode: "static"
              })
            )
          )
          expect(active.accessUntil).toEqual(new Date("2024-01-02T12:00:00.000Z"))
          expect([active.rate, active.version, active.provisioningId]).toEqual([
            5000,
            0,
            "20000000-0000-4000-8000-000000000001"
          ])
          expect(active.card).toMatchObject({ customerId: "cus_A", paymentMethodId: "pm_A", email: "ada@example.com" })

          // open without a code: Provisioning, still live (its provisioning failed and was never repaired)
          expect((yield* read(SESSION.provisioning)).state._tag).toBe("Provisioning")

          // ended: priced exactly from start, end and rate; outcome from today's records
          const paid = yield* read(SESSION.paid)
          expect(paid.state).toMatchObject({
            _tag: "Ended",
            endedAt: new Date("2024-01-01T10:20:00.000Z"),
            quote: { billableSeconds: 1200, grossPence: 250, chargePence: 250, reason: "charge" },
            // the previous service billed from the booking: the row keeps that price
            billedFrom: { _tag: "Booking" },
            outcome: { _tag: "Paid", paymentIntentId: "legacy-unrecorded", amountPence: 250 }
          })
          expect(paid.access).toEqual(Option.some(expect.objectContaining({ mode: "lock-provider", sealedCode: "" })))
          const failed = yield* read(SESSION.failed)
          expect(failed.state).toMatchObject({
            _tag: "Ended",
            quote: { billableSeconds: 2400, chargePence: 500 },
            outcome: { _tag: "PaymentFailed", declineCode: "legacy" }
          })
          expect((yield* read(SESSION.short)).state).toMatchObject({
            _tag: "Ended",
            quote: { chargePence: 0, grossPence: 25, reason: "below_minimum" },
            outcome: { _tag: "NotBilled", reason: "below_minimum" }
          })
          const ancient = yield* read(SESSION.ancient)
          expect([ancient.setupIntentId, ancient.card.email, ancient.provisioningId]).toEqual([
            `legacy:${SESSION.ancient}`,
            "hello@qwip.co.uk",
            SESSION.ancient
          ])

          // today's races: both open sessions on pod D stay live; the earlier SetupIntent owner wins
          expect((yield* store.liveSessionsOnPod(POD.d as PodId)).map((s) => s.id)).toEqual([
            SESSION.raceOld,
            SESSION.raceNew
          ])
          const conflicts = yield* db.sql.query<{ id: string; legacy_conflict: string | null }>(
            "select id::text as id, legacy_conflict from pod_sessions where legacy_conflict is not null order by id"
          )
          expect(conflicts.map((c) => c.id)).toEqual([SESSION.raceOld, SESSION.intentDup])
          expect(Option.map(yield* store.sessionForSetupIntent("seti_C" as SetupIntentId), (s) => s.id)).toEqual(
            Option.some(SESSION.paid)
          )
          // every legacy session is past its window by now: staff are told about the open ones
          const overdue = (yield* store.liveSessionsPastWindow(new Date("2024-02-01T00:00:00Z"))).map((s) => s.id)
          expect(overdue.sort()).toEqual(
            [SESSION.active, SESSION.provisioning, SESSION.raceOld, SESSION.raceNew].sort()
          )

          // the new code ends an open legacy session: billed from when its code was ready (its
          // provisioning's ready_at, 40 s after the start), charged once, pod freed, today's columns written
          yield* TestClock.setTime(new Date("2024-01-02T09:45:00Z").getTime())
          const ended = yield* endWithNewCode(SESSION.active)
          expect(ended.state).toMatchObject({
            _tag: "Ended",
            quote: { billableSeconds: 45 * 60 - 40, chargePence: 2217 },
            billedFrom: { _tag: "CodeReady", at: new Date("2024-01-02T09:00:40.000Z") },
            outcome: { _tag: "Paid", amountPence: 2217 }
          })
          expect(ended.version).toBe(2)
          expect(Option.getOrThrow(yield* store.podStatus(POD.a as PodId)).inUse).toBe(false)
          expect(Option.getOrThrow(yield* records.chargeFor(SESSION.active))).toMatchObject({
            status: "succeeded",
            amountPence: 2217
          })
          const [row] = yield* db.sql.query<{ end_time: Date | string; state: string }>(
            "select end_time, state from pod_sessions where id = $1",
            [SESSION.active]
          )
          expect(new Date(row?.end_time ?? 0).toISOString()).toBe("2024-01-02T09:45:00.000Z")
          expect(row?.state).toBe("Ended")

          // an open legacy session that never got a code: ended by the new code, not charged
          yield* TestClock.setTime(new Date("2024-01-02T11:30:00Z").getTime())
          const free = yield* endWithNewCode(SESSION.provisioning)
          expect(free.state).toMatchObject({
            _tag: "Ended",
            quote: { billableSeconds: 0, chargePence: 0 },
            billedFrom: { _tag: "NoCode" },
            outcome: { _tag: "NotBilled", reason: "no_door_code" }
          })
          expect((yield* read(SESSION.provisioning)).state).toEqual(free.state)
          expect(Option.getOrThrow(yield* records.chargeFor(SESSION.provisioning))).toMatchObject({
            status: "not_billed",
            amountPence: 0
          })

          // the previous service still writing during the cut-over: its rows and prices are understood
          yield* db.sql.query(
            `insert into pod_sessions (id, pod_id, user_email, start_time, stripe_customer_id, stripe_payment_method, stripe_setup_intent_id)
             values ('10000000-0000-4000-8000-0000000000aa', $1, 'old@example.com', '2024-01-03 09:00:00+00', 'cus_O', 'pm_O', 'seti_O')`,
            [POD.e]
          )
          yield* db.sql.query("update pods set in_use = true, price = 0.75 where id = $1", [POD.e])
          const written = yield* read("10000000-0000-4000-8000-0000000000aa")
          expect([written.state._tag, written.rate, written.accessUntil.toISOString()]).toEqual([
            "Provisioning",
            7500,
            "2024-01-03T12:00:00.000Z"
          ])
          expect(Option.getOrThrow(yield* store.pod(POD.e as PodId)).rate).toBe(7500)
          const held = yield* Effect.flip(
            store.openSession(
              new Session({
                ...written,
                id: "10000000-0000-4000-8000-0000000000bb" as SessionId,
                setupIntentId: "seti_new" as SetupIntentId
              }),
              []
            )
          )
          expect(held._tag).toBe("PodInUse")
        }).pipe(Effect.provide(services))
      })
    )
  })
}
