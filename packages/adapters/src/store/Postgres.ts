/**
 * The store on a Postgres server (`DATABASE_URL`), through node-postgres's pool. Every store
 * operation is one parameterised call of a migration's SQL function, so a query builder adds
 * nothing on the hot path (tests/bench/http.bench.ts measures it). Supabase's direct
 * connection string works here too. Migrations run at start unless disabled; a database
 * migrated by a newer build is refused.
 */
import type { SessionStore } from "@qwip/core"
import { Duration, Effect, Layer, Redacted } from "effect"
import pg from "pg"
import { checkSchemaName, describeCause, type StoreBackend, StoreStartupError, statementBackend } from "./Backend.js"
import { checkVersion, databaseVersion, type MigrationTarget, migrate, queryWith } from "./Migrator.js"
import type * as Records from "./Records.js"
import * as SqlStore from "./SqlStore.js"

export interface PostgresOptions {
  readonly url: string | Redacted.Redacted<string>
  /** The schema holding Qwip's tables and functions; `public` by default. */
  readonly schema?: string | undefined
  /** Apply pending migrations at start (default true); otherwise a database behind is refused. */
  readonly migrate?: boolean | undefined
  readonly maxConnections?: number | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The setting named in start-up errors; `DATABASE_URL` by default. */
  readonly setting?: string | undefined
}

/** A connection string with its password hidden, for messages. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(unparseable URL)"
  }
}

const checkUrl = (setting: string, url: string): Effect.Effect<string, StoreStartupError> =>
  Effect.try({
    try: () => {
      const parsed = new URL(url)
      if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
        throw new Error(`expected a postgres:// URL, got ${parsed.protocol}//…`)
      }
      return url
    },
    catch: (cause) =>
      new StoreStartupError({
        setting,
        reason:
          cause instanceof TypeError ? "not a valid URL (expected postgres://user@host:5432/db)" : describeCause(cause)
      })
  })

/** What the migrator needs, on one node-postgres connection. */
const clientMigrationTarget = (client: pg.PoolClient): MigrationTarget => {
  const target: MigrationTarget = {
    query: queryWith(client),
    runScript: (script) =>
      Effect.tryPromise({
        try: async () => {
          try {
            await client.query("begin")
            await client.query(script)
            await client.query("commit")
          } catch (error) {
            await client.query("rollback").catch(() => undefined)
            throw error
          }
        },
        catch: (cause) => cause
      }),
    onOneConnection: (use) => use(target)
  }
  return target
}

/** What the migrator needs, on a node-postgres pool (also used by `qwip db`). */
export const poolMigrationTarget = (pool: pg.Pool): MigrationTarget => ({
  query: queryWith(pool),
  runScript: (script) =>
    Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => pool.connect(), catch: (cause) => cause }),
      (client) => clientMigrationTarget(client).runScript(script),
      (client) => Effect.sync(() => client.release())
    ),
  // The connection is closed afterwards, not pooled: a session lock must never outlive the run.
  onOneConnection: (use, connectFailed) =>
    Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => pool.connect(), catch: connectFailed }),
      (client) => use(clientMigrationTarget(client)),
      (client) => Effect.sync(() => client.release(true))
    )
})

/** Opens the pool and checks the server answers; closes the pool with the scope. */
const openPool = (setting: string, url: string, options: PostgresOptions) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const pool = new pg.Pool({
          connectionString: url,
          max: options.maxConnections ?? 10,
          connectionTimeoutMillis: Duration.toMillis(Duration.decode(options.connectTimeout ?? Duration.seconds(10))),
          application_name: "qwip"
        })
        // An idle client's error (server restart) must not crash the process; the next query reconnects.
        pool.on("error", () => undefined)
        try {
          await pool.query("select 1")
        } catch (error) {
          await pool.end().catch(() => undefined)
          throw error
        }
        return pool
      },
      catch: (cause) =>
        new StoreStartupError({ setting, reason: `cannot connect to ${redactUrl(url)}: ${describeCause(cause)}` })
    }),
    (pool) => Effect.promise(() => pool.end().catch(() => undefined))
  )

/** The Postgres store: `SessionStore`, `StoreRecords` and the raw `StoreBackend`. */
export const layerPostgres = (
  options: PostgresOptions
): Layer.Layer<SessionStore | Records.StoreRecords | StoreBackend, StoreStartupError> => {
  const setting = options.setting ?? "DATABASE_URL"
  const url = typeof options.url === "string" ? options.url : Redacted.value(options.url)
  return Layer.unwrapEffect(
    Effect.gen(function* () {
      yield* checkUrl(setting, url)
      const schema = yield* checkSchemaName(setting, options.schema ?? "public")
      return Layer.scopedContext(
        Effect.gen(function* () {
          const pool = yield* openPool(setting, url, options)
          const target = poolMigrationTarget(pool)
          if (options.migrate === false) {
            yield* databaseVersion(target, schema).pipe(
              Effect.flatMap(checkVersion),
              Effect.mapError((e) => new StoreStartupError({ setting, reason: describeCause(e) }))
            )
          } else {
            const report = yield* migrate(target, { schema }).pipe(
              Effect.mapError((e) => new StoreStartupError({ setting, reason: e.message }))
            )
            if (report.applied.length > 0) {
              yield* Effect.logInfo("database migrated").pipe(
                Effect.annotateLogs({ schema, from: report.from, to: report.to, applied: report.applied.join(",") })
              )
            }
          }
          return SqlStore.servicesFor(statementBackend("postgres", schema, pool))
        })
      )
    })
  )
}
