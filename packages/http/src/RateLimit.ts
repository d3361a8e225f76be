/**
 * Per-client request limits: a fixed window per (bucket, IP), counted in this process. Behind
 * several instances each counts its own share, which still bounds abuse; a shared store can
 * replace this later without touching the middleware.
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { RateLimit } from "./Config.js"

export interface RateLimiter {
  /** Counts one request; `Some(seconds)` to wait when the window's allowance is used up. */
  readonly take: (key: string, limit: RateLimit) => Effect.Effect<Option.Option<number>>
}

export const makeRateLimiter = (options: { readonly maxKeys?: number } = {}): RateLimiter => {
  const maxKeys = options.maxKeys ?? 100_000
  const windows = new Map<string, { start: number; count: number; length: number }>()
  const prune = (now: number) => {
    for (const [key, w] of windows) if (now - w.start >= w.length) windows.delete(key)
    // Still too many distinct clients: forget the oldest windows first (Map keeps insertion order).
    for (const key of windows.keys()) {
      if (windows.size <= maxKeys) break
      windows.delete(key)
    }
  }
  return {
    take: (key, limit) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const length = Duration.toMillis(limit.window)
        let w = windows.get(key)
        if (w === undefined || now - w.start >= length) {
          if (windows.size >= maxKeys) prune(now)
          w = { start: now, count: 0, length }
          windows.delete(key)
          windows.set(key, w)
        }
        w.count++
        if (w.count <= limit.limit) return Option.none()
        return Option.some(Math.max(1, Math.ceil((w.start + length - now) / 1000)))
      })
  }
}
