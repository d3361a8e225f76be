/**
 * Error reports (`SENTRY_DSN`) end to end: a local stand-in for Sentry's envelope endpoint gets
 * a report for a 500 (a store fault during finalize) tagged with its request id, and none for
 * the 4xx answers around it; nothing secret is in what it gets.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { start, Telemetry } from "@qwip/http"
import { client, eventually } from "@qwip/test-support/Client"
import { quickWorker } from "@qwip/test-support/Service"
import { makeTestPlatform, testConfig } from "@qwip/test-support/TestPlatform"
import { Option, Redacted } from "effect"

/** Sentry's envelope endpoint, keeping each envelope's text. */
const startSentry = async () => {
  const envelopes: Array<{ readonly path: string; readonly body: string }> = []
  const server: Server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      envelopes.push({ path: request.url ?? "", body: Buffer.concat(chunks).toString("utf8") })
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    dsn: `http://publickey@127.0.0.1:${port}/42`,
    envelopes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/** The event items of the envelopes (each envelope: a header line, then item header and item lines). */
const eventsOf = (bodies: ReadonlyArray<string>) =>
  bodies.flatMap((body) => {
    const lines = body.split("\n").filter((l) => l.length > 0)
    const events: Array<{ tags?: Record<string, string>; exception?: unknown }> = []
    for (let i = 1; i + 1 < lines.length; i += 2) {
      if (JSON.parse(lines[i] as string).type === "event") events.push(JSON.parse(lines[i + 1] as string))
    }
    return events
  })

describe("error reports to Sentry", { timeout: 30_000 }, () => {
  let sentry: Awaited<ReturnType<typeof startSentry>>
  beforeAll(async () => {
    sentry = await startSentry()
  })
  afterAll(async () => {
    await sentry.close()
  })

  it("reports a 500 with its request id, and no 4xx", async () => {
    const platform = makeTestPlatform()
    const service = await start(platform.layer, {
      runtime: platform.runtime,
      config: testConfig(quickWorker(false)),
      telemetry: Telemetry.layer({ sentryDsn: Option.some(Redacted.make(sentry.dsn)) })
    })
    const api = client(service.url)
    try {
      // Answers that are the client's business are not reported.
      expect((await api.get("/api/pod?pod_id=no-such-pod")).status).toBe(404)
      expect((await api.post("/api/booking/finalize", { token: "not-a-token" })).status).toBe(403)

      const setup = await api.post("/api/setup-intent", { body: { pod_id: "pod-1" } })
      const setupIntentId = String(setup.body.client_secret).split("_secret_")[0]
      await api.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, {
        body: { card_number: "4242424242424242", email: "ada@example.com" }
      })
      platform.store.faults.arm("openSession", "before")
      const failed = await api.post("/api/booking/finalize", {
        token: setup.body.provisioning_jwt_token,
        headers: { "x-request-id": "req-sentry-1" }
      })
      expect(failed.status).toBe(500)
      expect(failed.body.request_id).toBe("req-sentry-1")

      const events = await eventually(
        async () => eventsOf(sentry.envelopes.map((e) => e.body)),
        (found) => found.length > 0
      )
      expect(sentry.envelopes.every((e) => e.path.startsWith("/api/42/envelope/"))).toBe(true)
      expect(events).toHaveLength(1)
      expect(events[0]?.tags).toMatchObject({
        request_id: "req-sentry-1",
        method: "POST",
        path: "/api/booking/finalize",
        status: "500"
      })
      const sent = sentry.envelopes.map((e) => e.body).join("\n")
      expect(sent).toContain("InjectedFault")
      expect(sent).not.toContain(setup.body.provisioning_jwt_token)
      expect(sent).not.toContain("_secret_")
    } finally {
      await service.stop()
    }
    // Stopping flushed nothing more: still the one report.
    expect(eventsOf(sentry.envelopes.map((e) => e.body))).toHaveLength(1)
  })
})
