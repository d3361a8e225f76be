/**
 * Where the HTTP service counts requests per client, from the environment: Redis when
 * `REDIS_URL` is set, else the Postgres database when the store is one (`DATABASE_URL`,
 * Supabase's direct connection string included), else this process's memory (the embedded
 * store runs as one instance; Supabase over HTTP has no connection to count on).
 * `RATE_LIMIT_KEY_PREFIX` (default `qwip`) keeps two deployments on one Redis apart.
 */
import { Config, Effect, type Layer, Option, Redacted } from "effect"
import * as RequestLimits from "../ratelimits/RequestLimits.js"
import type { StoreChoice } from "../store/StoreConfig.js"
import { fromConfigError, optionalSecret, PlatformStartError } from "./StartError.js"

export interface PlatformRequestLimits {
  readonly kind: RequestLimits.RequestLimitStore
  readonly layer: Layer.Layer<RequestLimits.RequestLimits>
}

export const requestLimitsFromEnv = (store: StoreChoice): Effect.Effect<PlatformRequestLimits, PlatformStartError> =>
  Effect.gen(function* () {
    const redisUrl = yield* optionalSecret("REDIS_URL")
    const given = (yield* Config.string("RATE_LIMIT_KEY_PREFIX").pipe(
      Config.withDefault(""),
      Effect.mapError(fromConfigError)
    )).trim()
    // Empty counts as unset, as for every setting.
    const keyPrefix = given === "" ? "qwip" : given
    if (!/^[A-Za-z0-9_:-]+$/.test(keyPrefix)) {
      return yield* new PlatformStartError({
        setting: "RATE_LIMIT_KEY_PREFIX",
        reason: "must be letters, digits, '-', '_' or ':'"
      })
    }
    if (Option.isSome(redisUrl)) {
      const url = Redacted.value(redisUrl.value).trim()
      if (!/^rediss?:\/\//.test(url)) {
        return yield* new PlatformStartError({ setting: "REDIS_URL", reason: "must be a redis:// or rediss:// URL" })
      }
      return { kind: "redis", layer: RequestLimits.layerRedis({ url, keyPrefix }) }
    }
    if (store._tag === "Postgres") {
      return {
        kind: "postgres",
        layer: RequestLimits.layerPostgres({ url: Redacted.value(store.url), schema: store.schema, keyPrefix })
      }
    }
    return { kind: "memory", layer: RequestLimits.layerMemory }
  })
