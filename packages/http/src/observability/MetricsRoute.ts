/**
 * `GET /metrics`' handler: compares the bearer token in constant time, then serves the
 * Prometheus text of every metric the process holds (the work-waiting gauge read just before).
 */
import { timingSafeEqual } from "node:crypto"
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { QwipMetrics, SessionStore } from "@qwip/core"
import { Effect, Option, Redacted } from "effect"
import { bearerToken } from "../Adapters.js"
import { QwipApi } from "../Api.js"
import { problem } from "../Problem.js"
import { Telemetry } from "./Telemetry.js"

const sameToken = (given: string, expected: Redacted.Redacted<string>) => {
  const a = Buffer.from(given)
  const b = Buffer.from(Redacted.value(expected))
  return a.length === b.length && timingSafeEqual(a, b)
}

export const MetricsLive = HttpApiBuilder.group(QwipApi, "metrics", (handlers) =>
  Effect.gen(function* () {
    const telemetry = yield* Telemetry
    const store = yield* SessionStore
    return handlers.handle("metrics", () =>
      Effect.gen(function* () {
        if (Option.isNone(telemetry.scrape)) {
          return yield* Effect.fail(problem(404, "not_found", "Metrics are off"))
        }
        const request = yield* HttpServerRequest.HttpServerRequest
        const given = Option.getOrUndefined(bearerToken(request.headers.authorization))
        if (given === undefined || !sameToken(given, telemetry.scrape.value.token)) {
          return yield* Effect.fail(
            problem(401, "unauthorized", "Send Authorization: Bearer <METRICS_TOKEN>", {
              "www-authenticate": 'Bearer realm="metrics"'
            })
          )
        }
        // The gauge is as of this scrape, not of the last poll.
        yield* QwipMetrics.recordWorkWaiting(store)
        return yield* telemetry.scrape.value.text
      })
    )
  })
)
