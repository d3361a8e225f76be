/**
 * Seeing the service run, each part off unless its setting is given:
 * - `OTEL_EXPORTER_OTLP_ENDPOINT`: traces (the spans the code names, and one per request) and
 *   the business metrics (`QwipMetrics`) over OTLP/HTTP, as `OTEL_SERVICE_NAME`, with
 *   `OTEL_EXPORTER_OTLP_HEADERS` (e.g. an API key); spans are scrubbed of credentials first;
 * - `METRICS_TOKEN`: the same metrics as Prometheus text at `GET /metrics`, for that bearer token;
 * - `SENTRY_DSN`: defects and 5xx answers reported to Sentry (`ErrorReports`).
 * Without any, no span is built per request (it cost ~2% of a read's CPU under load) and
 * nothing leaves the process.
 */

import { randomUUID } from "node:crypto"
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import { HttpMiddleware, type HttpServerRequest } from "@effect/platform"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { MetricReader, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { QwipMetrics } from "@qwip/core"
import { Config, type ConfigError, Context, Duration, Effect, Layer, Option, Redacted, Tracer } from "effect"
import * as ErrorReports from "./ErrorReports.js"
import { scrubbingExporter } from "./Scrub.js"

export interface TelemetrySettings {
  /** The collector's base URL; `/v1/traces` and `/v1/metrics` are added. */
  readonly otlpEndpoint: Option.Option<string>
  readonly otlpHeaders: Redacted.Redacted<Readonly<Record<string, string>>>
  readonly serviceName: string
  readonly metricExportInterval: Duration.Duration
  readonly metricsToken: Option.Option<Redacted.Redacted<string>>
  readonly sentryDsn: Option.Option<Redacted.Redacted<string>>
}

export const telemetryOff: TelemetrySettings = {
  otlpEndpoint: Option.none(),
  otlpHeaders: Redacted.make({}),
  serviceName: "qwip",
  metricExportInterval: Duration.seconds(60),
  metricsToken: Option.none(),
  sentryDsn: Option.none()
}

/** `k1=v1,k2=v2`, values URL-encoded: the OpenTelemetry spec's form. */
const parseHeaders = (raw: string): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const pair of raw.split(",")) {
    const at = pair.indexOf("=")
    if (at <= 0) continue
    headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim())
  }
  return headers
}

const optionalText = (name: string) =>
  Config.string(name).pipe(
    Config.map((s) => s.trim()),
    Config.map((s) => (s === "" ? Option.none<string>() : Option.some(s))),
    Config.withDefault(Option.none<string>())
  )

/**
 * `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME` (default
 * `qwip`), `OTEL_METRIC_EXPORT_INTERVAL` (ms, default 60000), `METRICS_TOKEN`, `SENTRY_DSN`.
 */
export const telemetrySettingsFromEnv: Config.Config<TelemetrySettings> = Config.all({
  otlpEndpoint: optionalText("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(
    Config.map(Option.map((url) => url.replace(/\/+$/, "")))
  ),
  otlpHeaders: Config.string("OTEL_EXPORTER_OTLP_HEADERS").pipe(
    Config.withDefault(""),
    Config.map((raw) => Redacted.make(parseHeaders(raw)))
  ),
  serviceName: Config.string("OTEL_SERVICE_NAME").pipe(
    Config.map((s) => s.trim()),
    Config.map((s) => (s === "" ? telemetryOff.serviceName : s)),
    Config.withDefault(telemetryOff.serviceName)
  ),
  metricExportInterval: Config.integer("OTEL_METRIC_EXPORT_INTERVAL").pipe(
    Config.validate({ message: "must be a positive number of milliseconds", validation: (n) => n > 0 }),
    Config.map(Duration.millis),
    Config.withDefault(telemetryOff.metricExportInterval)
  ),
  metricsToken: Config.string("METRICS_TOKEN").pipe(
    Config.validate({
      message: "must be at least 16 characters (it guards the metrics)",
      validation: (t) => t.trim() === "" || t.trim().length >= 16
    }),
    Config.map((t) => (t.trim() === "" ? Option.none() : Option.some(Redacted.make(t.trim())))),
    Config.withDefault(Option.none())
  ),
  sentryDsn: optionalText("SENTRY_DSN").pipe(Config.map(Option.map(Redacted.make)))
})

/** A reader the service collects from when `/metrics` is scraped (it exports nothing itself). */
class ScrapedReader extends MetricReader {
  protected override onForceFlush() {
    return Promise.resolve()
  }
  protected override onShutdown() {
    return Promise.resolve()
  }
}

export interface TelemetryShape {
  /** `/metrics`: its token and the Prometheus text of every metric; none when it is off. */
  readonly scrape: Option.Option<{
    readonly token: Redacted.Redacted<string>
    readonly text: Effect.Effect<string>
  }>
}

export class Telemetry extends Context.Tag("@qwip/http/Telemetry")<Telemetry, TelemetryShape>() {
  /** Everything off: what tests get unless they ask. */
  static readonly off: Layer.Layer<Telemetry> = Layer.unwrapEffect(Effect.sync(() => layer(telemetryOff)))
  /** From the environment; a malformed setting stops start-up, naming it. */
  static readonly fromEnv: Layer.Layer<Telemetry, ConfigError.ConfigError> = Layer.unwrapEffect(
    Effect.map(telemetrySettingsFromEnv, (settings) => layer(settings))
  )
  /** The settings given, the rest off (tests). Each build has its own readers and exporters. */
  static readonly layer = (overrides: Partial<TelemetrySettings>): Layer.Layer<Telemetry> =>
    Layer.unwrapEffect(Effect.sync(() => layer({ ...telemetryOff, ...overrides })))
}

/** How long stopping waits to send the last spans and metrics. */
const SHUTDOWN_FLUSH = Duration.seconds(2)

/** No span for health checks and scrapes: they would drown the traces of bookings. */
const untraced = (request: HttpServerRequest.HttpServerRequest) => {
  const path = request.url.split("?")[0]
  return path === "/healthz" || path === "/readyz" || path === "/metrics"
}

/** The ids a span takes from its parent, so work done after a session is known is found by it. */
const INHERITED = ["session.id", "pod.id"] as const

/** The OpenTelemetry tracer, each new span starting with its parent's session and pod ids. */
const inheritingIds = (tracer: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    context: (f, fiber) => tracer.context(f, fiber),
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = tracer.span(name, parent, context, links, startTime, kind, options)
      const from = Option.getOrUndefined(parent)
      if (from?._tag === "Span") {
        for (const key of INHERITED) {
          const value = from.attributes.get(key)
          if (value !== undefined && !span.attributes.has(key)) span.attribute(key, value)
        }
      }
      return span
    }
  })

const tracing = (endpoint: string, headers: Record<string, string>) =>
  Layer.unwrapEffect(Effect.map(OtelTracer.make, (tracer) => Layer.setTracer(inheritingIds(tracer)))).pipe(
    Layer.provideMerge(OtelTracer.layerTracer),
    Layer.provide(
      Layer.scoped(
        OtelTracer.OtelTracerProvider,
        Effect.acquireRelease(
          Effect.flatMap(OtelResource.Resource, (resource) =>
            Effect.sync(
              () =>
                new BasicTracerProvider({
                  resource,
                  spanProcessors: [
                    new BatchSpanProcessor(
                      scrubbingExporter(new OTLPTraceExporter({ url: `${endpoint}/v1/traces`, headers }))
                    )
                  ]
                })
            )
          ),
          // Spans still queued are sent before the process stops, but an unreachable collector
          // must not hold up a deploy: at most SHUTDOWN_FLUSH.
          (provider) =>
            Effect.promise(() => provider.shutdown()).pipe(
              Effect.interruptible,
              Effect.timeoutOption(SHUTDOWN_FLUSH),
              Effect.ignore
            )
        )
      )
    ),
    Layer.discard
  )

/**
 * The telemetry `settings` ask for, for the layers it is provided to: the tracer, the metric
 * readers, the error reporter, and whether each request gets a span.
 */
const layer = (settings: TelemetrySettings): Layer.Layer<Telemetry> => {
  const headers = Redacted.value(settings.otlpHeaders)
  const scraped = Option.map(settings.metricsToken, (token) => ({ token, reader: new ScrapedReader() }))
  const readers: Array<MetricReader> = []
  if (Option.isSome(settings.otlpEndpoint)) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${settings.otlpEndpoint.value}/v1/metrics`, headers }),
        exportIntervalMillis: Duration.toMillis(settings.metricExportInterval)
      })
    )
  }
  if (Option.isSome(scraped)) readers.push(scraped.value.reader)
  const [first, ...more] = readers

  const serializer = new PrometheusSerializer()
  const service = Layer.succeed(Telemetry, {
    scrape: Option.map(scraped, ({ token, reader }) => ({
      token,
      text: Effect.promise(() => reader.collect()).pipe(
        Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
      )
    }))
  })

  // Several instances report under one service name: each needs its own id, or a collector
  // would merge their cumulative counters into one series.
  const resource = OtelResource.layer({
    serviceName: settings.serviceName,
    attributes: { "service.instance.id": randomUUID() }
  })
  return Layer.mergeAll(
    service,
    Option.match(settings.otlpEndpoint, {
      onNone: () => Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, () => true),
      onSome: (endpoint) =>
        Layer.merge(tracing(endpoint, headers), Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, untraced))
    }),
    first === undefined
      ? Layer.empty
      : Layer.merge(
          OtelMetrics.layer(() => [first, ...more], { shutdownTimeout: SHUTDOWN_FLUSH }),
          Layer.effectDiscard(QwipMetrics.startCounting)
        ),
    Option.match(settings.sentryDsn, {
      onNone: () => Layer.empty,
      onSome: (dsn) => ErrorReports.layer(Redacted.value(dsn))
    })
  ).pipe(Layer.provide(resource))
}
