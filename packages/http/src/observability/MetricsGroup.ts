/**
 * `GET /metrics`: the business metrics as Prometheus text, for a scraper holding
 * `METRICS_TOKEN`. Off (404) unless the token is set; a missing or wrong token is 401.
 * Declared apart from `Api.ts` so the API's definition only adds the group.
 */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { problemAt } from "../Problem.js"

/** Prometheus' text exposition format, version 0.0.4. */
export const PrometheusText = Schema.String.pipe(
  HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/plain; version=0.0.4; charset=utf-8" })
).annotations({ description: "Prometheus text exposition format" })

export class MetricsGroup extends HttpApiGroup.make("metrics")
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(PrometheusText)
      .addError(problemAt(401, "No bearer token, or not the metrics token"))
      .addError(problemAt(404, "Metrics are off: METRICS_TOKEN is not set"))
      .annotate(OpenApi.Summary, "Business metrics for Prometheus")
      .annotate(
        OpenApi.Description,
        "Sessions started and ended, charges by outcome and amount, provisioning time to ready, background work, payment events and rate-limit refusals, as Prometheus text. Needs `Authorization: Bearer <METRICS_TOKEN>`; answers 404 while METRICS_TOKEN is unset."
      )
  )
  .annotate(OpenApi.Description, "Metrics for the operators' scraper") {}
