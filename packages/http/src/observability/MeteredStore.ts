/**
 * The platform with its `SessionStore` metered (`QwipMetrics.meteredSessionStore`): sessions,
 * charges, time to ready and work retries are counted from what the store persists, whichever
 * use case, worker or adapter made the change.
 */
import { QwipMetrics, SessionStore } from "@qwip/core"
import { Context, Effect, Layer } from "effect"

export const withMeteredStore = <ROut, E, R>(
  platform: Layer.Layer<ROut | SessionStore, E, R>
): Layer.Layer<ROut | SessionStore, E, R> =>
  Layer.effectContext(
    Effect.map(Effect.context<ROut | SessionStore>(), (services) =>
      Context.add(
        services,
        SessionStore,
        QwipMetrics.meteredSessionStore(Context.get(services as Context.Context<SessionStore>, SessionStore))
      )
    )
  ).pipe(Layer.provide(platform))
