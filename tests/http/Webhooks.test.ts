/**
 * Black-box: Stripe webhooks on the embedded platform, stored once per event id in the store.
 */
import { describe, expect, it } from "@effect/vitest"
import { StoreRecords } from "@qwip/adapters"
import { type SessionId, SessionStore, Worker } from "@qwip/core"
import { Effect, Logger, LogLevel, Option } from "effect"
import { book, type Client, eventually, sessionIdOf } from "./support/Client.js"
import { dataDir, makeOffsetClock, platform, serve, WEBHOOK_SECRET } from "./support/Service.js"
import { deliverStripeEvent, stripeEvent } from "./support/StripeEvents.js"

const deliver = (api: Client, payload: unknown, options: { secret?: string; timestamp?: number } = {}) =>
  deliverStripeEvent(api, payload, { ...options, secret: options.secret ?? WEBHOOK_SECRET })
const event = stripeEvent

describe("Stripe webhooks on the embedded platform", () => {
  it("finalizes from the webhook alone, once; refuses bad and stale signatures; acknowledges other types", {
    timeout: 60_000
  }, async () => {
    const { api } = await serve({ QWIP_DATA_DIR: dataDir() })
    const setup = await api.post("/api/setup-intent", { body: { pod_id: "demo-pod" } })
    const setupIntentId = String(setup.body.client_secret).split("_secret_")[0] as string
    await api.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, { body: { card_number: "4242424242424242" } })

    const succeeded = event("evt_e2e_1", "setup_intent.succeeded", {
      id: setupIntentId,
      object: "setup_intent",
      metadata: { pod_id: "demo-pod" }
    })
    expect(await deliver(api, succeeded)).toMatchObject({ status: 200, body: { status: "success" } })
    expect((await api.get("/api/pod?pod_id=demo-pod")).body.in_use).toBe(true)
    expect((await deliver(api, succeeded)).status).toBe(200)

    // The client's finalize arrives after the webhook: same session.
    const first = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
    const second = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
    expect(first.status).toBe(200)
    expect(sessionIdOf(second.body.session_jwt_token)).toBe(sessionIdOf(first.body.session_jwt_token))

    const other = event("evt_e2e_2", "customer.created", { id: "cus_1", object: "customer" })
    expect((await deliver(api, other)).status).toBe(200)
    const bad = await deliver(api, other, { secret: "whsec_not_ours" })
    expect(bad).toMatchObject({ status: 400, body: { error: "invalid_signature" } })
    const stale = await deliver(api, other, { timestamp: Math.floor(Date.now() / 1000) - 3600 })
    expect(stale).toMatchObject({ status: 400, body: { error: "invalid_signature" } })
  })

  it("refuses future-dated signatures and signed bodies that are not events", { timeout: 60_000 }, async () => {
    const { api, query } = await serve({ QWIP_DATA_DIR: dataDir() })
    const other = event("evt_e2e_3", "customer.created", { id: "cus_1", object: "customer" })
    const future = await deliver(api, other, { timestamp: Math.floor(Date.now() / 1000) + 3600 })
    expect(future).toMatchObject({ status: 400, body: { error: "invalid_signature" } })
    const { id: _, ...noId } = other
    expect(await deliver(api, noId)).toMatchObject({ status: 400, body: { error: "invalid_event" } })
    expect(await deliver(api, [other])).toMatchObject({ status: 400, body: { error: "invalid_event" } })
    // Text no store can keep, correctly signed: refused before the store sees it, not a 500 Stripe retries.
    const nul = event("evt_e2e_nul", "customer.created", { id: "cus_1", object: "customer", name: "a\u0000b" })
    expect(await deliver(api, nul)).toMatchObject({ status: 400, body: { error: "invalid_event" } })
    const stored = await query("select count(*)::int as n from stripe_webhook_events")
    expect(stored[0]?.n).toBe(0)
  })

  it("a payment the session did not ask for leaves it unpaid and is told to staff once", {
    timeout: 60_000
  }, async () => {
    const env = { QWIP_DATA_DIR: dataDir() }
    const clock = makeOffsetClock()
    const { api, stop } = await serve(env, { clock })
    const { sessionToken } = await book(api, "demo-pod", "4000000000000341") // the charge is declined
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "ready",
      { timeoutMs: 30_000 }
    )
    clock.advance("10 minutes") // 500p at the demo pod's 50p a minute
    expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
    const sessionId = sessionIdOf(sessionToken) as SessionId
    const stranger = event("evt_e2e_stranger", "payment_intent.succeeded", {
      id: "pi_not_ours",
      object: "payment_intent",
      amount_received: 100_000,
      currency: "gbp",
      customer: "cus_someone_else",
      metadata: { session_id: sessionId }
    })
    // Signed on the service's (moved) clock, or the signature would look 10 minutes old.
    const signedAt = { timestamp: Math.floor(Date.now() / 1000) + 600 }
    expect(await deliver(api, stranger, signedAt)).toMatchObject({ status: 200, body: { status: "success" } })
    expect((await deliver(api, stranger, signedAt)).status).toBe(200)
    await stop()

    // The store as staff tools see it, after the service stopped.
    const seen = await Effect.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < 10; i++) if ((yield* Worker.runDueWork("test", 10)).claimed === 0) break
        const session = yield* Effect.flatMap(SessionStore, (s) => s.session(sessionId))
        const outbox = yield* Effect.flatMap(StoreRecords, (r) => r.listOutbox(50))
        return { session, keys: outbox.map((e) => e.messageKey) }
      }).pipe(Effect.provide(platform(env)), Logger.withMinimumLogLevel(LogLevel.Warning))
    )
    const state = Option.getOrThrow(seen.session).state
    expect(state._tag === "Ended" && state.outcome._tag).toBe("PaymentFailed")
    expect(seen.keys.filter((k) => k.includes("unexpected_payment"))).toEqual([
      `PaymentProblem:${sessionId}:unexpected_payment:pi_not_ours`
    ])
  })
})
