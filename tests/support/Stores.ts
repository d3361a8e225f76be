/**
 * The stores the contract suites run against, each isolated and cleaned up:
 * - `pglite`: a fresh in-memory PGlite, always;
 * - `postgres`: a fresh schema on `QWIP_TEST_DATABASE_URL`, dropped afterwards;
 * - `supabase`: the real supabase-js client, through the PostgREST stand-in, on a fresh
 *   schema of the same Postgres.
 * Each also provides `TestSql`: raw SQL on the store's own schema, for checking what the
 * functions wrote in today's columns.
 */
import { randomBytes } from "node:crypto"
import { describe, layer, type Vitest, it as vitestIt } from "@effect/vitest"
import {
  layerPostgres,
  layerSupabase,
  Migrator,
  openPglite,
  SqlStore,
  type StoreBackend,
  type StoreRecords
} from "@qwip/adapters/store/index"
import { backendFor } from "@qwip/adapters/store/Pglite"
import { poolMigrationTarget } from "@qwip/adapters/store/Postgres"
import type { SessionStore } from "@qwip/core"
import { Context, Effect, Layer, type Scope } from "effect"
import pg from "pg"
import { startPostgrestServer } from "./PostgrestServer.js"

export type StoreName = "pglite" | "postgres" | "supabase"

/** Raw SQL on the store's schema (unqualified names resolve there). */
export interface TestSqlShape {
  readonly schema: string
  readonly query: <A = Record<string, unknown>>(
    text: string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<Array<A>>
}
export class TestSql extends Context.Tag("@qwip/tests/TestSql")<TestSql, TestSqlShape>() {}

export type StoreServices = SessionStore | StoreRecords | StoreBackend | TestSql

/** `QWIP_TEST_DATABASE_URL`, when a real Postgres is available. */
export const testDatabaseUrl: string | undefined = process.env.QWIP_TEST_DATABASE_URL?.trim() || undefined

export const uniqueSchema = (prefix = "qwip_test") => `${prefix}_${randomBytes(6).toString("hex")}`

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`

/** A pg pool on the test database, closed with the scope. */
export const testPool = (options: { readonly max?: number; readonly schema?: string } = {}) =>
  Effect.acquireRelease(
    Effect.sync(
      () =>
        new pg.Pool({
          connectionString: testDatabaseUrl,
          max: options.max ?? 4,
          ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` })
        })
    ),
    (pool) => Effect.promise(() => pool.end())
  )

/** A fresh schema on the test database, dropped with everything in it when the scope closes. */
export const freshSchema = (prefix?: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function* () {
    const admin = yield* testPool({ max: 1 })
    const schema = uniqueSchema(prefix)
    yield* Effect.acquireRelease(
      Effect.promise(() => admin.query(`create schema ${quoteIdent(schema)}`)),
      () => Effect.promise(() => admin.query(`drop schema if exists ${quoteIdent(schema)} cascade`))
    )
    return schema
  })

const poolSql = (pool: pg.Pool, schema: string): TestSqlShape => ({
  schema,
  query: <A>(text: string, params?: ReadonlyArray<unknown>) =>
    Effect.promise(() => pool.query(text, params === undefined ? [] : [...params])).pipe(
      Effect.map((r) => r.rows as Array<A>)
    )
})

/** A fresh in-memory PGlite store with raw SQL beside it. */
export const pgliteStore = (): Layer.Layer<StoreServices> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const db = yield* openPglite({ setting: "test" })
      const backend = yield* backendFor(db, "test")
      const sql: TestSqlShape = {
        schema: "public",
        query: <A>(text: string, params?: ReadonlyArray<unknown>) =>
          Effect.promise(() => db.query<A>(text, params === undefined ? [] : [...params])).pipe(
            Effect.map((r) => r.rows)
          )
      }
      return SqlStore.servicesFor(backend).pipe(Context.add(TestSql, sql))
    }).pipe(Effect.orDie)
  )

/** The Postgres store on a fresh schema of `QWIP_TEST_DATABASE_URL`. */
export const postgresStore = (options: { readonly maxConnections?: number } = {}): Layer.Layer<StoreServices> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const schema = yield* freshSchema()
      const pool = yield* testPool({ schema })
      const store = layerPostgres({
        url: testDatabaseUrl ?? "",
        schema,
        maxConnections: options.maxConnections ?? 20
      })
      return Layer.merge(store, Layer.succeed(TestSql, poolSql(pool, schema)))
    })
  ).pipe(Layer.orDie)

/** The Supabase store: supabase-js → PostgREST stand-in → a fresh schema on the test Postgres. */
export const supabaseStore = (): Layer.Layer<StoreServices> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const schema = yield* freshSchema()
      const pool = yield* testPool({ max: 20 })
      yield* Migrator.migrate(poolMigrationTarget(pool), { schema })
      const apiKey = `service-role-${randomBytes(8).toString("hex")}`
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => startPostgrestServer({ pool, schemas: [schema], apiKey })),
        (s) => Effect.promise(() => s.close())
      )
      const sqlPool = yield* testPool({ schema })
      return Layer.merge(
        layerSupabase({ url: server.url, key: apiKey, schema }),
        Layer.succeed(TestSql, poolSql(sqlPool, schema))
      )
    })
  ).pipe(Layer.orDie)

export interface TestStore {
  readonly name: StoreName
  /** Why the store cannot run here, if it cannot. */
  readonly unavailable: string | undefined
  readonly layer: () => Layer.Layer<StoreServices>
}

const needsPostgres = testDatabaseUrl === undefined ? "QWIP_TEST_DATABASE_URL is not set" : undefined

export const testStores: ReadonlyArray<TestStore> = [
  { name: "pglite", unavailable: undefined, layer: pgliteStore },
  { name: "postgres", unavailable: needsPostgres, layer: postgresStore },
  { name: "supabase", unavailable: needsPostgres, layer: supabaseStore }
]

/**
 * Runs `body` once per store (or the named ones), in a suite titled `[store] title` with a
 * fresh store shared by its tests. A store that cannot run here is reported as skipped.
 */
export const forEachStore = (
  title: string,
  body: (it: Vitest.MethodsNonLive<StoreServices>, store: StoreName) => void,
  options: { readonly only?: ReadonlyArray<StoreName> } = {}
) => {
  for (const store of testStores) {
    if (options.only !== undefined && !options.only.includes(store.name)) continue
    const name = `[${store.name}] ${title}`
    if (store.unavailable !== undefined) {
      describe.skip(name, () => {
        vitestIt(`skipped: ${store.unavailable}`, () => undefined)
      })
      continue
    }
    layer(store.layer(), { timeout: "120 seconds" })(name, (it) => body(it, store.name))
  }
}
