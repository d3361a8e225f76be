/**
 * Several instances starting at once on an empty Postgres database: exactly one applies the
 * migrations while the others wait on the migration lock, then find the schema current and
 * start. (Deploying a second instance, or restarting all of them together, must not race.)
 */
import { describe, expect, it } from "@effect/vitest"
import { layerPostgres, Migrator } from "@qwip/adapters/store/index"
import { poolMigrationTarget } from "@qwip/adapters/store/Postgres"
import { SessionStore } from "@qwip/core"
import { Context, Effect, Layer, Option } from "effect"
import { testDatabaseUrl, testPool, uniqueSchema } from "../support/Stores.js"

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
