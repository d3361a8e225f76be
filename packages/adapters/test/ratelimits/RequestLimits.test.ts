/**
 * Where requests are counted, from the environment, and the memory limiter's answers.
 * Sharing through Redis and Postgres is tested end to end in `tests/http/SharedRateLimit.test.ts`.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option, Redacted } from "effect"
import { requestLimitsFromEnv } from "../../src/platform/RequestLimitsFromEnv.js"
import { makeMemoryRequestLimits } from "../../src/ratelimits/RequestLimits.js"
import type { StoreChoice } from "../../src/store/StoreConfig.js"

const embedded: StoreChoice = { _tag: "Embedded", dataDir: ".qwip" }
const postgres: StoreChoice = { _tag: "Postgres", url: Redacted.make("postgres://u@db:5432/qwip"), schema: "public" }
const supabase: StoreChoice = { _tag: "Supabase", url: "https://x.supabase.co", key: Redacted.make("k") }

const chosen = (store: StoreChoice, env: Record<string, string>) =>
  requestLimitsFromEnv(store).pipe(
    Effect.map((r) => r.kind),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

describe("requestLimitsFromEnv", () => {
  it.effect("Redis when REDIS_URL is set, else Postgres when the store is, else memory", () =>
    Effect.gen(function* () {
      expect(yield* chosen(embedded, {})).toBe("memory")
      expect(yield* chosen(supabase, {})).toBe("memory")
      expect(yield* chosen(postgres, {})).toBe("postgres")
      expect(yield* chosen(postgres, { REDIS_URL: "redis://127.0.0.1:6379" })).toBe("redis")
      expect(yield* chosen(embedded, { REDIS_URL: "rediss://cache.example.com:6380" })).toBe("redis")
      expect(yield* chosen(postgres, { REDIS_URL: " ", RATE_LIMIT_KEY_PREFIX: "" })).toBe("postgres")
    })
  )

  it.effect("a REDIS_URL that is not a Redis URL, or a bad key prefix, stops start-up naming the setting", () =>
    Effect.gen(function* () {
      const url = yield* Effect.flip(chosen(embedded, { REDIS_URL: "127.0.0.1:6379" }))
      expect(url.setting).toBe("REDIS_URL")
      const prefix = yield* Effect.flip(chosen(embedded, { RATE_LIMIT_KEY_PREFIX: "qwip prod" }))
      expect(prefix.setting).toBe("RATE_LIMIT_KEY_PREFIX")
    })
  )
})

describe("memory request limits", () => {
  it.live("the allowance per key and window, then the seconds to wait", () =>
    Effect.gen(function* () {
      const limits = makeMemoryRequestLimits()
      const limit = { limit: 2, window: Duration.minutes(1) }
      expect(yield* limits.take("general|1.2.3.4", limit)).toEqual(Option.none())
      expect(yield* limits.take("general|1.2.3.4", limit)).toEqual(Option.none())
      const wait = yield* limits.take("general|1.2.3.4", limit)
      expect(Option.isSome(wait) && wait.value > 0 && wait.value <= 60).toBe(true)
      // Another client, and another bucket's limit, count apart.
      expect(yield* limits.take("general|5.6.7.8", limit)).toEqual(Option.none())
      expect(yield* limits.take("setup-intent|1.2.3.4", { limit: 1, window: Duration.minutes(10) })).toEqual(
        Option.none()
      )
    })
  )
})
