/**
 * @qwip/http: Qwip's HTTP service, a drop-in for today's API (same paths, JSON shapes and
 * status codes) with durable background work, Stripe webhooks and generated OpenAPI docs.
 */
export * from "./Api.js"
export { AuthLive, sessionFromTokenOrQuery } from "./Auth.js"
export { BackgroundWorkLive, makeWorkerId } from "./BackgroundWork.js"
export * from "./Config.js"
export { LoggingFromEnv, layerLogging, logLevelFromEnv } from "./Logging.js"
export { makeServiceMiddleware, problemResponse } from "./Middleware.js"
export * as NodeServer from "./NodeServer.js"
export { withMeteredStore } from "./observability/MeteredStore.js"
export { Telemetry, type TelemetrySettings, telemetrySettingsFromEnv } from "./observability/Telemetry.js"
export { ApiProblem, Problem, ProblemBody, problem, problemOf } from "./Problem.js"
export { type RunningService, type StartOptions, start } from "./Running.js"
export {
  ApiLive,
  HttpAppLive,
  layer,
  NodeServerLive,
  type PlatformServices,
  serve
} from "./Server.js"
