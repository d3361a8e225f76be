/**
 * Operations: health and readiness, generated OpenAPI and docs, CORS, request ids, one JSON log
 * line per request with no tokens in it, the pod list and lock status.
 */
import { describe, expect, it } from "@effect/vitest"
import { book, eventually } from "@qwip/test-support/Client"
import { boot } from "@qwip/test-support/Service"

describe("operations", () => {
  it("healthz is alive; readyz reports the store's readiness", async () => {
    const { api } = await boot()
    expect(await api.get("/healthz")).toMatchObject({ status: 200, body: { status: "ok" } })
    expect(await api.get("/readyz")).toMatchObject({ status: 200, body: { status: "ready" } })
    const notReady = await boot({ platformOptions: { ready: false } })
    const answer = await notReady.api.get("/readyz")
    expect(answer.status).toBe(503)
    expect(answer.body).toMatchObject({ error: "not_ready", detail: "Not ready: migrations pending" })
  })

  it("serves /openapi.json and /docs generated from the API definition", async () => {
    const { api } = await boot()
    const spec = await api.get("/openapi.json")
    expect(spec.status).toBe(200)
    expect(spec.body.info.title).toBe("Qwip booking API")
    for (const path of [
      "/api/setup-intent",
      "/api/pod",
      "/api/pods",
      "/api/booking/finalize",
      "/api/provisioning-status",
      "/api/get-session-data",
      "/api/end-session-preview",
      "/api/is-session-complete",
      "/api/lock-status",
      "/api/session/upload-checkout-photo",
      "/api/end-session",
      "/webhook/stripe",
      "/healthz",
      "/readyz"
    ]) {
      expect(Object.keys(spec.body.paths)).toContain(path)
    }
    const finalize = spec.body.paths["/api/booking/finalize"].post
    expect(Object.keys(finalize.responses)).toEqual(expect.arrayContaining(["200", "401", "403", "409"]))
    expect(finalize.security).toBeDefined()
    expect(JSON.stringify(spec.body.components)).toContain("request_id")
    const docs = await fetch(`${(await boot()).running.url}/docs`)
    expect(docs.status).toBe(200)
    expect(docs.headers.get("content-type")).toContain("text/html")
  })

  it("lists pods, and lock status is 'locked' in static-code mode", async () => {
    const { api } = await boot()
    await book(api, "pod-2")
    const listing = await api.get("/api/pods")
    expect(listing.status).toBe(200)
    expect(listing.body.pods).toEqual(
      expect.arrayContaining([
        { id: "pod-1", name: "Pod pod-1", address: "1 Test Street, London", price_per_minute: 60, in_use: false },
        { id: "pod-2", name: "Pod pod-2", address: "1 Test Street, London", price_per_minute: 0.5, in_use: true }
      ])
    )
    expect((await api.get("/api/lock-status?device_id=anything")).body).toEqual({ is_locked: true })
  })

  it("asks the lock when the platform has one, and only for a pod's device", async () => {
    const { api } = await boot({ platformOptions: { locks: "seam" } })
    expect((await api.get("/api/lock-status?device_id=device-1")).body).toEqual({ is_locked: true })
    const unknown = await api.get("/api/lock-status?device_id=device-9")
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toBe("device_not_found")
  })

  it("CORS: any origin by default; only listed origins when CORS_ORIGINS is set", async () => {
    const open = await boot()
    const any = await open.api.get("/api/pods", { headers: { origin: "https://example.com" } })
    expect(any.headers.get("access-control-allow-origin")).toBe("*")

    const closed = await boot({ config: { corsOrigins: ["https://qwip.co.uk", "https://app.qwip.co.uk"] } })
    const allowed = await closed.api.send("OPTIONS", "/api/setup-intent", {
      headers: { origin: "https://qwip.co.uk", "access-control-request-method": "POST" }
    })
    expect(allowed.status).toBe(204)
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://qwip.co.uk")
    const refused = await closed.api.get("/api/pods", { headers: { origin: "https://evil.example" } })
    expect(refused.headers.get("access-control-allow-origin")).toBeNull()
  })

  it("echoes a well-formed X-Request-ID and makes one otherwise", async () => {
    const { api } = await boot()
    const given = await api.get("/api/pod?pod_id=nope", { headers: { "x-request-id": "req-123" } })
    expect(given.headers.get("x-request-id")).toBe("req-123")
    expect(given.body.request_id).toBe("req-123")
    const made = await api.get("/healthz", { headers: { "x-request-id": "bad id with spaces" } })
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
  })

  it("logs one JSON line per request, without tokens, card numbers or door codes", async () => {
    const { api, platform } = await boot()
    const { sessionToken, provisioningToken } = await book(api, "pod-1")
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "ready"
    )
    await api.get("/api/get-session-data", { token: sessionToken })
    await api.get("/api/pod?pod_id=pod-1", { headers: { "x-request-id": "trace-me" } })

    const lines = platform.logs.map((l) => JSON.parse(l))
    const requests = lines.filter((l) => l.message === "request")
    const traced = requests.filter((l) => l.annotations.request_id === "trace-me")
    expect(traced).toHaveLength(1)
    expect(traced[0].annotations).toMatchObject({ method: "GET", path: "/api/pod", status: 200 })
    expect(typeof traced[0].annotations.duration_ms).toBe("number")
    const all = platform.logs.join("\n")
    for (const secret of [sessionToken, provisioningToken, "4242424242424242", "04726"]) {
      expect(all).not.toContain(secret)
    }
    // Paths are logged without their query strings.
    expect(requests.every((l) => !String(l.annotations.path).includes("?"))).toBe(true)
  })
})
