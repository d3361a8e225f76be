/**
 * The pay page over HTTP on the in-memory platform with sandbox payments: a charge that needs
 * the customer's authentication is authenticated through the sandbox's stand-in for the 3-D
 * Secure page, confirmed by the page's read-back, recorded paid, and the receipt follows; a
 * declined charge is paid with another test card; bad and expired links are 404 and 410,
 * never 5xx; a paid session has nothing to pay; the sandbox steps are 404 off the sandbox;
 * the page itself is served uncached under a strict Content-Security-Policy.
 */
import { describe, expect, it } from "@effect/vitest"
import { makePayLinks } from "@qwip/adapters"
import type { Message, SessionId } from "@qwip/core"
import { book, type Client, eventually, sessionIdOf } from "@qwip/test-support/Client"
import { boot, dataDir, makeOffsetClock, serve } from "@qwip/test-support/Service"
import { JWT_SECRET, type TestPlatform } from "@qwip/test-support/TestPlatform"
import { Effect, Option, Redacted } from "effect"

const NEEDS_AUTHENTICATION = "4000002760003184"
const DECLINES = "4000000000000341"
const GOOD = "4242424242424242"
const DAY = 86_400_000

/** A pay link for `sessionId` as the platform signs them, expiring `inMs` from the service's now. */
const linkFor = (platform: TestPlatform, sessionId: string, inMs = 14 * DAY) =>
  Effect.runPromise(
    makePayLinks({ secret: Redacted.make(JWT_SECRET), publicUrl: "http://localhost:8000" }).linkFor(
      sessionId as SessionId,
      new Date(platform.clock.clock.unsafeCurrentTimeMillis() + inMs)
    )
  )
const tokenOf = (link: string) => link.slice(link.lastIndexOf("/") + 1)

/** Books `card` on pod-1, waits for the door code, lets `minutes` pass, ends: the session id. */
const bookAndEnd = async (api: Client, platform: TestPlatform, card: string, minutes = 2) => {
  const { sessionToken } = await book(api, "pod-1", card)
  await eventually(
    () => api.get("/api/provisioning-status", { token: sessionToken }),
    (a) => a.body.status !== "pending",
    { timeoutMs: 20_000 }
  )
  platform.clock.advance(`${minutes} minutes`)
  const end = await api.post("/api/end-session", { token: sessionToken })
  expect(end.status, JSON.stringify(end.body)).toBe(200)
  return sessionIdOf(sessionToken)
}

const receiptsFor = (platform: TestPlatform, sessionId: string) =>
  platform.mailer.sent().filter((m: Message) => m._tag === "Receipt" && m.sessionId === sessionId)

describe("the pay page", { timeout: 60_000 }, () => {
  it("bad and expired links answer 404 and 410 with a clear error, never 5xx", async () => {
    const { api, platform } = await boot()
    const sessionId = await bookAndEnd(api, platform, NEEDS_AUTHENTICATION)
    const expired = tokenOf(await linkFor(platform, sessionId, -1000))
    const forged = `${tokenOf(await linkFor(platform, sessionId)).slice(0, -4)}AAAA`
    for (const [token, status, error] of [
      ["not-a-token", 404, "pay_link_invalid"],
      [forged, 404, "pay_link_invalid"],
      [expired, 410, "pay_link_expired"]
    ] as const) {
      const page = await api.get(`/api/pay/${token}`)
      expect(page.status, token).toBe(status)
      expect(page.body).toMatchObject({ error, detail: expect.any(String), request_id: expect.any(String) })
      const confirm = await api.post(`/api/pay/${token}/confirm`, { body: { payment_intent_id: "pi_x" } })
      expect(confirm.status).toBe(status)
      expect(confirm.body.error).toBe(error)
    }
    // A session token is not a pay link.
    const { sessionToken } = await book(api, "pod-2", GOOD)
    expect((await api.get(`/api/pay/${sessionToken}`)).status).toBe(404)
    const missing = await api.post(`/api/pay/${tokenOf(await linkFor(platform, sessionId))}/confirm`, { body: {} })
    expect(missing.status).toBe(400)
  })

  it("authenticate in the sandbox, confirm: paid, the receipt queued, then nothing to pay", async () => {
    const { api, platform } = await boot()
    const sessionId = await bookAndEnd(api, platform, NEEDS_AUTHENTICATION)
    const token = tokenOf(await linkFor(platform, sessionId))

    const page = await api.get(`/api/pay/${token}`)
    expect(page.status, JSON.stringify(page.body)).toBe(200)
    expect(page.body).toMatchObject({
      session_id: sessionId,
      pod_name: "Pod pod-1",
      status: "requires_action",
      provider: "sandbox",
      publishable_key: null
    })
    expect(page.body.amount_pence).toBeGreaterThanOrEqual(12_000)
    expect(page.body.amount).toBe(page.body.amount_pence / 100)
    const pi = page.body.payment_intent_id as string

    const authenticated = await api.post(`/sandbox/payments/${pi}/authenticate`, { body: { result: "succeeded" } })
    expect(authenticated.status, JSON.stringify(authenticated.body)).toBe(200)
    expect(authenticated.body).toMatchObject({ payment_intent_id: pi, status: "succeeded", last_payment_error: null })

    const confirmed = await api.post(`/api/pay/${token}/confirm`, { body: { payment_intent_id: pi } })
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200)
    expect(confirmed.body).toEqual({ status: "paid", session_id: sessionId })

    const receipts = await eventually(
      async () => receiptsFor(platform, sessionId),
      (r) => r.length > 0,
      { timeoutMs: 10_000 }
    )
    expect(receipts[0]).toMatchObject({ basis: "charged", amountPence: page.body.amount_pence })

    const after = await api.get(`/api/pay/${token}`)
    expect(after.status).toBe(409)
    expect(after.body.error).toBe("nothing_to_pay")
    // Only one payment succeeded for the session.
    const succeeded = (await api.get("/sandbox/payments")).body.payments.filter(
      (p: { object: string; status: string; session_id: string | null }) =>
        p.object === "payment_intent" && p.session_id === sessionId && p.status === "succeeded"
    )
    expect(succeeded).toHaveLength(1)
  })

  it("a failed authentication is not paid; the confirm says so and the link still works", async () => {
    const { api, platform } = await boot()
    const sessionId = await bookAndEnd(api, platform, NEEDS_AUTHENTICATION)
    const token = tokenOf(await linkFor(platform, sessionId))
    const pi = (await api.get(`/api/pay/${token}`)).body.payment_intent_id as string
    const failed = await api.post(`/sandbox/payments/${pi}/authenticate`, { body: { result: "failed" } })
    expect(failed.status).toBe(200)
    expect(failed.body.status).toBe("requires_payment_method")
    expect(failed.body.last_payment_error?.code).toBe("authentication_failed")
    const confirmed = await api.post(`/api/pay/${token}/confirm`, { body: { payment_intent_id: pi } })
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200)
    expect(confirmed.body.status).toBe("failed")
    expect(receiptsFor(platform, sessionId)).toEqual([])
    expect((await api.get(`/api/pay/${token}`)).status).toBe(200)
  })

  it("a declined charge is paid with another test card; a declining card is refused first", async () => {
    const { api, platform } = await boot()
    const sessionId = await bookAndEnd(api, platform, DECLINES)
    const token = tokenOf(await linkFor(platform, sessionId))
    const page = await api.get(`/api/pay/${token}`)
    expect(page.status, JSON.stringify(page.body)).toBe(200)
    const pi = page.body.payment_intent_id as string

    const declined = await api.post(`/sandbox/payments/${pi}/pay`, { body: { card: DECLINES } })
    expect(declined.status).toBe(200)
    expect(declined.body.status).toBe("requires_payment_method")
    expect(declined.body.last_payment_error).not.toBeNull()

    const paid = await api.post(`/sandbox/payments/${pi}/pay`, { body: { card: "4242 4242 4242 4242" } })
    expect(paid.status, JSON.stringify(paid.body)).toBe(200)
    expect(paid.body.status).toBe("succeeded")
    const confirmed = await api.post(`/api/pay/${token}/confirm`, { body: { payment_intent_id: pi } })
    expect(confirmed.body).toEqual({ status: "paid", session_id: sessionId })
    await eventually(
      async () => receiptsFor(platform, sessionId),
      (r) => r.length > 0,
      { timeoutMs: 10_000 }
    )
  })

  it("the sandbox steps answer 404 for an unknown PaymentIntent, and off the sandbox", async () => {
    const { api } = await boot()
    const unknown = await api.post("/sandbox/payments/pi_nope/authenticate", { body: { result: "succeeded" } })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toBe("payment_not_found")
    const bad = await api.post("/sandbox/payments/pi_nope/authenticate", { body: { result: "maybe" } })
    expect(bad.status).toBe(400)

    const stripe = await boot({ platformOptions: { sandbox: false } })
    for (const path of ["/sandbox/payments/pi_1/authenticate", "/sandbox/payments/pi_1/pay"]) {
      const r = await stripe.api.post(path, { body: { result: "succeeded", card: GOOD } })
      expect(r.status, path).toBe(404)
      expect(r.body.error).toBe("sandbox_disabled")
    }
  })

  it("with Stripe, hands the page Stripe's publishable key and the PaymentIntent's client secret", async () => {
    const { api, platform } = await boot({
      platformOptions: { sandbox: false },
      config: { stripePublishableKey: Option.some("pk_test_qwip") }
    })
    // The test platform's provider is still the sandbox underneath; without its console the
    // service behaves as with Stripe, so the card is confirmed on the provider directly.
    const setup = await api.post("/api/setup-intent", { body: { pod_id: "pod-1" } })
    const setupIntentId = String(setup.body.client_secret).split("_secret_")[0] as string
    await Effect.runPromise(
      platform.sandbox.confirmSetupIntent(setupIntentId, { cardNumber: NEEDS_AUTHENTICATION, email: "ada@example.com" })
    )
    const finalize = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
    const sessionToken = finalize.body.session_jwt_token as string
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status !== "pending"
    )
    platform.clock.advance("2 minutes")
    expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
    const sessionId = sessionIdOf(sessionToken)
    const page = await api.get(`/api/pay/${tokenOf(await linkFor(platform, sessionId))}`)
    expect(page.status, JSON.stringify(page.body)).toBe(200)
    expect(page.body).toMatchObject({ provider: "stripe", publishable_key: "pk_test_qwip", status: "requires_action" })
    expect(page.body.client_secret).toContain("_secret_")
  })

  it("serves the page for any token, uncached, under a strict Content-Security-Policy", async () => {
    const { running, platform } = await boot()
    const token = tokenOf(await linkFor(platform, "7c8f0a5e-3b1d-4a7e-9c2f-1d2e3f4a5b6c"))
    const response = await fetch(`${running.url}/pay/${token}`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/html")
    expect(response.headers.get("cache-control")).toBe("no-store")
    expect(response.headers.get("referrer-policy")).toBe("no-referrer")
    expect(response.headers.get("content-security-policy")).toContain("default-src 'self'")
    const html = await response.text()
    expect(html).toContain('data-testid="authenticate-complete"')
    expect(html).toContain('"sandbox":true')
    const script = await fetch(`${running.url}${/src="(\/booking\/pay\.js\?v=[^"]+)"/.exec(html)?.[1]}`)
    expect(script.status).toBe(200)
    expect(await script.text()).toContain("confirmCardPayment")
  })
})

describe("the pay link in the payment email (PGlite, the platform from the environment)", { timeout: 90_000 }, () => {
  it("a charge needing authentication emails a link under PUBLIC_URL; following it pays, once", async () => {
    const clock = makeOffsetClock()
    const { api, query } = await serve({ QWIP_DATA_DIR: dataDir(), PUBLIC_URL: "https://pay.qwip.example/" }, { clock })
    const { sessionToken } = await book(api, "demo-pod", NEEDS_AUTHENTICATION)
    const sessionId = sessionIdOf(sessionToken)
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status !== "pending",
      { timeoutMs: 30_000 }
    )
    clock.advance("30 minutes")
    expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)

    type Row = { kind: string; message: { link?: string; sessionId: string }; rendered: { text: string } | null }
    const requests = await eventually(
      async () =>
        (await query<Row>("select kind, message, rendered from email_outbox")).filter(
          (r) => r.kind === "PaymentRequest" && r.message.sessionId === sessionId
        ),
      (rows) => rows.length > 0 && rows[0]?.rendered !== null,
      { timeoutMs: 30_000 }
    )
    const link = requests[0]?.message.link ?? ""
    expect(link).toMatch(/^https:\/\/pay\.qwip\.example\/pay\/[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(requests[0]?.rendered?.text).toContain(link)

    const token = tokenOf(link)
    const page = await api.get(`/api/pay/${token}`)
    expect(page.status, JSON.stringify(page.body)).toBe(200)
    expect(page.body).toMatchObject({ session_id: sessionId, status: "requires_action", provider: "sandbox" })
    const pi = page.body.payment_intent_id as string
    expect((await api.post(`/sandbox/payments/${pi}/authenticate`, { body: { result: "succeeded" } })).status).toBe(200)
    const confirmed = await api.post(`/api/pay/${token}/confirm`, { body: { payment_intent_id: pi } })
    expect(confirmed.body).toEqual({ status: "paid", session_id: sessionId })
    // A second read-back (the page reloaded, or the webhook got there first) records nothing more.
    expect((await api.post(`/api/pay/${token}/confirm`, { body: { payment_intent_id: pi } })).body.status).toBe("paid")
    expect((await api.get(`/api/pay/${token}`)).body.error).toBe("nothing_to_pay")
    const succeeded = (await api.get("/sandbox/payments")).body.payments.filter(
      (p: { object: string; status: string; session_id: string | null }) =>
        p.object === "payment_intent" && p.session_id === sessionId && p.status === "succeeded"
    )
    expect(succeeded).toHaveLength(1)
    await eventually(
      async () => (await query<Row>("select kind, message from email_outbox")).filter((r) => r.kind === "Receipt"),
      (rows) => rows.some((r) => r.message.sessionId === sessionId),
      { timeoutMs: 30_000 }
    )
  })
})
