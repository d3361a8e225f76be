/**
 * Optional error reporting to Sentry (`SENTRY_DSN`): only defects and 5xx answers, each with
 * its request id. It is a logger beside the service's own: the request log line of a 5xx (its
 * cause attached when it was our fault) and any error logged with a defect (e.g. by the worker)
 * is what gets reported, so the middleware's one request line stays the single place that
 * decides what an answer was, and nothing else has to be kept in step with it.
 *
 * `@sentry/core` with Node's own `fetch`, rather than `@sentry/node`: the core client is one
 * package (plus its conventions), where `@sentry/node` brings its own OpenTelemetry build and
 * auto-instrumentation we neither need nor want beside ours. No integrations run, so nothing
 * about the request (headers, body, cookies) is attached unless it is put here.
 */
import { createStackParser, createTransport, Scope } from "@sentry/core"
import { nodeStackLineParser, ServerRuntimeClient } from "@sentry/core/server"
import { Cause, Effect, HashMap, Layer, Logger, LogLevel, Option } from "effect"

const makeClient = (dsn: string) => {
  const client = new ServerRuntimeClient({
    dsn,
    integrations: [],
    sendDefaultPii: false,
    stackParser: createStackParser(nodeStackLineParser()),
    platform: "node",
    runtime: { name: "node", version: process.version },
    transport: (options) =>
      createTransport(options, async (request) => {
        const response = await fetch(options.url, {
          method: "POST",
          body: request.body,
          ...(options.headers === undefined ? {} : { headers: options.headers })
        })
        return {
          statusCode: response.status,
          headers: {
            "x-sentry-rate-limits": response.headers.get("x-sentry-rate-limits"),
            "retry-after": response.headers.get("retry-after")
          }
        }
      })
  })
  client.init()
  return client
}

/** The annotations a report carries: ids and the request line, never a body or a header. */
const TAGS = ["request_id", "method", "path", "status", "kind", "sessionId", "worker"] as const

const statusOf = (annotations: HashMap.HashMap<string, unknown>) =>
  Option.getOrElse(
    Option.map(HashMap.get(annotations, "status"), (s) => Number(s)),
    () => 0
  )

/** A logger that reports defects and 5xx answers; nothing else is sent. */
const reporter = (client: ServerRuntimeClient) =>
  Logger.make(({ logLevel, cause, annotations, message }) => {
    // A 5xx answer (its request line), or an error logged with a defect: nothing else.
    const status = statusOf(annotations)
    const defect = LogLevel.greaterThanEqual(logLevel, LogLevel.Error) && Cause.isDie(cause)
    if (status < 500 && !defect) return
    const scope = new Scope()
    for (const name of TAGS) {
      const value = HashMap.get(annotations, name)
      if (Option.isSome(value)) scope.setTag(name, String(value.value))
    }
    const failure = Cause.isEmpty(cause) ? undefined : Cause.squash(cause)
    const error =
      failure instanceof Error
        ? failure
        : new Error(
            Cause.isEmpty(cause) ? String(Array.isArray(message) ? message.join(" ") : message) : Cause.pretty(cause)
          )
    client.captureException(error, undefined, scope)
  })

/** Reports to `dsn` while the layer lives; flushes what is queued (up to 2 s) when it ends. */
export const layer = (dsn: string): Layer.Layer<never> =>
  Layer.unwrapScoped(
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => makeClient(dsn)),
        (client) => Effect.promise(() => client.close(2000))
      ),
      (client) => Logger.add(reporter(client))
    )
  )
