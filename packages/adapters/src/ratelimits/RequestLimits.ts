/**
 * Per-client request limits, counted with `rate-limiter-flexible` in one of three places:
 * this process's memory (one instance, the embedded store), Redis (`REDIS_URL`) or the
 * Postgres database (`DATABASE_URL`), so that several instances behind one proxy share one
 * allowance instead of each granting the full limit.
 *
 * A shared store that does not answer within `STORE_DEADLINE` lets the request through and
 * logs it: a limiter protects the service, it must never be the reason a customer is refused
 * or kept waiting.
 */

import { createClient } from "@redis/client"
import { Clock, Context, Data, Duration, Effect, Layer, Option } from "effect"
import pg from "pg"
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible"

/** Requests allowed per client in a window (the HTTP service's `RateLimit`). */
export interface RequestLimit {
  readonly limit: number
  readonly window: Duration.Duration
}

export type RequestLimitStore = "memory" | "redis" | "postgres"

export interface RequestLimitsShape {
  /** Where the counts live. */
  readonly store: RequestLimitStore
  /** Counts one request; `Some(seconds)` to wait when the window's allowance is used up. */
  readonly take: (key: string, limit: RequestLimit) => Effect.Effect<Option.Option<number>>
}

/** The request limiter the HTTP middleware uses; without one it counts in its own memory. */
export class RequestLimits extends Context.Tag("@qwip/adapters/RequestLimits")<RequestLimits, RequestLimitsShape>() {}

/**
 * How long a request waits for a shared store's count. A Redis or Postgres round trip on the
 * same network takes a few milliseconds; past this the store is in trouble and we let the
 * request through rather than add its trouble to every request.
 */
export const STORE_DEADLINE = Duration.millis(250)

/** While a store stays unreachable, one warning per this, not one per request. */
const WARN_EVERY_MS = 60_000

/** A shared store that did not count a request (unreachable, failing or too slow). */
export class RateLimitStoreUnreachable extends Data.TaggedError("RateLimitStoreUnreachable")<{
  readonly store: RequestLimitStore
  readonly reason: string
}> {}

const reasonOf = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** What the library's limiters have in common here. */
interface Consumer {
  readonly consume: (key: string, points?: number) => Promise<RateLimiterRes>
}

const secondsToWait = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000))

/**
 * A `RequestLimitsShape` over limiters made per (limit, window): the library fixes both when a
 * limiter is made, and the service has one pair per bucket, so there are only a few.
 */
const over = (
  store: RequestLimitStore,
  make: (points: number, durationSeconds: number) => Consumer,
  /** None for memory, which answers at once: no timer per request. */
  deadline: Option.Option<Duration.Duration>
): RequestLimitsShape => {
  const limiters = new Map<string, Consumer>()
  let lastWarning = Number.NEGATIVE_INFINITY
  const limiterFor = (limit: RequestLimit) => {
    // The library counts whole seconds; a window shorter than one second is one second.
    const seconds = Math.max(1, Math.ceil(Duration.toSeconds(limit.window)))
    const id = `${limit.limit}/${seconds}`
    let limiter = limiters.get(id)
    if (limiter === undefined) {
      limiter = make(limit.limit, seconds)
      limiters.set(id, limiter)
    }
    return limiter
  }
  const letThrough = (key: string, e: RateLimitStoreUnreachable) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (now - lastWarning < WARN_EVERY_MS) return Effect.succeed(Option.none<number>())
      lastWarning = now
      return Effect.logWarning("rate limit store unreachable; requests let through").pipe(
        Effect.annotateLogs({ store, key, reason: e.reason }),
        Effect.as(Option.none<number>())
      )
    })
  return {
    store,
    take: (key, limit) =>
      Effect.async<Option.Option<number>, RateLimitStoreUnreachable>((resume) => {
        limiterFor(limit)
          .consume(key)
          .then(
            () => resume(Effect.succeed(Option.none())),
            // The library rejects with its result when the allowance is used up, with an error otherwise.
            (rejection: unknown) =>
              resume(
                rejection instanceof RateLimiterRes
                  ? Effect.succeed(Option.some(secondsToWait(rejection)))
                  : Effect.fail(new RateLimitStoreUnreachable({ store, reason: reasonOf(rejection) }))
              )
          )
      }).pipe(
        (counted) =>
          Option.match(deadline, {
            onNone: () => counted,
            onSome: (duration) =>
              // Interruptible even where the caller is not (the HTTP server runs requests so), so
              // past the deadline the request goes on at once, not when the store answers at last.
              Effect.timeoutFail(Effect.interruptible(counted), {
                duration,
                onTimeout: () =>
                  new RateLimitStoreUnreachable({ store, reason: `no answer within ${Duration.format(duration)}` })
              })
          }),
        Effect.catchAll((e) => letThrough(key, e)),
        Effect.withSpan("RequestLimits.take", { attributes: { store } })
      )
  }
}

/** Counts in this process: right for one instance, and the embedded store is only ever one. */
export const makeMemoryRequestLimits = (): RequestLimitsShape =>
  over("memory", (points, duration) => new RateLimiterMemory({ points, duration }), Option.none())

export const layerMemory: Layer.Layer<RequestLimits> = Layer.sync(RequestLimits, makeMemoryRequestLimits)

export interface SharedOptions {
  /** Put before every key, so two deployments (or two tests) on one store do not share counts. */
  readonly keyPrefix: string
  /** Default `STORE_DEADLINE`. */
  readonly deadline?: Duration.Duration | undefined
}

/**
 * Counts in Redis. The service starts even when Redis is down (requests are then let through);
 * the client reconnects in the background, and while it is disconnected a count fails at once
 * (no offline queue) instead of waiting for the deadline.
 */
export const layerRedis = (options: SharedOptions & { readonly url: string }): Layer.Layer<RequestLimits> =>
  Layer.scoped(
    RequestLimits,
    Effect.gen(function* () {
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const c = createClient({
            url: options.url,
            disableOfflineQueue: true,
            socket: { connectTimeout: 2_000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5_000) }
          })
          // Without a listener a connection error would crash the process; `take` reports it instead.
          c.on("error", () => undefined)
          return c
        }),
        (c) => Effect.sync(() => c.destroy())
      )
      // Waits briefly for the first connection, so the first requests are counted; never fails start-up.
      yield* Effect.tryPromise(() => client.connect()).pipe(
        Effect.timeout(Duration.seconds(2)),
        Effect.catchAll((e) =>
          Effect.logWarning("rate limit store unreachable at start; requests let through until it answers").pipe(
            Effect.annotateLogs({ store: "redis", reason: String(e) })
          )
        )
      )
      return over(
        "redis",
        (points, duration) =>
          new RateLimiterRedis({
            storeClient: client,
            useRedisPackage: true,
            keyPrefix: `${options.keyPrefix}:rl`,
            points,
            duration
          }),
        Option.some(options.deadline ?? STORE_DEADLINE)
      )
    })
  )

/** The table the library creates (`create table if not exists`) and counts in. */
export const RATE_LIMIT_TABLE = "qwip_rate_limits"

/**
 * Counts in Postgres, in `schema`'s `qwip_rate_limits` (the library's own table, created on first
 * start; it holds only counters that expire, so it is not part of the store's migrations). A pool
 * of its own, two connections, so limit checks never queue behind the store's queries nor take
 * its connections.
 */
export const layerPostgres = (
  options: SharedOptions & { readonly url: string; readonly schema: string }
): Layer.Layer<RequestLimits> =>
  Layer.scoped(
    RequestLimits,
    Effect.gen(function* () {
      const pool = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const p = new pg.Pool({
            connectionString: options.url,
            max: 2,
            connectionTimeoutMillis: 2_000,
            application_name: "qwip-rate-limits"
          })
          // An idle client's error (server restart) must not crash the process; the next query reconnects.
          p.on("error", () => undefined)
          return p
        }),
        (p) => Effect.promise(() => p.end().catch(() => undefined))
      )
      const common = {
        storeClient: pool,
        storeType: "pool",
        tableName: RATE_LIMIT_TABLE,
        schemaName: options.schema,
        keyPrefix: `${options.keyPrefix}:rl`
      }
      // The first limiter creates the table; the rest are made knowing it is there.
      let tableReady = false
      yield* Effect.async<void, RateLimitStoreUnreachable>((resume) => {
        new RateLimiterPostgres({ ...common, points: 1, duration: 1 }, (error?: unknown) =>
          resume(
            error === undefined || error === null
              ? Effect.void
              : Effect.fail(new RateLimitStoreUnreachable({ store: "postgres", reason: reasonOf(error) }))
          )
        )
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.seconds(5),
          onTimeout: () => new RateLimitStoreUnreachable({ store: "postgres", reason: "no answer within 5 s" })
        }),
        Effect.tap(() => Effect.sync(() => (tableReady = true))),
        Effect.catchAll((e) =>
          Effect.logWarning("rate limit table not created; requests let through until it is").pipe(
            Effect.annotateLogs({ store: "postgres", reason: e.reason })
          )
        )
      )
      return over(
        "postgres",
        (points, duration) =>
          new RateLimiterPostgres(
            { ...common, points, duration, tableCreated: tableReady },
            // Creating the table again when start-up could not: a failure shows up as a let-through request.
            () => undefined
          ),
        Option.some(options.deadline ?? STORE_DEADLINE)
      )
    })
  )
