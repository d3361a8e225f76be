/**
 * Several instances starting at once on an empty Postgres database: exactly one applies the
 * migrations while the others wait on the migration lock, then find the schema current and
 * start. (Deploying a second instance, or restarting all of them together, must not race.)
 * And each migration since production's version 8 applied over a database at that version
 * with rows the previous build wrote, on PGlite always and on Postgres when
 * QWIP_TEST_DATABASE_URL is set: the rows read as they were and keep working.
 */
import { describe, expect, it } from "@effect/vitest"
import { type StoreBackendShape, statementBackend } from "@qwip/adapters/store/Backend"
import { layerPostgres, Migrator, openPglite, SqlStore } from "@qwip/adapters/store/index"
import { makeBackend, migrationTarget } from "@qwip/adapters/store/Pglite"
import { poolMigrationTarget } from "@qwip/adapters/store/Postgres"
import * as Records from "@qwip/adapters/store/Records"
import { type Outcome, Paid, PaymentFailed, pence, Session, SessionStore } from "@qwip/core"
import { Context, Effect, Layer, Option, type Scope } from "effect"
import {
  activate,
  beginEnd,
  cardHold,
  close,
  collectionAttempt,
  collectionWith,
  dunning,
  encoded,
  makePod,
  makeSession,
  minutes,
  next,
  refund,
  T0
} from "../support/Fixtures.js"
import {
  freshSchema,
  type StoreName,
  type TestSqlShape,
  testDatabaseUrl,
  testPool,
  uniqueSchema
} from "../support/Stores.js"

const INSTANCES = 3

/** A schema name that does not exist yet (the migrator creates it), dropped afterwards. */
const absentSchema = Effect.acquireRelease(Effect.sync(uniqueSchema), (schema) =>
  Effect.flatMap(testPool({ max: 1 }), (admin) =>
    Effect.promise(() => admin.query(`drop schema if exists "${schema}" cascade`))
  ).pipe(Effect.scoped)
)

const suite = testDatabaseUrl === undefined ? describe.skip : describe

suite("migrations with several instances [postgres]", () => {
  it.scoped(`${INSTANCES} instances migrating one empty schema at once: exactly one applies, all finish`, () =>
    Effect.gen(function* () {
      const schema = yield* absentSchema
      const latest = yield* Migrator.latestVersion
      // Each instance has its own pool, as separate processes would.
      const pools = yield* Effect.all(Array.from({ length: INSTANCES }, () => testPool({ max: 2 })))
      const reports = yield* Effect.forEach(pools, (pool) => Migrator.migrate(poolMigrationTarget(pool), { schema }), {
        concurrency: "unbounded"
      })
      const appliers = reports.filter((r) => r.applied.length > 0)
      expect(appliers).toHaveLength(1)
      expect(appliers[0]?.applied).toEqual(Array.from({ length: latest }, (_, i) => i + 1))
      expect(reports.every((r) => r.to === latest)).toBe(true)
      // The ones that waited saw the finished schema: nothing left for them to apply.
      expect(reports.filter((r) => r.applied.length === 0).every((r) => r.from === latest)).toBe(true)
      // No instance left the migration lock held: a newcomer takes it at once.
      const newcomer = yield* testPool({ max: 1 })
      const key = `qwip-migrations:${schema}`
      const free = yield* Effect.promise(() =>
        newcomer.query("select pg_try_advisory_lock(hashtext($1)) as free", [key])
      )
      expect(free.rows[0]?.free).toBe(true)
    })
  )

  it.scoped(`${INSTANCES} stores starting at once on an empty schema all start and share one store`, () =>
    Effect.gen(function* () {
      const schema = yield* absentSchema
      const started = yield* Effect.forEach(
        Array.from({ length: INSTANCES }),
        () => Layer.build(layerPostgres({ url: testDatabaseUrl ?? "", schema, maxConnections: 2 })),
        { concurrency: "unbounded" }
      )
      expect(started).toHaveLength(INSTANCES)
      const stores = started.map((context) => Context.get(context, SessionStore))
      const pods = yield* Effect.forEach(stores, (store) => store.podStatus("no-such-pod" as never))
      expect(pods.every(Option.isNone)).toBe(true)
    })
  )
})

/** The version production runs before issue 13's migrations. */
const PRODUCTION_VERSION = 8

interface Db {
  readonly sql: TestSqlShape
  /** Runs a migration file as it is (as the Supabase CLI or `psql` would). */
  readonly exec: (script: string) => Effect.Effect<void>
  readonly migrate: Effect.Effect<Migrator.MigrationReport, unknown>
  /** The store's functions, whatever version the database is at. */
  readonly backend: StoreBackendShape
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
    backend: makeBackend(db)
  }
})

const postgresDb: Effect.Effect<Db, never, Scope.Scope> = Effect.gen(function* () {
  const schema = yield* freshSchema("qwip_upgrade")
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
    backend: statementBackend("postgres", schema, pool)
  }
})

const upgraded: ReadonlyArray<{ name: StoreName; make: Effect.Effect<Db, never, Scope.Scope>; skip?: string }> = [
  { name: "pglite", make: pgliteDb },
  {
    name: "postgres",
    make: postgresDb,
    ...(testDatabaseUrl === undefined ? { skip: "QWIP_TEST_DATABASE_URL is not set" } : {})
  }
]

const declined = new PaymentFailed({
  paymentIntentId: Option.some("pi_declined"),
  declineCode: "insufficient_funds",
  message: "Your card has insufficient funds."
})

for (const database of upgraded) {
  const suite = database.skip === undefined ? describe : describe.skip
  suite(`[${database.name}] migrating a database at version ${PRODUCTION_VERSION}`, () => {
    it.scoped("its rows read as they were, with nothing collected, and keep working", () =>
      Effect.gen(function* () {
        const db = yield* database.make
        const all = yield* Migrator.migrations
        const latest = yield* Migrator.latestVersion
        for (const migration of all.filter((m) => m.version <= PRODUCTION_VERSION)) yield* db.exec(migration.sql)
        const store = SqlStore.make(db.backend)
        const records = Records.make(db.backend)

        // Rows the build at version 8 wrote: a live session, a paid one and a declined one.
        const [podA, podB, podC] = [makePod(), makePod(), makePod()]
        for (const pod of [podA, podB, podC]) yield* records.upsertPod(pod)
        const opened = yield* store.openSession(makeSession(podA.id), [])
        const live = yield* store.commit({
          before: opened,
          after: activate(opened, minutes(T0, 1)),
          releasePod: false,
          work: []
        })
        const endedWith = (podId: typeof podB.id, outcome: Outcome) =>
          Effect.gen(function* () {
            const s = yield* store.openSession(makeSession(podId), [])
            const ending = yield* store.commit({
              before: s,
              after: beginEnd(s, minutes(T0, 20), 1000),
              releasePod: false,
              work: []
            })
            return yield* store.commit({
              before: ending,
              after: close(ending, outcome, minutes(T0, 21)),
              releasePod: true,
              work: []
            })
          })
        const paid = yield* endedWith(podB.id, new Paid({ paymentIntentId: "pi_paid", amountPence: pence(1000) }))
        const failed = yield* endedWith(podC.id, declined)

        const report = yield* db.migrate
        expect(report).toEqual({
          from: PRODUCTION_VERSION,
          to: latest,
          applied: all.filter((m) => m.version > PRODUCTION_VERSION).map((m) => m.version)
        })
        const ids = [live.id, paid.id, failed.id]
        const collections = yield* db.sql.query<{ collection_data: unknown }>(
          "select collection_data from pod_sessions where id = any($1::uuid[])",
          [ids]
        )
        expect(collections.map((r) => r.collection_data)).toEqual([null, null, null])
        const charges = yield* db.sql.query<Record<string, unknown>>(
          "select refunded_pence, collection_status, next_attempt_at from session_charges where session_id = any($1::uuid[])",
          [ids]
        )
        expect(charges).toEqual([
          { refunded_pence: 0, collection_status: null, next_attempt_at: null },
          { refunded_pence: 0, collection_status: null, next_attempt_at: null }
        ])

        // Read as written: with nothing collected (every session was written with none).
        for (const written of [live, paid, failed]) {
          const read = Option.getOrThrow(yield* store.session(written.id))
          expect(encoded(Session, read)).toEqual(encoded(Session, written))
        }
        expect(Option.getOrThrow(yield* records.chargeFor(paid.id))).toMatchObject({
          status: "succeeded",
          amountPence: 1000,
          refundedPence: 0,
          collection: null,
          nextAttemptAt: null
        })

        // And they keep working: the live one gains a hold and ends declined into dunning...
        const held = yield* store.commit({
          before: live,
          after: next(live, { collection: collectionWith({ hold: Option.some(cardHold()) }) }, minutes(T0, 2)),
          releasePod: false,
          work: []
        })
        const ending = yield* store.commit({
          before: held,
          after: beginEnd(held, minutes(T0, 30), 2000),
          releasePod: false,
          work: []
        })
        const retryAt = minutes(T0, 31 + 24 * 60)
        yield* store.commit({
          before: ending,
          after: next(
            close(ending, declined, minutes(T0, 31)),
            {
              collection: collectionWith({
                hold: held.collection.hold,
                dunning: Option.some(dunning("scheduled", Option.some(retryAt)))
              })
            },
            minutes(T0, 31)
          ),
          releasePod: true,
          work: []
        })
        expect(Option.getOrThrow(yield* store.session(live.id)).collection.hold).toEqual(held.collection.hold)
        expect(Option.getOrThrow(yield* records.chargeFor(live.id))).toMatchObject({
          status: "failed",
          collection: "scheduled",
          nextAttemptAt: retryAt
        })
        // ...the declined one is collected, the paid one refunded in part.
        yield* store.commit({
          before: failed,
          after: next(
            close(
              failed,
              new Paid({ paymentIntentId: "pi_collect_1", amountPence: pence(1000) }),
              minutes(T0, 24 * 60)
            ),
            {
              collection: collectionWith({
                dunning: Option.some(
                  dunning("paid", Option.none(), [collectionAttempt(failed.id, 1, "succeeded", minutes(T0, 24 * 60))])
                )
              })
            },
            minutes(T0, 24 * 60)
          ),
          releasePod: false,
          work: []
        })
        expect(Option.getOrThrow(yield* records.chargeFor(failed.id))).toMatchObject({
          status: "succeeded",
          collection: "paid",
          nextAttemptAt: null
        })
        yield* store.commit({
          before: paid,
          after: next(paid, { collection: collectionWith({ refunds: [refund("pi_paid", 400, "succeeded", T0)] }) }, T0),
          releasePod: false,
          work: []
        })
        expect(Option.getOrThrow(yield* records.chargeFor(paid.id))).toMatchObject({ refundedPence: 400 })
        // The freed pod is booked again, with a hold recorded from the start.
        const rebooked = next(
          makeSession(podB.id),
          { collection: collectionWith({ hold: Option.some(cardHold()) }) },
          T0
        )
        expect(encoded(Session, yield* store.openSession(rebooked, []))).toEqual(encoded(Session, rebooked))
      })
    )
  })
}
