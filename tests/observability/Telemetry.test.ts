/**
 * Telemetry end to end: a local OTLP/HTTP receiver (a `node:http` server taking the exporters'
 * JSON) gets the spans of a full booking on the in-memory platform (setup intent, sandbox
 * confirm, finalize, provisioning, end), each request and work item with its session and pod,
 * and nothing secret in the payload; `/metrics` counts the booking and its end for the metrics
 * token (and waiting work, payment events, rate-limit refusals), and refuses everyone else.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { defaultHttpConfig, start, Telemetry } from "@qwip/http"
import { book, client, eventually, sessionIdOf } from "@qwip/test-support/Client"
import { boot, dataDir, platform as platformFromEnv, quickWorker } from "@qwip/test-support/Service"
import { deliverStripeEvent, stripeEvent } from "@qwip/test-support/StripeEvents"
import { makeTestPlatform, testConfig, WEBHOOK_SECRET } from "@qwip/test-support/TestPlatform"
import { Option, Redacted } from "effect"

const METRICS_TOKEN = "metrics-token-for-the-scraper-0123"
const COLLECTOR_KEY = "collector-api-key"

interface Received {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** An OTLP/HTTP receiver keeping every request it is sent. */
const startReceiver = async () => {
  const received: Array<Received> = []
  const server: Server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      received.push({ path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8") })
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

interface OtlpValue {
  readonly stringValue?: string
  readonly intValue?: number | string
  readonly doubleValue?: number
  readonly boolValue?: boolean
}
interface OtlpSpan {
  readonly name: string
  readonly kind: number
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }>
}

const spansOf = (bodies: ReadonlyArray<string>): Array<OtlpSpan> =>
  bodies.flatMap((body) =>
    JSON.parse(body).resourceSpans.flatMap((r: { scopeSpans: Array<{ spans: Array<OtlpSpan> }> }) =>
      r.scopeSpans.flatMap((s) => s.spans)
    )
  )

const attr = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value
  return value?.stringValue ?? value?.intValue ?? value?.doubleValue ?? value?.boolValue
}

/** A Prometheus sample's value (the series with `name` and at least `labels`), 0 when absent. */
const sample = (text: string, name: string, labels: Record<string, string> = {}) => {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  const line = text
    .split("\n")
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.includes(w)))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
}

describe("telemetry over OTLP and /metrics", { timeout: 60_000 }, () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  beforeAll(async () => {
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await receiver.close()
  })

  it("exports a booking's spans with their session and pod, no secrets, and counts it at /metrics", async () => {
    const platform = makeTestPlatform()
    const service = await start(platform.layer, {
      runtime: platform.runtime,
      config: testConfig(quickWorker()),
      telemetry: Telemetry.layer({
        otlpEndpoint: Option.some(receiver.url),
        otlpHeaders: Redacted.make({ "x-api-key": COLLECTOR_KEY }),
        metricsToken: Option.some(Redacted.make(METRICS_TOKEN))
      })
    })
    const api = client(service.url)
    let stopped = false
    try {
      const scrape = async () => {
        const answer = await api.get("/metrics", { token: METRICS_TOKEN })
        expect(answer.status).toBe(200)
        expect(answer.headers.get("content-type")).toContain("text/plain")
        return String(answer.body)
      }
      const before = await scrape()

      const { provisioningToken, sessionToken, setupIntentId } = await book(api, "pod-1")
      const sessionId = sessionIdOf(sessionToken)
      const ready = await eventually(
        () => api.get("/api/provisioning-status", { token: sessionToken }),
        (a) => a.body.status !== "pending",
        { timeoutMs: 20_000 }
      )
      expect(ready.body.status).toBe("ready")
      const doorCode = String(ready.body.access_code_text)
      // Read by the query the old frontend uses: its session id must not reach a URL attribute.
      expect((await api.get(`/api/end-session-preview?session_id=${sessionId}`)).status).toBe(200)
      platform.clock.advance("10 minutes")
      expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)

      const after = await scrape()
      const delta = (name: string, labels: Record<string, string> = {}) =>
        sample(after, name, labels) - sample(before, name, labels)
      expect(delta("qwip_sessions_started_total")).toBe(1)
      expect(delta("qwip_sessions_ended_total", { by: "customer" })).toBe(1)
      expect(delta("qwip_charges_total", { outcome: "paid" })).toBe(1)
      // Ten minutes at the test pod's £60 a minute.
      expect(delta("qwip_charge_amount_pence_total", { outcome: "paid" })).toBe(60_000)
      expect(delta("qwip_provisioning_time_to_ready_seconds_count")).toBe(1)
      expect(after).toContain("# TYPE qwip_provisioning_time_to_ready_seconds histogram")

      // The end's work (revoking the code, mailing the receipt) runs before the service stops;
      // closing the session later is not due yet.
      await eventually(
        async () => platform.store.work(),
        (work) =>
          ["revoke-access", "send-mail"].every((kind) => work.some((w) => w.item.kind === kind && w.status === "done"))
      )
      await service.stop()
      stopped = true

      // Every export went to the endpoint's paths, with the collector's header.
      const traces = receiver.received.filter((r) => r.path === "/v1/traces")
      const metrics = receiver.received.filter((r) => r.path === "/v1/metrics")
      expect(traces.length).toBeGreaterThan(0)
      expect(metrics.length).toBeGreaterThan(0)
      for (const r of [...traces, ...metrics]) expect(r.headers["x-api-key"]).toBe(COLLECTOR_KEY)
      expect(metrics.map((m) => m.body).join("")).toContain("qwip_sessions_started")

      const spans = spansOf(traces.map((t) => t.body))
      const request = (method: string, path: string) =>
        spans.find((s) => s.kind === 2 && attr(s, "http.request.method") === method && attr(s, "url.path") === path)
      const setup = request("POST", "/api/setup-intent")
      const confirm = request("POST", `/sandbox/setup-intents/${setupIntentId}/confirm`)
      const finalize = request("POST", "/api/booking/finalize")
      const end = request("POST", "/api/end-session")
      const preview = request("GET", "/api/end-session-preview")
      expect(setup && attr(setup, "pod.id")).toBe("pod-1")
      expect(confirm).toBeDefined()
      for (const span of [finalize, end, preview]) {
        expect(span && attr(span, "session.id")).toBe(sessionId)
        expect(span && attr(span, "pod.id")).toBe("pod-1")
      }
      expect(preview && attr(preview, "url.full")).not.toContain("?")
      expect(preview && attr(preview, "url.query")).toBeUndefined()

      // Provisioning ran as background work: its span names the session and pod.
      const provisioning = spans.find((s) => s.name === "Worker.runClaimed" && attr(s, "kind") === "provision-access")
      expect(provisioning && attr(provisioning, "session.id")).toBe(sessionId)
      expect(provisioning && attr(provisioning, "pod.id")).toBe("pod-1")
      // Every work item of the session (mail too) carries it.
      const work = spans.filter((s) => s.name === "Worker.runClaimed" && attr(s, "kind") !== undefined)
      expect(work.map((s) => attr(s, "kind")).sort()).toEqual([
        "mail-access-ready",
        "provision-access",
        "revoke-access",
        "send-mail"
      ])
      for (const span of work) expect(attr(span, "session.id")).toBe(sessionId)
      // The use cases' own spans (named with Effect.fn) arrive with the session and pod on them.
      const useCase = (name: string) => spans.find((s) => s.name === name)
      for (const name of [
        "Checkout.finalizeBooking",
        "CodeProvisioning.provisionAccess",
        "Viewing.previewCost",
        "CustomerEnd.endAsCustomer",
        "SessionEnd.endSession",
        "CodeRevocation.revokeAccess"
      ]) {
        const span = useCase(name)
        expect(span && attr(span, "session.id"), name).toBe(sessionId)
        expect(span && attr(span, "pod.id"), name).toBe("pod-1")
      }
      const checkout = useCase("Checkout.startCheckout")
      expect(checkout && attr(checkout, "pod.id")).toBe("pod-1")

      // Nothing secret anywhere in what was sent.
      const everything = receiver.received.map((r) => r.body).join("\n")
      expect(everything).not.toContain(provisioningToken)
      expect(everything).not.toContain(sessionToken)
      expect(everything).not.toContain(METRICS_TOKEN)
      expect(everything).not.toContain("_secret_")
      expect(everything).not.toMatch(/eyJ[\w-]+\.[\w-]+\./)
      expect(everything.toLowerCase()).not.toContain("authorization")
      for (const span of spans) {
        for (const { value } of span.attributes) expect(value.stringValue).not.toBe(doorCode)
      }
    } finally {
      if (!stopped) await service.stop()
    }
  })

  it("on the embedded store, the store's own spans carry the session (and pod) too", async () => {
    const received = receiver.received.length
    const service = await start(platformFromEnv({ QWIP_DATA_DIR: dataDir() }), {
      config: testConfig(quickWorker()),
      telemetry: Telemetry.layer({ otlpEndpoint: Option.some(receiver.url) })
    })
    const api = client(service.url)
    let sessionId = ""
    try {
      const { sessionToken } = await book(api, "demo-pod")
      sessionId = sessionIdOf(sessionToken)
      await eventually(
        () => api.get("/api/provisioning-status", { token: sessionToken }),
        (a) => a.body.status === "ready",
        { timeoutMs: 20_000 }
      )
      expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
    } finally {
      await service.stop()
    }
    const spans = spansOf(
      receiver.received
        .slice(received)
        .filter((r) => r.path === "/v1/traces")
        .map((r) => r.body)
    )
    const store = spans.filter(
      (s) =>
        ["SessionStore.openSession", "SessionStore.commit", "SessionStore.sessionWithPod"].includes(s.name) &&
        attr(s, "session.id") === sessionId
    )
    expect(new Set(store.map((s) => s.name))).toEqual(
      new Set(["SessionStore.openSession", "SessionStore.commit", "SessionStore.sessionWithPod"])
    )
    // A read by session id learns the pod only from its answer; a write knows both.
    for (const span of store.filter((s) => s.name !== "SessionStore.sessionWithPod")) {
      expect(attr(span, "pod.id"), span.name).toBe("demo-pod")
    }
  })

  it("refuses /metrics without the token or with another; counts waiting work, payment events and refusals; 404 while off", async () => {
    const platform = makeTestPlatform()
    const service = await start(platform.layer, {
      runtime: platform.runtime,
      config: testConfig({
        ...quickWorker(false),
        rateLimits: {
          ...defaultHttpConfig.rateLimits,
          sessionLookup: { ...defaultHttpConfig.rateLimits.sessionLookup, limit: 1 }
        }
      }),
      telemetry: Telemetry.layer({ metricsToken: Option.some(Redacted.make(METRICS_TOKEN)) })
    })
    try {
      const api = client(service.url)
      const missing = await api.get("/metrics")
      expect(missing.status).toBe(401)
      expect(missing.body.error).toBe("unauthorized")
      expect((await api.get("/metrics", { token: "not-the-metrics-token-at-all" })).status).toBe(401)
      expect((await api.get("/metrics", { headers: { authorization: `Basic ${METRICS_TOKEN}` } })).status).toBe(401)
      expect((await api.get("/metrics", { token: METRICS_TOKEN })).status).toBe(200)

      // The worker is off here: the booking's work waits, and the gauge says how much.
      await book(api, "pod-1")
      const waiting = platform.store.work().filter((w) => w.status === "pending").length
      expect(waiting).toBeGreaterThan(0)
      const text = String((await api.get("/metrics", { token: METRICS_TOKEN })).body)
      expect(sample(text, "qwip_background_work_waiting")).toBe(waiting)

      // Payment events count by what taking them in did.
      const event = stripeEvent("evt_metrics_1", "customer.created", { id: "cus_1", object: "customer" })
      expect((await deliverStripeEvent(api, event, { secret: WEBHOOK_SECRET })).status).toBe(200)
      expect((await deliverStripeEvent(api, event, { secret: WEBHOOK_SECRET })).status).toBe(200)
      const events = String((await api.get("/metrics", { token: METRICS_TOKEN })).body)
      expect(sample(events, "qwip_payment_webhook_events_total", { result: "not_acted_on" })).toBe(1)
      expect(sample(events, "qwip_payment_webhook_events_total", { result: "already_processed" })).toBe(1)

      // A rate limit's refusals count by the limit that refused.
      expect((await api.get("/api/is-session-complete?session_id=nobody")).status).not.toBe(429)
      expect((await api.get("/api/is-session-complete?session_id=nobody")).status).toBe(429)
      const limited = String((await api.get("/metrics", { token: METRICS_TOKEN })).body)
      expect(sample(limited, "qwip_rate_limit_refusals_total", { bucket: "session-lookup" })).toBe(1)
    } finally {
      await service.stop()
    }

    const { api } = await boot({ config: quickWorker(false) })
    const off = await api.get("/metrics", { token: METRICS_TOKEN })
    expect(off.status).toBe(404)
    expect(off.body.error).toBe("not_found")
  })
})
