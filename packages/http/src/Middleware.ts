/**
 * What every request goes through, around the API's router:
 * CORS → request id → per-IP rate limit → body-size limit → input guard (text and JSON depth,
 * `InputGuard.ts`) → the router → errors as JSON → one log line.
 *
 * It sees handler failures before HttpApi encodes them (see `HttpApiBuilder.httpApp`), so every
 * error, including decode errors, unknown routes and defects, leaves in the one `Problem` shape.
 */
import { randomUUID } from "node:crypto"
import {
  type HttpApp,
  HttpIncomingMessage,
  HttpMiddleware,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { MAX_CHECKOUT_PHOTO_BYTES, QwipMetrics } from "@qwip/core"
import { Cause, Clock, Effect, Metric, Option } from "effect"
import { QwipApi } from "./Api.js"
import { HttpConfig, type HttpConfigShape, type RateLimit } from "./Config.js"
import { makeInputGuard } from "./InputGuard.js"
import { type ApiProblem, internalError, malformedJson, notFound, problem, problemBody } from "./Problem.js"
import { platformRateLimiter } from "./RateLimit.js"

/** Multipart framing allowed on top of the photo itself. */
export const MULTIPART_OVERHEAD_BYTES = 1024 * 1024

interface RouteRule {
  readonly bucket: "setup-intent" | "session-lookup" | "general" | "none"
  readonly maxBody: number
  readonly tooLarge: (max: number) => ApiProblem
  readonly quiet: boolean
}

const bodyTooLarge = (max: number) =>
  problem(413, "body_too_large", `The request body is larger than ${Math.round(max / 1024)} KB`)
const photoTooLarge = () => problem(400, "photo_too_large", "The photo is larger than 10 MB")

const ruleFor = (config: HttpConfigShape, method: string, path: string, hasToken: boolean): RouteRule => {
  const rule = (bucket: RouteRule["bucket"], overrides: Partial<RouteRule> = {}): RouteRule => ({
    bucket,
    maxBody: config.maxJsonBytes,
    tooLarge: bodyTooLarge,
    quiet: false,
    ...overrides
  })
  if (path === "/healthz" || path === "/readyz") return rule("none", { quiet: true })
  // Scraped every few seconds: logged only when refused.
  if (path === "/metrics") return rule("general", { quiet: true })
  if (path === "/webhook/stripe") return rule("none", { maxBody: config.maxWebhookBytes })
  if (path === "/api/setup-intent" && method === "POST") return rule("setup-intent")
  if ((path === "/api/end-session-preview" || path === "/api/is-session-complete") && !hasToken) {
    return rule("session-lookup")
  }
  // A pay link is a bearer of its own: reads and confirms by it are limited like look-ups by id.
  if (path.startsWith("/api/pay/")) return rule("session-lookup")
  if (path === "/api/session/upload-checkout-photo") {
    return rule("general", { maxBody: MAX_CHECKOUT_PHOTO_BYTES + MULTIPART_OVERHEAD_BYTES, tooLarge: photoTooLarge })
  }
  return rule("general")
}

const limitOf = (config: HttpConfigShape, bucket: RouteRule["bucket"]): Option.Option<RateLimit> => {
  switch (bucket) {
    case "setup-intent":
      return Option.some(config.rateLimits.setupIntent)
    case "session-lookup":
      return Option.some(config.rateLimits.sessionLookup)
    case "general":
      return Option.some(config.rateLimits.general)
    case "none":
      return Option.none()
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The client's `X-Request-ID` when it is a sensible one, else a new id. */
export const requestIdFrom = (given: string | ReadonlyArray<string> | undefined): string =>
  typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID()

const requestIdOf = (request: HttpServerRequest.HttpServerRequest): string =>
  requestIdFrom(request.headers["x-request-id"])

/** The client's address; behind a trusted proxy, the last hop it appended to `X-Forwarded-For`. */
const clientIpOf = (request: HttpServerRequest.HttpServerRequest, trustProxy: boolean): string => {
  if (trustProxy) {
    const forwarded = request.headers["x-forwarded-for"]
    const last = forwarded
      ?.split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .at(-1)
    if (last !== undefined) return last
  }
  return Option.getOrElse(request.remoteAddress, () => "unknown")
}

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const hasTag = (u: unknown, tag: string): u is { readonly _tag: string } =>
  typeof u === "object" && u !== null && "_tag" in u && (u as { _tag: unknown })._tag === tag

const decodeDetail = (e: {
  readonly issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>
}) => {
  // Only a body can be wrong as a whole: the path and query always decode to an object.
  const parts = e.issues.map((i) =>
    i.path.length > 0
      ? `${i.path.map(String).join(".")}: ${i.message}`
      : "body: must be a JSON object (Content-Type: application/json)"
  )
  return parts.length > 0 ? Array.from(new Set(parts)).join("; ") : "the request is malformed"
}

/** Reading the body failed: too large, or not what its content type says. */
const requestErrorProblem = (e: { readonly cause?: unknown }, rule: RouteRule): ApiProblem => {
  const cause = e.cause
  if (cause instanceof Error && cause.message === "maxBytes exceeded") return rule.tooLarge(rule.maxBody)
  if (cause instanceof SyntaxError) return malformedJson()
  return problem(400, "bad_request", "The request body could not be read")
}

const multipartProblem = (e: { readonly reason: string }, rule: RouteRule): ApiProblem => {
  switch (e.reason) {
    case "FileTooLarge":
    case "BodyTooLarge":
      return rule.tooLarge(rule.maxBody)
    default:
      return problem(400, "malformed_multipart", "The body must be multipart/form-data with a `photo` file field")
  }
}

/** The problem a failed request is; `internal` when it is our fault (logged with its cause). */
export const problemOfCause = (
  cause: Cause.Cause<unknown>,
  request: { readonly method: string; readonly path: string },
  rule: RouteRule
): { readonly problem: ApiProblem; readonly internal: boolean } => {
  const known = (u: unknown): Option.Option<ApiProblem> => {
    if (hasTag(u, "ApiProblem")) return Option.some(u as ApiProblem)
    if (hasTag(u, "HttpApiDecodeError")) {
      return Option.some(problem(400, "invalid_request", decodeDetail(u as never)))
    }
    if (hasTag(u, "RouteNotFound")) return Option.some(notFound(request.method, request.path))
    if (hasTag(u, "RequestError")) return Option.some(requestErrorProblem(u as never, rule))
    if (hasTag(u, "MultipartError")) return Option.some(multipartProblem(u as never, rule))
    return Option.none()
  }
  const found = Option.orElse(Option.flatMap(Cause.failureOption(cause), known), () =>
    Option.flatMap(Cause.dieOption(cause), known)
  )
  return Option.match(found, {
    onNone: () => ({ problem: internalError(), internal: true }),
    onSome: (p) => ({ problem: p, internal: p.status >= 500 })
  })
}

export const problemResponse = (p: ApiProblem, requestId: string) =>
  HttpServerResponse.unsafeJson(problemBody(p, requestId), { status: p.status, headers: p.headers ?? {} })

interface Outcome {
  readonly response: HttpServerResponse.HttpServerResponse
  readonly error: string | undefined
  readonly cause: Option.Option<Cause.Cause<unknown>>
}

/** Builds the middleware once, with its rate-limit counters. */
export const makeServiceMiddleware = Effect.gen(function* () {
  const config = yield* HttpConfig
  const limiter = yield* platformRateLimiter
  const guard = makeInputGuard(QwipApi)
  const anyOrigin = config.corsOrigins.includes("*")
  const cors = HttpMiddleware.cors({
    allowedOrigins: anyOrigin ? [] : (origin: string) => config.corsOrigins.includes(origin),
    allowedHeaders: ["authorization", "content-type", "x-request-id", "stripe-signature"],
    exposedHeaders: ["x-request-id", "retry-after"],
    maxAge: 600
  })

  const observe = (app: HttpApp.Default): HttpApp.Default =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const started = yield* Clock.currentTimeMillis
      const requestId = requestIdOf(request)
      const method = request.method
      const path = pathOf(request.url)
      const rule = ruleFor(config, method, path, request.headers.authorization !== undefined)

      const answered = (p: ApiProblem, cause: Option.Option<Cause.Cause<unknown>> = Option.none()): Outcome => ({
        response: problemResponse(p, requestId),
        error: p.error,
        cause
      })

      const respond = Effect.gen(function* () {
        const limit = limitOf(config, rule.bucket)
        if (Option.isSome(limit) && method !== "OPTIONS") {
          const wait = yield* limiter.take(`${rule.bucket}|${clientIpOf(request, config.trustProxy)}`, limit.value)
          if (Option.isSome(wait)) {
            yield* Metric.increment(Metric.tagged(QwipMetrics.rateLimitRefusals, "bucket", rule.bucket))
            const limited = problem(429, "rate_limited", `Too many requests; try again in ${wait.value} s`, {
              "retry-after": String(wait.value)
            })
            return answered(limited)
          }
        }
        const declared = Number(request.headers["content-length"] ?? "0")
        if (Number.isFinite(declared) && declared > rule.maxBody) {
          return answered(rule.tooLarge(rule.maxBody))
        }
        return yield* Effect.zipRight(guard(request), app).pipe(
          HttpIncomingMessage.withMaxBodySize(Option.some(rule.maxBody)),
          Effect.map((response): Outcome => ({ response, error: undefined, cause: Option.none() })),
          Effect.catchAllCause((cause) => {
            if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
            const { problem: p, internal } = problemOfCause(cause, { method, path }, rule)
            return Effect.succeed(answered(p, internal ? Option.some(cause) : Option.none()))
          }),
          Effect.annotateLogs({ request_id: requestId })
        )
      })

      const { response, error, cause } = yield* respond
      const durationMs = (yield* Clock.currentTimeMillis) - started
      const line = {
        request_id: requestId,
        method,
        path,
        status: response.status,
        duration_ms: durationMs,
        ...(error === undefined ? {} : { error })
      }
      yield* Option.match(cause, {
        onNone: () =>
          rule.quiet && response.status < 400
            ? Effect.logDebug("request").pipe(Effect.annotateLogs(line))
            : Effect.logInfo("request").pipe(Effect.annotateLogs(line)),
        onSome: (c) => Effect.logError("request", c).pipe(Effect.annotateLogs(line))
      })
      return HttpServerResponse.setHeader(response, "x-request-id", requestId)
    })

  return (app: HttpApp.Default): HttpApp.Default => cors(observe(app))
})
