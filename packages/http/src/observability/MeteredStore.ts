/**
 * The platform with its `SessionStore` metered (`QwipMetrics.meteredSessionStore`): sessions,
 * charges, time to ready and work retries are counted from what the store persists, whichever
 * use case, worker or adapter made the change. The work-waiting gauge is read from the store
 * every 15 seconds (and on each `/metrics` scrape) when the store can count its work.
 */
import { QwipMetrics, SessionStore } from "@qwip/core"
import { Context, Effect, Layer, Schedule } from "effect"

const WORK_WAITING_EVERY = "15 seconds"

export const withMeteredStore = <ROut, E, R>(
  platform: Layer.Layer<ROut | SessionStore, E, R>
): Layer.Layer<ROut | SessionStore, E, R> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const services = yield* Effect.context<ROut | SessionStore>()
      const store = Context.get(services as Context.Context<SessionStore>, SessionStore)
      yield* QwipMetrics.recordWorkWaiting(store).pipe(
        Effect.repeat(Schedule.spaced(WORK_WAITING_EVERY)),
        Effect.catchAllCause((cause) => Effect.logWarning("work-waiting gauge stopped", cause)),
        Effect.forkScoped
      )
      return Context.add(services, SessionStore, QwipMetrics.meteredSessionStore(store))
    })
  ).pipe(Layer.provide(platform))
