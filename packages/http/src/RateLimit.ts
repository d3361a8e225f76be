/**
 * Per-client request limits: a fixed window per (bucket, IP). The platform says where the
 * counts live (`RequestLimits` from `@qwip/adapters`: Redis or Postgres shared by every
 * instance, or this process's memory); a platform that names none (the in-memory test
 * platform) counts in this process. A shared store that does not answer lets the request
 * through (see `@qwip/adapters`' `RequestLimits`).
 */
import { Effect, Option } from "effect"
import { RateLimits, RequestLimits } from "./Adapters.js"
import type { RateLimit } from "./Config.js"

export interface RateLimiter {
  /** Counts one request; `Some(seconds)` to wait when the window's allowance is used up. */
  readonly take: (key: string, limit: RateLimit) => Effect.Effect<Option.Option<number>>
}

/** Counts in this process's memory. */
export const makeRateLimiter = (): RateLimiter => RateLimits.makeMemoryRequestLimits()

/** The platform's limiter, or one in this process's memory. */
export const platformRateLimiter: Effect.Effect<RateLimiter> = Effect.map(
  Effect.serviceOption(RequestLimits),
  Option.getOrElse(makeRateLimiter)
)
