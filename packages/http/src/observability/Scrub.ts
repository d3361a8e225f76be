/**
 * What leaves the process in a trace: every span passes through `scrubbingExporter` on its way
 * to the OTLP exporter, which drops attributes that could carry a credential or a door code,
 * whichever code set them (the platform's request span copies headers and the query string).
 * Ids named in camelCase by older spans are also sent under `session.id` / `pod.id`.
 */
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"

/** Attribute names that may hold a token, a secret or a door code. */
const SECRET_NAME = /authorization|cookie|token|secret|password|api[-_.]?key|door[-_.]?code|access[-_.]?code|signature/i
/** Values that look like a JWT, a Stripe client secret or a bearer credential, wherever they are. */
const SECRET_VALUE = /eyJ[\w-]+\.[\w-]+\.|_secret_|bearer\s/i

const withoutQuery = (url: string) => {
  const cut = url.search(/[?#]/)
  return cut === -1 ? url : url.slice(0, cut)
}

type Attributes = ReadableSpan["attributes"]

/** Older spans name the ids in camelCase (`Worker.runClaimed`'s `sessionId`): also sent as Qwip's keys. */
const ALIASES: Readonly<Record<string, string>> = { sessionId: "session.id", podId: "pod.id" }

/** The attributes fit to export: names and values checked, query strings cut off URLs. */
export const scrubAttributes = (attributes: Attributes): Attributes => {
  const kept: Record<string, Attributes[string]> = {}
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "url.query" || SECRET_NAME.test(name)) continue
    if (typeof value === "string" && SECRET_VALUE.test(value)) continue
    kept[name] = name === "url.full" && typeof value === "string" ? withoutQuery(value) : value
  }
  for (const [name, alias] of Object.entries(ALIASES)) {
    const value = kept[name]
    if (value !== undefined && kept[alias] === undefined) kept[alias] = value
  }
  return kept
}

/** The span as exported: a view over it with scrubbed attributes (its own and its events'). */
const scrubSpan = (span: ReadableSpan): ReadableSpan =>
  Object.create(span, {
    attributes: { value: scrubAttributes(span.attributes) },
    events: {
      value: span.events.map((event) =>
        event.attributes === undefined ? event : { ...event, attributes: scrubAttributes(event.attributes) }
      )
    }
  })

export const scrubbingExporter = (exporter: SpanExporter): SpanExporter => ({
  export: (spans: Array<ReadableSpan>, done: Parameters<SpanExporter["export"]>[1]) =>
    exporter.export(spans.map(scrubSpan), done),
  shutdown: () => exporter.shutdown(),
  forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve()
})
