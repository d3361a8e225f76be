/**
 * The service, composed once: the API's handlers with their middleware, OpenAPI and docs,
 * served by Node's HTTP server, with the background worker beside it. The platform's services
 * (store, payments, locks, codes, mail, photos, policy, tokens, ...) come from outside:
 * `@qwip/adapters`' `layerFromEnv` in production, in-memory doubles in tests.
 */
import { HttpApiBuilder, HttpApiScalar, HttpRouter, HttpServer } from "@effect/platform"
import type {
  CheckoutPhotos,
  LockAccess,
  Mailer,
  PayLinks,
  PaymentEventInbox,
  Payments,
  Policy,
  SessionStore,
  StaticCodes
} from "@qwip/core"
import { Effect, Layer } from "effect"
import type { AccessTokens, LocalPhotoFiles, PlatformInfo, Readiness, Sandbox, StripeWebhooks } from "./Adapters.js"
import { layerCryptoRandom } from "./Adapters.js"
import { QwipApi } from "./Api.js"
import { AuthLive } from "./Auth.js"
import { BackgroundWorkLive } from "./BackgroundWork.js"
import { BookingPageLive } from "./BookingPage.js"
import { HttpConfig } from "./Config.js"
import { BookingLive } from "./handlers/Booking.js"
import { DeprecatedLive, OperationsLive, PhotosLive } from "./handlers/Operations.js"
import { PayLive } from "./handlers/Pay.js"
import { PodsLive } from "./handlers/Pods.js"
import { SandboxLive } from "./handlers/Sandbox.js"
import { SessionsLive } from "./handlers/Sessions.js"
import { WebhooksLive } from "./handlers/Webhooks.js"
import { LoggingFromEnv } from "./Logging.js"
import { makeServiceMiddleware } from "./Middleware.js"
import * as NodeServer from "./NodeServer.js"
import { withMeteredStore } from "./observability/MeteredStore.js"
import { MetricsLive } from "./observability/MetricsRoute.js"
import { Telemetry } from "./observability/Telemetry.js"

/** What the service needs from the platform composition. */
export type PlatformServices =
  | SessionStore
  | Payments
  | PayLinks
  | LockAccess
  | StaticCodes
  | Mailer
  | Policy
  | AccessTokens
  | PlatformInfo
  | Sandbox
  | Readiness
  | PaymentEventInbox
  | StripeWebhooks
  | CheckoutPhotos
  | LocalPhotoFiles

const Handlers = Layer.mergeAll(
  PodsLive,
  BookingLive,
  SessionsLive,
  PhotosLive,
  WebhooksLive,
  PayLive,
  SandboxLive,
  DeprecatedLive,
  OperationsLive,
  MetricsLive
)

/** The API with its handlers; needs the platform's services and `HttpConfig`. */
export const ApiLive = HttpApiBuilder.api(QwipApi).pipe(Layer.provide(Handlers), Layer.provide(AuthLive))

/** The longest path segment a route parameter takes: a pay token, with room to spare. */
export const MAX_PATH_SEGMENT = 1024

/**
 * The HTTP app on whatever `HttpServer` is provided: routes, middleware, `/openapi.json`, `/docs`, `/`.
 *
 * Whether each request gets a span is `Telemetry`'s to say (only when traces are exported:
 * building that span took about 2% of a read's CPU under load), so provide it to this layer.
 */
export const HttpAppLive = HttpApiBuilder.serve().pipe(
  Layer.provide(BookingPageLive),
  Layer.provide(HttpApiScalar.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(HttpApiBuilder.middleware(makeServiceMiddleware)),
  Layer.provide(ApiLive),
  // A pay link's token (a signed JWT, about 200 characters) is one path segment; the router's
  // default refuses segments over 100 characters as "no such route".
  Layer.provide(HttpRouter.setRouterConfig({ maxParamLength: MAX_PATH_SEGMENT }))
)

/** Node's HTTP server on `HttpConfig`'s host and port. */
export const NodeServerLive = Layer.unwrapEffect(
  Effect.map(HttpConfig, (config) => NodeServer.layer({ port: config.port, host: config.host }))
)

/**
 * The whole service: HTTP on `HttpConfig`'s port and the background worker. Provide the
 * platform's services and `HttpConfig`; `serve` does that from the environment.
 */
export const layer = Layer.mergeAll(
  HttpAppLive.pipe(HttpServer.withLogAddress, Layer.provide(NodeServerLive)),
  BackgroundWorkLive
)

/**
 * Runs the service until interrupted (SIGTERM/SIGINT under `NodeRuntime.runMain`): the CLI's
 * `serve` command and `main.ts` use it with the platform layer they built. Logging follows
 * `LOG_LEVEL`; randomness is the operating system's (session ids must not be guessable).
 */
export const serve = <E, R>(platform: Layer.Layer<PlatformServices, E, R>) =>
  Layer.launch(
    layer.pipe(
      Layer.provide(HttpConfig.fromEnv),
      Layer.provide(Telemetry.fromEnv),
      Layer.provide(withMeteredStore(platform))
    )
  ).pipe(Effect.provide(Layer.merge(LoggingFromEnv, layerCryptoRandom)))
