/**
 * The store from the environment (`DATABASE_URL`, else `SUPABASE_URL`, else embedded PGlite
 * under `QWIP_DATA_DIR`), with what lives on it: readiness and the demo pod (`QWIP_SEED_DEMO_POD`, by default only on the embedded store).
 */
import { resolve } from "node:path"
import type { SessionStore } from "@qwip/core"
import { Config, Duration, Effect, Layer, Option } from "effect"
import { StoreBackend, type StoreBackendShape } from "../store/Backend.js"
import * as Migrator from "../store/Migrator.js"
import type { StoreRecords } from "../store/Records.js"
import { describeChoice, layerFor, type StoreChoice, storeChoice } from "../store/StoreConfig.js"
import { seedDemoPod } from "./DemoPod.js"
import { Readiness } from "./Services.js"
import { fromConfigError, PlatformStartError } from "./StartError.js"

type StoreServices = SessionStore | StoreRecords | StoreBackend

export interface PlatformStore {
  readonly choice: StoreChoice
  readonly kind: "pglite" | "postgres" | "supabase"
  /** `QWIP_DATA_DIR`, absolute: the embedded store, generated keys and local photos. */
  readonly dataDir: string
  /** One line saying which store runs, without secrets. */
  readonly description: string
  readonly layer: Layer.Layer<StoreServices, PlatformStartError>
  /** What runs on the store once it is there. */
  readonly services: Layer.Layer<Readiness, never, StoreServices>
}

/** Store reachable and its schema the one this code expects. */
const readinessOf = (backend: StoreBackendShape) => ({
  check: Effect.gen(function* () {
    const latest = yield* Migrator.latestVersion
    const version = yield* backend.call("qwip_schema_version", {})
    return Number(version) === latest
      ? { ok: true, detail: `schema version ${latest}` }
      : { ok: false, detail: `schema version ${String(version)}, code expects ${latest}` }
  }).pipe(
    Effect.catchAllCause(() => Effect.succeed({ ok: false, detail: "store unreachable" })),
    Effect.timeoutTo({
      duration: Duration.seconds(3),
      onTimeout: () => ({ ok: false, detail: "store did not answer within 3 s" }),
      onSuccess: (r) => r
    })
  )
})

export const storeFromEnv: Effect.Effect<PlatformStore, PlatformStartError> = Effect.gen(function* () {
  const choice = yield* storeChoice.pipe(
    Effect.mapError((e) => new PlatformStartError({ setting: e.setting, reason: e.reason }))
  )
  const embedded = choice._tag === "Embedded"
  const dataDir = resolve(
    embedded
      ? choice.dataDir
      : Option.getOrElse(yield* Config.option(Config.string("QWIP_DATA_DIR")).pipe(Effect.orDie), () => ".qwip")
  )
  const seed = yield* Config.option(Config.boolean("QWIP_SEED_DEMO_POD")).pipe(Effect.mapError(fromConfigError))
  return {
    choice,
    kind: embedded ? "pglite" : choice._tag === "Postgres" ? "postgres" : "supabase",
    dataDir,
    description: describeChoice(choice),
    layer: layerFor(choice).pipe(
      Layer.mapError((e) => new PlatformStartError({ setting: e.setting, reason: e.reason }))
    ),
    services: Layer.mergeAll(
      Layer.effect(Readiness, Effect.map(StoreBackend, readinessOf)),
      // The embedded default seeds a demo pod into an empty store; others only when asked.
      Option.getOrElse(seed, () => embedded) ? Layer.effectDiscard(seedDemoPod) : Layer.empty
    )
  }
})
