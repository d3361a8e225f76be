/**
 * The store on Supabase's HTTP API (`SUPABASE_URL` + `SUPABASE_KEY`, the service role key),
 * through `@supabase/supabase-js`. PostgREST cannot hold a transaction across requests, so
 * every operation, reads included, is one SQL function from the migrations called with
 * `.rpc()`: the same functions the PGlite and Postgres stores call.
 *
 * This store cannot migrate: apply `packages/adapters/migrations` with the Supabase CLI or
 * `qwip migrate` (with the project's direct `DATABASE_URL`). At start it checks the schema
 * version and refuses a database that is behind or ahead of this build.
 */
import type { SessionStore } from "@qwip/core"
import { Duration, Effect, Layer, Redacted } from "effect"
import {
  checkSchemaName,
  describeCause,
  type SqlArgs,
  type SqlFunctionName,
  type StoreBackend,
  type StoreBackendShape,
  StoreFault,
  StoreStartupError
} from "./Backend.js"
import { checkVersion } from "./Migrator.js"
import type * as Records from "./Records.js"
import * as SqlStore from "./SqlStore.js"

export interface SupabaseOptions {
  readonly url: string
  /** The service role key: the functions are not callable with the anon key. */
  readonly key: string | Redacted.Redacted<string>
  /** The exposed schema holding Qwip's functions; `public` by default. */
  readonly schema?: string | undefined
  /** Per-request timeout; a request past it is a store fault. Default 30 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The settings named in start-up errors. */
  readonly settings?: { readonly url: string; readonly key: string } | undefined
}

interface RpcError {
  readonly code?: string | null
  readonly message?: string | null
  readonly details?: string | null
  readonly hint?: string | null
}

interface RpcResponse {
  readonly data: unknown
  readonly error: RpcError | null
  readonly status: number
}

/** The part of the Supabase client this store uses. */
interface RpcClient {
  readonly rpc: (
    fn: string,
    args: Record<string, unknown>
  ) => { readonly abortSignal: (signal: AbortSignal) => PromiseLike<RpcResponse> }
}

/** Realtime is never used; Node 20 has no WebSocket, so the client gets a transport that refuses. */
class NoRealtime {
  constructor() {
    throw new Error("Qwip's Supabase store does not use Realtime")
  }
}

const checkHttpUrl = (setting: string, url: string): Effect.Effect<string, StoreStartupError> =>
  Effect.try({
    try: () => {
      const parsed = new URL(url)
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new Error("scheme")
      return parsed.toString().replace(/\/$/, "")
    },
    catch: () => new StoreStartupError({ setting, reason: `not an http(s) URL: ${url}` })
  })

const rpcOnce = (client: RpcClient, fn: string, args: Record<string, unknown>) =>
  Effect.tryPromise({
    try: (signal) => Promise.resolve(client.rpc(fn, args).abortSignal(signal)),
    catch: (cause) => cause
  })

const errorText = (response: RpcResponse): string => {
  const e = response.error
  const code = e?.code ? `${e.code} ` : ""
  return `HTTP ${response.status} ${code}${e?.message ?? "(no message)"}`.trim()
}

const makeBackend = (client: RpcClient, timeout: Duration.DurationInput): StoreBackendShape => ({
  kind: "supabase",
  call: <F extends SqlFunctionName>(fn: F, args: SqlArgs<F>) =>
    rpcOnce(client, fn, args as Record<string, unknown>).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => `no answer within ${Duration.format(Duration.decode(timeout))}`
      }),
      Effect.mapError(
        (cause) => new StoreFault({ store: "supabase", operation: fn, reason: describeCause(cause), cause })
      ),
      Effect.flatMap((response) =>
        response.error === null
          ? Effect.succeed(response.data)
          : Effect.fail(new StoreFault({ store: "supabase", operation: fn, reason: errorText(response) }))
      ),
      Effect.orDie,
      Effect.withSpan("StoreBackend.call", { attributes: { store: "supabase", fn } })
    )
})

/** The Supabase store: `SessionStore`, `StoreRecords` and the raw `StoreBackend`. */
export const layerSupabase = (
  options: SupabaseOptions
): Layer.Layer<SessionStore | Records.StoreRecords | StoreBackend, StoreStartupError> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const settings = options.settings ?? { url: "SUPABASE_URL", key: "SUPABASE_KEY" }
      const url = yield* checkHttpUrl(settings.url, options.url)
      const schema = yield* checkSchemaName(settings.url, options.schema ?? "public")
      const key = typeof options.key === "string" ? options.key : Redacted.value(options.key)
      if (key.trim() === "") return yield* new StoreStartupError({ setting: settings.key, reason: "is empty" })
      const timeout = options.timeout ?? Duration.seconds(30)
      // Loaded only when this store is chosen (it warns about Node 20 on import).
      const { createClient } = yield* Effect.tryPromise({
        try: () => import("@supabase/supabase-js"),
        catch: (cause) =>
          new StoreStartupError({
            setting: settings.url,
            reason: `cannot load @supabase/supabase-js: ${describeCause(cause)}`
          })
      })
      const client = createClient(url, key, {
        db: { schema, timeout: Duration.toMillis(Duration.decode(timeout)) },
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        realtime: { transport: NoRealtime as never }
      }) as unknown as RpcClient

      const version = yield* rpcOnce(client, "qwip_schema_version", {}).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => "no answer" }),
        Effect.mapError(
          (cause) =>
            new StoreStartupError({ setting: settings.url, reason: `cannot reach ${url}: ${describeCause(cause)}` })
        ),
        Effect.flatMap((response) => {
          if (response.error === null) return Effect.succeed(Number(response.data))
          if (response.status === 0) {
            // supabase-js puts the network cause ("connect ECONNREFUSED …") in `details`
            const cause = /Caused by: (?:\w*Error: )?([^\n]+)/.exec(response.error.details ?? "")?.[1]
            return Effect.fail(
              new StoreStartupError({
                setting: settings.url,
                reason: `cannot reach ${url}: ${cause ?? response.error.message ?? "no answer"}`
              })
            )
          }
          if (response.status === 401 || response.status === 403) {
            return Effect.fail(
              new StoreStartupError({
                setting: settings.key,
                reason: `rejected by ${url} (${errorText(response)}); use the project's service role key`
              })
            )
          }
          if (response.error.code === "PGRST202" || response.error.code === "42883") {
            return Effect.fail(
              new StoreStartupError({
                setting: settings.url,
                reason: `the Qwip migrations are not applied in schema "${schema}" (qwip_schema_version is missing)`
              })
            )
          }
          return Effect.fail(new StoreStartupError({ setting: settings.url, reason: errorText(response) }))
        })
      )
      yield* checkVersion(version).pipe(
        Effect.mapError((e) => new StoreStartupError({ setting: settings.url, reason: e.message }))
      )
      return SqlStore.servicesFor(makeBackend(client, timeout))
    })
  )
