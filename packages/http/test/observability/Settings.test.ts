/**
 * The telemetry settings from the environment: all off by default; the collector's headers in
 * the OpenTelemetry form; a metrics token too short to guard anything stops start-up.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option, Redacted } from "effect"
import { telemetrySettingsFromEnv } from "../../src/observability/Telemetry.js"

const read = (env: Record<string, string>) =>
  Effect.withConfigProvider(telemetrySettingsFromEnv, ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("telemetry settings", () => {
  it.effect("are all off with nothing set", () =>
    Effect.gen(function* () {
      const settings = yield* read({})
      expect(Option.isNone(settings.otlpEndpoint)).toBe(true)
      expect(Option.isNone(settings.metricsToken)).toBe(true)
      expect(Option.isNone(settings.sentryDsn)).toBe(true)
      expect(settings.serviceName).toBe("qwip")
      expect(Duration.toMillis(settings.metricExportInterval)).toBe(60_000)
    })
  )

  it.effect("read the collector, its headers, the service name and the intervals", () =>
    Effect.gen(function* () {
      const settings = yield* read({
        OTEL_EXPORTER_OTLP_ENDPOINT: "https://otlp.example.com/",
        OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=abc%3D%3D, x-team = qwip",
        OTEL_SERVICE_NAME: "qwip-eu",
        OTEL_METRIC_EXPORT_INTERVAL: "15000",
        METRICS_TOKEN: "a-token-long-enough-to-guard",
        SENTRY_DSN: "https://key@o1.ingest.sentry.io/2"
      })
      expect(settings.otlpEndpoint).toEqual(Option.some("https://otlp.example.com"))
      expect(Redacted.value(settings.otlpHeaders)).toEqual({ "x-api-key": "abc==", "x-team": "qwip" })
      expect(settings.serviceName).toBe("qwip-eu")
      expect(Duration.toMillis(settings.metricExportInterval)).toBe(15_000)
      expect(Option.map(settings.metricsToken, Redacted.value)).toEqual(Option.some("a-token-long-enough-to-guard"))
      expect(Option.map(settings.sentryDsn, Redacted.value)).toEqual(Option.some("https://key@o1.ingest.sentry.io/2"))
    })
  )

  it.effect("refuse a metrics token under 16 characters, naming the setting", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(read({ METRICS_TOKEN: "short" }))
      expect(String(error)).toContain("METRICS_TOKEN")
    })
  )
})
