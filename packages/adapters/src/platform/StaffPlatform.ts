/**
 * The platform as staff tools (the `qwip` CLI) reach it: the same configuration and stores as
 * the service, except that an embedded store another process holds is reached through the
 * service (`EmbeddedServer.ts`), and the schema can be inspected or migrated on its own.
 */
import { resolve } from "node:path"
import { SealedCodeKeys, type StaffStore } from "@qwip/core"
import { Config, ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import pg from "pg"
import { describeCause, type StoreBackend, StoreStartupError } from "../store/Backend.js"
import { type EmbeddedEndpoint, type EmbeddedStoreBusy, findEmbeddedService } from "../store/EmbeddedServer.js"
import { databaseVersion, type MigrationReport, migrate, migrations } from "../store/Migrator.js"
import { migrationTarget, openPglite } from "../store/Pglite.js"
import { poolMigrationTarget, redactUrl } from "../store/Postgres.js"
import * as StaffQueries from "../store/StaffQueries.js"
import { storeChoice } from "../store/StoreConfig.js"
import { loadLocalSecrets } from "./LocalSecrets.js"
import { CodeCipher, layerForStaffFromEnv, PlatformStartError, type StaffPlatformServices } from "./Platform.js"

/** Where the configured store is, and how this process reaches it. */
export type StoreAccess =
  | { readonly _tag: "Embedded"; readonly dataDir: string }
  | { readonly _tag: "EmbeddedServed"; readonly dataDir: string; readonly endpoint: EmbeddedEndpoint }
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string>; readonly schema: string }
  | { readonly _tag: "Supabase"; readonly url: string; readonly key: Redacted.Redacted<string> }

/** The configured store; an embedded one held by a running service is reached through it. */
export const storeAccess: Effect.Effect<StoreAccess, StoreStartupError | EmbeddedStoreBusy> = Effect.gen(function* () {
  const choice = yield* storeChoice
  if (choice._tag !== "Embedded") return choice
  const dataDir = resolve(choice.dataDir)
  const served = yield* findEmbeddedService(dataDir)
  return Option.match(served, {
    onNone: (): StoreAccess => ({ _tag: "Embedded", dataDir }),
    onSome: (endpoint): StoreAccess => ({ _tag: "EmbeddedServed", dataDir, endpoint })
  })
}).pipe(Effect.withSpan("StaffPlatform.storeAccess"))

/** One line saying which store, without secrets. */
export const describeAccess = (access: StoreAccess): string => {
  switch (access._tag) {
    case "Embedded":
      return `embedded (PGlite) in ${access.dataDir}`
    case "EmbeddedServed":
      return `embedded (PGlite) in ${access.dataDir}, through the running service (process ${access.endpoint.pid})`
    case "Postgres":
      return `postgres at ${redactUrl(Redacted.value(access.url))}${access.schema === "public" ? "" : ` (schema ${access.schema})`}`
    case "Supabase":
      return `supabase at ${access.url}`
  }
}

/**
 * `layerForStaffFromEnv` for `access`. Reaching an embedded store through the service, it connects
 * as to Postgres, with the keys the embedded store generated (unless the environment sets them).
 */
export const platformVia = (access: StoreAccess): Layer.Layer<StaffPlatformServices, PlatformStartError> => {
  if (access._tag !== "EmbeddedServed") return layerForStaffFromEnv
  return Layer.unwrapEffect(
    Effect.gen(function* () {
      const secrets = yield* loadLocalSecrets(access.dataDir).pipe(
        Effect.mapError((e) => new PlatformStartError({ setting: "QWIP_DATA_DIR", reason: e.message }))
      )
      const unset = (name: string) =>
        Config.option(Config.string(name)).pipe(
          Effect.map((v) => Option.isNone(v) || v.value.trim() === ""),
          Effect.orElseSucceed(() => true)
        )
      const overlay = new Map<string, string>([
        ["DATABASE_URL", access.endpoint.url],
        ["DATABASE_SCHEMA", "public"],
        ["QWIP_DATA_DIR", access.dataDir]
      ])
      if (yield* unset("JWT_SECRET_KEY")) overlay.set("JWT_SECRET_KEY", Redacted.value(secrets.jwtSecret))
      if (yield* unset("STATIC_CODE_B64_KEY")) overlay.set("STATIC_CODE_B64_KEY", Redacted.value(secrets.staticCodeKey))
      if (yield* unset("QWIP_SANDBOX_WEBHOOK_SECRET")) {
        overlay.set("QWIP_SANDBOX_WEBHOOK_SECRET", Redacted.value(secrets.sandboxWebhookSecret))
      }
      const current = yield* Effect.configProviderWith(Effect.succeed)
      const provider = ConfigProvider.fromMap(overlay).pipe(ConfigProvider.orElse(() => current))
      return layerForStaffFromEnv.pipe(Layer.provide(Layer.setConfigProvider(provider)))
    })
  )
}

/** Core's `StaffStore` and `SealedCodeKeys`, and the staff views, over the platform's store and cipher. */
export const layerStaff: Layer.Layer<
  StaffStore | StaffQueries.StaffViews | SealedCodeKeys,
  never,
  StoreBackend | CodeCipher
> = Layer.merge(
  StaffQueries.layer,
  Layer.effect(
    SealedCodeKeys,
    Effect.map(CodeCipher, (cipher) => ({ needsRekey: cipher.needsRekey, rekey: cipher.rekey }))
  )
)

// ---- the schema ------------------------------------------------------------------------------

export interface SchemaStatus {
  readonly store: string
  readonly databaseVersion: number
  readonly codeVersion: number
  /** Migrations this build has that the database lacks. */
  readonly pending: ReadonlyArray<{ readonly version: number; readonly name: string }>
}

const settingOf = (access: StoreAccess) =>
  access._tag === "Postgres" ? "DATABASE_URL" : access._tag === "Supabase" ? "SUPABASE_URL" : "QWIP_DATA_DIR"

/** The schema holding Qwip's tables and functions. */
const schemaOf = (access: StoreAccess) => (access._tag === "Postgres" ? access.schema : "public")

/** A migration target on the store (not Supabase), open for the scope. */
const targetFor = (access: Exclude<StoreAccess, { _tag: "Supabase" }>) => {
  const setting = settingOf(access)
  if (access._tag === "Embedded") {
    return Effect.map(openPglite({ dataDir: access.dataDir }), migrationTarget)
  }
  const url = access._tag === "Postgres" ? Redacted.value(access.url) : access.endpoint.url
  return Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 })
        try {
          await pool.query("select 1")
          return pool
        } catch (e) {
          await pool.end().catch(() => undefined)
          throw e
        }
      },
      catch: (cause) =>
        new StoreStartupError({
          setting,
          reason:
            access._tag === "Postgres"
              ? `cannot connect to ${redactUrl(url)}: ${describeCause(cause)}`
              : `cannot reach the embedded store through the service (process ${access.endpoint.pid}): ${describeCause(cause)}`
        })
    }),
    (pool) => Effect.promise(() => pool.end().catch(() => undefined))
  ).pipe(Effect.map(poolMigrationTarget))
}

const supabaseVersion = (access: Extract<StoreAccess, { _tag: "Supabase" }>) =>
  Effect.tryPromise({
    try: async () => {
      const key = Redacted.value(access.key)
      const response = await fetch(`${access.url.replace(/\/+$/, "")}/rest/v1/rpc/qwip_schema_version`, {
        method: "POST",
        headers: { apikey: key, authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: "{}",
        signal: AbortSignal.timeout(15_000)
      })
      if (!response.ok) throw new Error(`HTTP ${response.status} ${(await response.text()).slice(0, 200)}`)
      return Number(await response.json())
    },
    catch: (cause) => new StoreStartupError({ setting: "SUPABASE_URL", reason: describeCause(cause) })
  })

const unreadable = (setting: string) => (e: unknown) =>
  new StoreStartupError({ setting, reason: typeof e === "object" && e !== null ? describeCause(e) : String(e) })

/** The database's schema version against this build's migrations; applies nothing. */
export const schemaStatus = (access: StoreAccess): Effect.Effect<SchemaStatus, StoreStartupError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const setting = settingOf(access)
      const all = yield* migrations.pipe(Effect.mapError(unreadable(setting)))
      const version =
        access._tag === "Supabase"
          ? yield* supabaseVersion(access)
          : yield* Effect.flatMap(targetFor(access), (target) =>
              databaseVersion(target, schemaOf(access)).pipe(Effect.mapError(unreadable(setting)))
            )
      return {
        store: describeAccess(access),
        databaseVersion: version,
        codeVersion: all[all.length - 1]?.version ?? 0,
        pending: all.filter((m) => m.version > version).map((m) => ({ version: m.version, name: m.name }))
      }
    })
  ).pipe(Effect.withSpan("StaffPlatform.schemaStatus"))

/** Applies this build's pending migrations (not over Supabase's HTTP API: it cannot). */
export const migrateStore = (
  access: StoreAccess
): Effect.Effect<MigrationReport & { readonly store: string }, StoreStartupError> => {
  if (access._tag === "Supabase") {
    return Effect.fail(
      new StoreStartupError({
        setting: "SUPABASE_URL",
        reason:
          "migrations cannot run over Supabase's HTTP API: run it with DATABASE_URL=<the project's direct connection string> (Settings → Database), or apply packages/adapters/migrations with the Supabase CLI"
      })
    )
  }
  const setting = settingOf(access)
  return Effect.scoped(
    Effect.flatMap(targetFor(access), (target) =>
      migrate(target, { schema: schemaOf(access) }).pipe(
        Effect.mapError((e) => new StoreStartupError({ setting, reason: e.message }))
      )
    )
  ).pipe(
    Effect.map((report) => ({ ...report, store: describeAccess(access) })),
    Effect.withSpan("StaffPlatform.migrateStore")
  )
}
