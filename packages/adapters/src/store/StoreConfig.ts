/**
 * The one place that picks the store from configuration:
 * `DATABASE_URL` (Postgres, Supabase's direct connection string included; `DATABASE_SCHEMA`
 * names the schema, default `public`), else
 * `SUPABASE_URL` + `SUPABASE_KEY` (Supabase over HTTP), else the embedded PGlite store under
 * `QWIP_DATA_DIR` (default `.qwip/`). Empty values count as unset. A wrong or unreachable
 * setting fails at start with one line naming it (`StoreStartupError`).
 */
import type { SessionStore } from "@qwip/core"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import { type StoreBackend, StoreStartupError } from "./Backend.js"
import { layerPglite } from "./Pglite.js"
import { layerPostgres, redactUrl } from "./Postgres.js"
import type { StoreRecords } from "./Records.js"
import { layerSupabase } from "./Supabase.js"

export const DEFAULT_DATA_DIR = ".qwip"

export type StoreChoice =
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string>; readonly schema: string }
  | { readonly _tag: "Supabase"; readonly url: string; readonly key: Redacted.Redacted<string> }
  | { readonly _tag: "Embedded"; readonly dataDir: string }

const setting = (name: string) =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((value) => value.trim() !== "")))

/** Which store the configuration asks for. */
export const storeChoice: Effect.Effect<StoreChoice, StoreStartupError> = Effect.gen(function* () {
  const read = (name: string) =>
    setting(name).pipe(Effect.mapError((e) => new StoreStartupError({ setting: name, reason: String(e) })))
  const databaseUrl = yield* read("DATABASE_URL")
  if (Option.isSome(databaseUrl)) {
    // `DATABASE_SCHEMA` keeps Qwip's tables in their own schema (default `public`, as today).
    const schema = yield* read("DATABASE_SCHEMA")
    return {
      _tag: "Postgres",
      url: Redacted.make(databaseUrl.value.trim()),
      schema: Option.getOrElse(schema, () => "public").trim()
    } as const
  }
  const supabaseUrl = yield* read("SUPABASE_URL")
  if (Option.isSome(supabaseUrl)) {
    const key = yield* read("SUPABASE_KEY")
    if (Option.isNone(key)) {
      return yield* new StoreStartupError({ setting: "SUPABASE_KEY", reason: "required when SUPABASE_URL is set" })
    }
    return { _tag: "Supabase", url: supabaseUrl.value.trim(), key: Redacted.make(key.value.trim()) } as const
  }
  const dataDir = yield* read("QWIP_DATA_DIR")
  return { _tag: "Embedded", dataDir: Option.getOrElse(dataDir, () => DEFAULT_DATA_DIR) } as const
})

/** Whether Supabase's URL and key are both set (its Storage is then used for photos, whatever the store). */
export const supabaseStorageConfigured: Effect.Effect<boolean> = Effect.all([
  setting("SUPABASE_URL"),
  setting("SUPABASE_KEY")
]).pipe(
  Effect.map(([url, key]) => Option.isSome(url) && Option.isSome(key)),
  Effect.orElseSucceed(() => false)
)

/** One line saying which store runs, without secrets. */
export const describeChoice = (choice: StoreChoice): string => {
  switch (choice._tag) {
    case "Postgres":
      return `postgres at ${redactUrl(Redacted.value(choice.url))}${choice.schema === "public" ? "" : ` (schema ${choice.schema})`}`
    case "Supabase":
      return `supabase at ${choice.url}`
    case "Embedded":
      return `embedded (PGlite) in ${choice.dataDir}`
  }
}

/** The store a choice names. */
export const layerFor = (
  choice: StoreChoice
): Layer.Layer<SessionStore | StoreRecords | StoreBackend, StoreStartupError> => {
  switch (choice._tag) {
    case "Postgres":
      return layerPostgres({ url: choice.url, schema: choice.schema, setting: "DATABASE_URL" })
    case "Supabase":
      return layerSupabase({ url: choice.url, key: choice.key })
    case "Embedded":
      return layerPglite({ dataDir: choice.dataDir })
  }
}

/** The store the configuration picks, started (and migrated where it can be). */
export const layerFromConfig: Layer.Layer<SessionStore | StoreRecords | StoreBackend, StoreStartupError> =
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const choice = yield* storeChoice
      yield* Effect.logInfo(`store: ${describeChoice(choice)}`)
      return layerFor(choice)
    })
  )
