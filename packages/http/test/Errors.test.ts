/**
 * Every error path answers JSON `{detail, error, request_id}` with the status the contract gives:
 * client mistakes are 4xx naming the field or reason, and tokens are refused as today.
 */
import { describe, expect, it } from "@effect/vitest"
import { defaultHttpConfig } from "@qwip/http"
import { type Answer, book, eventually, sessionIdOf } from "@qwip/test-support/Client"
import { boot } from "@qwip/test-support/Service"
import { JWT_SECRET } from "@qwip/test-support/TestPlatform"
import { Duration } from "effect"
import { SignJWT } from "jose"

const expectProblem = (answer: Answer, status: number, error: string, detail?: RegExp) => {
  expect({ status: answer.status, error: answer.body?.error }).toEqual({ status, error })
  expect(typeof answer.body.detail).toBe("string")
  expect(answer.body.request_id).toBe(answer.headers.get("x-request-id"))
  if (detail !== undefined) expect(answer.body.detail).toMatch(detail)
}

describe("errors", () => {
  it("setup-intent: malformed JSON, missing field, unknown pod, pod in use, oversized body", async () => {
    const { api } = await boot()
    expectProblem(
      await api.post("/api/setup-intent", { raw: "{not json", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json"
    )
    expectProblem(await api.post("/api/setup-intent", { body: {} }), 400, "invalid_request", /pod_id/)
    expectProblem(await api.post("/api/setup-intent", { body: { pod_id: "   " } }), 400, "invalid_request", /pod_id/)
    expectProblem(await api.post("/api/setup-intent", { body: { pod_id: "pod-9" } }), 404, "pod_not_found", /pod-9/)
    await book(api, "pod-2")
    expectProblem(await api.post("/api/setup-intent", { body: { pod_id: "pod-2" } }), 409, "pod_in_use", /pod-2/)
    const big = JSON.stringify({ pod_id: "pod-1", padding: "x".repeat(200_000) })
    expectProblem(
      await api.post("/api/setup-intent", { raw: big, headers: { "content-type": "application/json" } }),
      413,
      "body_too_large"
    )
  })

  it("text the store cannot keep, deep JSON and other content types: 4xx naming the field, nothing booked", async () => {
    const { api } = await boot()
    const json = { "content-type": "application/json" }
    expectProblem(await api.get("/api/pod?pod_id=a%00b"), 400, "invalid_request", /^pod_id: .*NUL/)
    expectProblem(
      await api.post("/api/setup-intent", { body: { pod_id: "a\u0000b" } }),
      400,
      "invalid_request",
      /^pod_id:/
    )
    expectProblem(
      await api.post("/api/setup-intent", { raw: '{"pod_id": "pod-1\\ud800"}', headers: json }),
      400,
      "invalid_request",
      /^pod_id: .*surrogate/
    )
    const confirm = (id: string, body: object) => api.post(`/sandbox/setup-intents/${id}/confirm`, { body })
    expectProblem(await confirm("seti%00x", { card_number: "4242424242424242" }), 400, "invalid_request", /^id:/)
    expectProblem(
      await confirm("seti_1", { card_number: "4242424242424242", email: "ada\u0000@example.com" }),
      400,
      "invalid_request",
      /^email:/
    )
    const deep = `{"pod_id": ${"[".repeat(3000)}${"]".repeat(3000)}}`
    expectProblem(
      await api.post("/api/setup-intent", { raw: deep, headers: json }),
      400,
      "invalid_request",
      /^body: .*64/
    )
    expectProblem(await api.post("/api/setup-intent", { body: ["pod-1"] }), 400, "invalid_request", /^body:/)
    expectProblem(
      await api.post("/api/setup-intent", {
        raw: "pod_id=pod-1",
        headers: { "content-type": "application/x-www-form-urlencoded" }
      }),
      415,
      "unsupported_media_type",
      /application\/json/
    )
    expectProblem(
      await api.post("/api/setup-intent", { raw: "--x--", headers: { "content-type": "multipart/form-data" } }),
      415,
      "unsupported_media_type"
    )
    expect((await api.get("/api/pod?pod_id=pod-1")).body.in_use).toBe(false)
    expect((await api.get("/sandbox/payments")).body.payments).toEqual([])
  })

  it("headers or a URL over Node's limit: 431 with the problem body", async () => {
    const { api } = await boot()
    for (const answer of [
      await api.get(`/api/pod?pod_id=${"a".repeat(20_000)}`),
      await api.get("/api/pods", { headers: { "x-pad": "a".repeat(20_000) } })
    ]) {
      expect({ status: answer.status, error: answer.body?.error }).toEqual({ status: 431, error: "headers_too_large" })
      expect(answer.body.detail).toMatch(/16 KB/)
      expect(answer.body.request_id).toBe(answer.headers.get("x-request-id"))
    }
  })

  it("an oversized body sent without Content-Length is cut off at the limit", async () => {
    const { running, api } = await boot({ config: { maxJsonBytes: 1024 } })
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"pod_id": "pod-1", "x": "${"y".repeat(64 * 1024)}"}`))
        controller.close()
      }
    })
    // Reading stops at the limit and Node drops the connection (there is no way to answer and
    // keep the unread body); with a Content-Length the answer is a 413 before any reading.
    const outcome = await fetch(`${running.url}/api/setup-intent`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half"
    } as RequestInit).then(
      (r) => r.status,
      () => "connection closed"
    )
    expect([413, "connection closed"]).toContain(outcome)
    expect((await api.get("/api/pod?pod_id=pod-1")).body.in_use).toBe(false)
  })

  it("bearer tokens: missing, malformed, wrong scheme, wrong scope, bad signature, expired", async () => {
    const { api, platform } = await boot()
    expectProblem(await api.post("/api/booking/finalize"), 403, "token_missing")
    expectProblem(
      await api.post("/api/booking/finalize", { headers: { authorization: "Basic abc" } }),
      403,
      "token_malformed"
    )
    expectProblem(await api.post("/api/booking/finalize", { token: "not-a-jwt" }), 403, "token_malformed")
    expectProblem(await api.get("/api/get-session-data"), 403, "token_missing")

    const setup = await api.post("/api/setup-intent", { body: { pod_id: "pod-1" } })
    const provisioningToken = setup.body.provisioning_jwt_token as string
    expectProblem(await api.get("/api/get-session-data", { token: provisioningToken }), 401, "token_wrong_scope")
    const [h, p, s] = provisioningToken.split(".")
    const tampered = `${h}.${p}.${(s ?? "").slice(0, -4)}AAAA`
    expectProblem(await api.post("/api/booking/finalize", { token: tampered }), 401, "token_invalid")
    expectProblem(await api.post("/api/booking/finalize", { token: provisioningToken }), 409, "card_not_set_up")

    platform.clock.advance("11 minutes")
    expectProblem(await api.post("/api/booking/finalize", { token: provisioningToken }), 401, "token_expired")
  })

  it("a token of ours that is not valid yet (nbf in the future) is 401 token_not_yet_valid, not malformed", async () => {
    const { api } = await boot()
    const { sessionToken } = await book(api, "pod-1")
    const nowSeconds = Math.floor(Date.now() / 1000)
    const early = await new SignJWT({ session: { session_id: sessionIdOf(sessionToken) } })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("qwip-platform")
      .setAudience("qwip-app")
      .setNotBefore(nowSeconds + 3600)
      .setExpirationTime(nowSeconds + 7200)
      .sign(new TextEncoder().encode(JWT_SECRET))
    expectProblem(await api.get("/api/get-session-data", { token: early }), 401, "token_not_yet_valid", /not valid yet/)
  })

  it("a session token reads the session after it ended but causes nothing new", async () => {
    const { api } = await boot()
    const { sessionToken } = await book(api, "pod-1")
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "ready"
    )
    expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
    expectProblem(await api.post("/api/end-session", { token: sessionToken }), 409, "session_already_ended")
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])
    const form = new FormData()
    form.append("photo", new Blob([png], { type: "image/png" }), "pod.png")
    expectProblem(
      await api.post("/api/session/upload-checkout-photo", { token: sessionToken, raw: form }),
      409,
      "session_already_ended"
    )
    expect((await api.get("/api/get-session-data", { token: sessionToken })).status).toBe(200)
  })

  it("session lookups: neither token nor id, a malformed id, an unknown id", async () => {
    const { api } = await boot()
    expectProblem(await api.get("/api/end-session-preview"), 403, "token_missing")
    expectProblem(await api.get("/api/is-session-complete?session_id=12"), 400, "invalid_request", /session_id/)
    expectProblem(
      await api.get("/api/is-session-complete?session_id=6f1d3c52-1b7a-4c1e-9d59-0d2b8a1c9e11"),
      404,
      "session_not_found"
    )
    expectProblem(await api.get("/api/pod"), 400, "invalid_request", /pod_id/)
    expectProblem(await api.get("/api/pod?pod_id=nope"), 404, "pod_not_found")
  })

  it("unknown routes, deprecated endpoints and disabled sandbox answer in the same shape", async () => {
    const { api } = await boot({ platformOptions: { sandbox: false } })
    expectProblem(await api.get("/api/nothing-here"), 404, "not_found")
    expectProblem(await api.get("/api/create-setup-intent"), 410, "gone", /setup-intent/)
    expectProblem(await api.post("/api/confirm-booking", { body: { setup_intent_id: "seti_1" } }), 410, "gone")
    expectProblem(await api.get("/sandbox/payments"), 404, "sandbox_disabled")
    expectProblem(
      await api.post("/sandbox/setup-intents/seti_1/confirm", { body: { card_number: "4242424242424242" } }),
      404,
      "sandbox_disabled"
    )
  })

  it("rate limits: setup-intent is the tightest, session_id lookups too; 429 with Retry-After", async () => {
    const { api } = await boot({
      config: {
        rateLimits: {
          ...defaultHttpConfig.rateLimits,
          setupIntent: { limit: 2, window: Duration.minutes(10) },
          sessionLookup: { limit: 3, window: Duration.minutes(1) }
        }
      }
    })
    expect((await api.post("/api/setup-intent", { body: { pod_id: "pod-9" } })).status).toBe(404)
    expect((await api.post("/api/setup-intent", { body: { pod_id: "pod-9" } })).status).toBe(404)
    const limited = await api.post("/api/setup-intent", { body: { pod_id: "pod-1" } })
    expectProblem(limited, 429, "rate_limited")
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    expect((await api.get("/api/pod?pod_id=pod-1")).status).toBe(200)

    const id = "6f1d3c52-1b7a-4c1e-9d59-0d2b8a1c9e11"
    for (let i = 0; i < 3; i++) expect((await api.get(`/api/is-session-complete?session_id=${id}`)).status).toBe(404)
    expectProblem(await api.get(`/api/end-session-preview?session_id=${id}`), 429, "rate_limited")
  })

  it("finalize for a pod taken in the meantime is a 409, and a session id never unlocks another session", async () => {
    const { api } = await boot()
    const first = await api.post("/api/setup-intent", { body: { pod_id: "pod-1" } })
    const second = await api.post("/api/setup-intent", { body: { pod_id: "pod-1" } })
    for (const s of [first, second]) {
      const id = String(s.body.client_secret).split("_secret_")[0]
      await api.post(`/sandbox/setup-intents/${id}/confirm`, { body: { card_number: "4242424242424242" } })
    }
    const a = await api.post("/api/booking/finalize", { token: first.body.provisioning_jwt_token })
    expect(a.status).toBe(200)
    expectProblem(
      await api.post("/api/booking/finalize", { token: second.body.provisioning_jwt_token }),
      409,
      "pod_in_use"
    )
    expect(sessionIdOf(a.body.session_jwt_token)).toMatch(/^[0-9a-f-]{36}$/)
  })
})
