/**
 * Starting the service from plain (non-Effect) code and stopping it again: black-box tests and
 * tools that need a live server on a random port. `stop` shuts down as SIGTERM does.
 */
import { HttpServer } from "@effect/platform"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { BackgroundWorkLive } from "./BackgroundWork.js"
import { HttpConfig, type HttpConfigShape } from "./Config.js"
import * as NodeServer from "./NodeServer.js"
import { withMeteredStore } from "./observability/MeteredStore.js"
import { Telemetry } from "./observability/Telemetry.js"
import { HttpAppLive, type PlatformServices } from "./Server.js"

export interface RunningService {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** Stops taking requests and work, finishes what is in flight, releases leases. */
  readonly stop: () => Promise<void>
}

export interface StartOptions {
  readonly config?: Partial<HttpConfigShape>
  /** Default 0: a free port. */
  readonly port?: number
  readonly host?: string
  /** Traces, metrics and error reports (`Telemetry.layer`, `Telemetry.fromEnv`); default all off. */
  readonly telemetry?: Layer.Layer<Telemetry, unknown>
  /** Extra layers for the service's runtime (a logger, a clock). */
  readonly runtime?: Layer.Layer<never>
}

/** Builds and starts the service (HTTP and worker) on the given platform layer. */
export const start = async <E>(
  platform: Layer.Layer<PlatformServices, E>,
  options: StartOptions = {}
): Promise<RunningService> => {
  const scope = Effect.runSync(Scope.make())
  const server = NodeServer.layer({ port: options.port ?? 0, host: options.host ?? "127.0.0.1" })
  const service = Layer.mergeAll(HttpAppLive, BackgroundWorkLive).pipe(
    Layer.provideMerge(server),
    Layer.provide(HttpConfig.layer(options.config)),
    Layer.provide(options.telemetry ?? Telemetry.off),
    Layer.provide(withMeteredStore(platform)),
    Layer.provide(options.runtime ?? Layer.empty)
  )
  try {
    const context = await Effect.runPromise(Layer.buildWithScope(service, scope))
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    return {
      url: `http://127.0.0.1:${address.port}`,
      port: address.port,
      stop: () => Effect.runPromise(Scope.close(scope, Exit.void))
    }
  } catch (error) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  }
}
