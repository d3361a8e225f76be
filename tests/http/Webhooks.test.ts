/**
 * `POST /webhook/stripe`, signed as Stripe signs (the SDK's test header). In memory, where the
 * platform's state can be read directly: valid, duplicate, bad signature, stale and future
 * timestamps, a signed body that is not an event, unknown type, the webhook-only finalize, a
 * failure Stripe retries, a late charge outcome settling an ended session, and a payment the
 * session did not ask for. On the embedded store, what the store itself decides: an event kept
 * once per id, text no store can keep refused before it is stored, and staff told once.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { StoreRecords } from "@qwip/adapters"
import { type SessionId, SessionStore, Worker } from "@qwip/core"
import { book, type Client, eventually, sessionIdOf } from "@qwip/test-support/Client"
import { boot, dataDir, makeOffsetClock, platform, serve } from "@qwip/test-support/Service"
import { deliverStripeEvent, stripeEvent } from "@qwip/test-support/StripeEvents"
import { WEBHOOK_SECRET } from "@qwip/test-support/TestPlatform"
import { Effect, Logger, LogLevel, Option } from "effect"
import Stripe from "stripe"

let seq = 0
const event = (type: string, object: Record<string, unknown>, id = `evt_test_${++seq}`) => stripeEvent(id, type, object)

const deliver = (
  api: Client,
  payload: unknown,
  options: { secret?: string; timestamp?: number; signature?: string | null } = {}
) => {
  const body = JSON.stringify(payload)
  const signature =
    options.signature === undefined
      ? Stripe.webhooks.generateTestHeaderString({
          payload: body,
          secret: options.secret ?? WEBHOOK_SECRET,
          ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp })
        })
      : options.signature
  return api.post("/webhook/stripe", {
    raw: body,
    headers: { "content-type": "application/json", ...(signature === null ? {} : { "stripe-signature": signature }) }
  })
}

const setUpCard = async (api: Client, podId: string, card = "4242424242424242") => {
  const setup = await api.post("/api/setup-intent", { body: { pod_id: podId } })
  const setupIntentId = String(setup.body.client_secret).split("_secret_")[0] as string
  await api.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, { body: { card_number: card } })
  return { setupIntentId, provisioningToken: setup.body.provisioning_jwt_token as string }
}

const setupSucceeded = (setupIntentId: string, podId: string, id?: string) =>
  event("setup_intent.succeeded", { id: setupIntentId, object: "setup_intent", metadata: { pod_id: podId } }, id)

describe("[memory] Stripe webhooks", () => {
  it("finalizes a booking from setup_intent.succeeded alone; a duplicate changes nothing", async () => {
    const { api, platform } = await boot()
    const { setupIntentId, provisioningToken } = await setUpCard(api, "pod-1")
    const payload = setupSucceeded(setupIntentId, "pod-1")

    const first = await deliver(api, payload)
    expect(first.status).toBe(200)
    expect(first.body).toEqual({ status: "success" })
    expect((await api.get("/api/pod?pod_id=pod-1")).body.in_use).toBe(true)
    expect(platform.store.sessions()).toHaveLength(1)

    const again = await deliver(api, payload)
    expect(again.status).toBe(200)
    expect(platform.store.sessions()).toHaveLength(1)
    expect(platform.webhookEvents.get(payload.id)).toMatchObject({ status: "processed", deliveries: 2 })

    // The client's own finalize, arriving late, gets the session the webhook opened.
    const finalize = await api.post("/api/booking/finalize", { token: provisioningToken })
    expect(finalize.status).toBe(200)
    expect(sessionIdOf(finalize.body.session_jwt_token)).toBe(platform.store.sessions()[0]?.id)
  })

  it("refuses a bad signature, a missing one and a stale timestamp with 400", async () => {
    const { api } = await boot()
    const payload = event("customer.created", { id: "cus_1", object: "customer" })
    const bad = await deliver(api, payload, { secret: "whsec_someone_else" })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toBe("invalid_signature")
    expect(bad.body.detail).toMatch(/does not match/)

    const missing = await deliver(api, payload, { signature: null })
    expect(missing.status).toBe(400)
    expect(missing.body.detail).toMatch(/Stripe-Signature/)

    const stale = await deliver(api, payload, { timestamp: Math.floor(Date.now() / 1000) - 3600 })
    expect(stale.status).toBe(400)
    expect(stale.body.error).toBe("invalid_signature")
    expect(stale.body.detail).toMatch(/old/)

    const future = await deliver(api, payload, { timestamp: Math.floor(Date.now() / 1000) + 3600 })
    expect(future.status).toBe(400)
    expect(future.body.error).toBe("invalid_signature")
    expect(future.body.detail).toMatch(/in the future/)
  })

  it("refuses a correctly signed body with no event id, or a JSON array, with 400 and stores nothing", async () => {
    const { api, platform } = await boot()
    const { id: _, ...noId } = event("customer.created", { id: "cus_1", object: "customer" })
    const missing = await deliver(api, noId)
    expect(missing.status).toBe(400)
    expect(missing.body).toMatchObject({ error: "invalid_event", detail: expect.stringMatching(/no event id/) })

    const array = await deliver(api, [event("customer.created", { id: "cus_1", object: "customer" })])
    expect(array.status).toBe(400)
    expect(array.body).toMatchObject({ error: "invalid_event", detail: expect.stringMatching(/JSON array/) })
    expect(platform.webhookEvents.size).toBe(0)
  })

  it("stores and acknowledges event types it does not act on", async () => {
    const { api, platform } = await boot()
    const payload = event("customer.created", { id: "cus_1", object: "customer" })
    const answer = await deliver(api, payload)
    expect(answer.status).toBe(200)
    expect(platform.webhookEvents.get(payload.id)).toMatchObject({ type: "customer.created", status: "processed" })
  })

  it("answers 500 when processing fails, so Stripe retries; the retry applies it", async () => {
    const { api, platform } = await boot()
    const { setupIntentId } = await setUpCard(api, "pod-2")
    const payload = setupSucceeded(setupIntentId, "pod-2")
    platform.store.faults.arm("openSession", "before")
    const failed = await deliver(api, payload)
    expect(failed.status).toBe(500)
    expect(failed.body.error).toBe("webhook_failed")
    expect(platform.webhookEvents.get(payload.id)?.status).toBe("failed")
    expect(platform.store.sessions()).toHaveLength(0)

    const retried = await deliver(api, payload)
    expect(retried.status).toBe(200)
    expect(platform.webhookEvents.get(payload.id)?.status).toBe("processed")
    expect(platform.store.sessions()).toHaveLength(1)
  })

  /** A session on pod-1 whose charge was declined: its id, declined PaymentIntent and quoted amount. */
  const declinedSession = async (api: Client, platform: Awaited<ReturnType<typeof boot>>["platform"]) => {
    const { sessionToken } = await book(api, "pod-1", "4000000000000341")
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "ready"
    )
    platform.clock.advance("2 minutes")
    expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
    const sessionId = sessionIdOf(sessionToken)
    const ended = platform.store.sessions().find((s) => s.id === sessionId)
    if (ended?.state._tag !== "Ended" || ended.state.outcome._tag !== "PaymentFailed") {
      throw new Error(`expected a declined charge, got ${JSON.stringify(ended?.state)}`)
    }
    const paymentIntentId = ended.state.outcome.paymentIntentId
    if (paymentIntentId._tag === "None") throw new Error("the declined charge has no PaymentIntent")
    return {
      sessionId,
      paymentIntentId: paymentIntentId.value,
      amount: ended.state.quote.chargePence,
      outcome: () => {
        const now = platform.store.sessions().find((s) => s.id === sessionId)
        return now?.state._tag === "Ended" ? now.state.outcome._tag : now?.state._tag
      }
    }
  }

  const intentSucceeded = (paymentIntentId: string, amount: number, sessionId: string) =>
    event("payment_intent.succeeded", {
      id: paymentIntentId,
      object: "payment_intent",
      amount_received: amount,
      currency: "gbp",
      metadata: { session_id: sessionId }
    })

  it("a late payment_intent.succeeded for the session's own charge settles it as paid", async () => {
    const { api, platform } = await boot()
    const { sessionId, paymentIntentId, amount, outcome } = await declinedSession(api, platform)
    expect((await deliver(api, intentSucceeded(paymentIntentId, amount, sessionId))).status).toBe(200)
    expect(outcome()).toBe("Paid")
  })

  it("a payment the session did not ask for is acknowledged, leaves it unpaid, and staff are told", async () => {
    const { api, platform } = await boot()
    const { sessionId, paymentIntentId, amount, outcome } = await declinedSession(api, platform)

    const stranger = intentSucceeded("pi_not_ours", amount, sessionId)
    // 200: Stripe must not retry what would be refused again.
    expect(await deliver(api, stranger)).toMatchObject({ status: 200, body: { status: "success" } })
    expect(outcome()).toBe("PaymentFailed")
    expect(platform.webhookEvents.get(stranger.id)).toMatchObject({
      status: "processed",
      error: `PaymentIntent pi_not_ours is not the session's charge (${paymentIntentId})`
    })

    const short = intentSucceeded(paymentIntentId, amount - 1, sessionId)
    expect((await deliver(api, short)).status).toBe(200)
    expect(outcome()).toBe("PaymentFailed")

    const told = await eventually(
      async () =>
        platform.mailer.sent().filter((m) => m._tag === "PaymentProblem" && m.problem === "unexpected_payment"),
      (alerts) => alerts.length === 2
    )
    expect(told.map((m) => m._tag === "PaymentProblem" && m.paymentIntentId).sort()).toEqual(
      [paymentIntentId, "pi_not_ours"].sort()
    )
  })
})

describe("[pglite] Stripe webhooks kept in the store", { timeout: 60_000 }, () => {
  let api: Client
  let query: Awaited<ReturnType<typeof serve>>["query"]
  beforeAll(async () => {
    ;({ api, query } = await serve({ QWIP_DATA_DIR: dataDir() }, { forFile: true }))
  })
  const send = (payload: unknown, options: { timestamp?: number } = {}) =>
    deliverStripeEvent(api, payload, { ...options, secret: WEBHOOK_SECRET })
  const stored = async () => (await query<{ n: number }>("select count(*)::int as n from stripe_webhook_events"))[0]?.n

  it("refuses signed bodies that are not events, and text no store can keep, storing nothing", async () => {
    const before = await stored()
    const other = stripeEvent("evt_e2e_3", "customer.created", { id: "cus_1", object: "customer" })
    const { id: _, ...noId } = other
    expect(await send(noId)).toMatchObject({ status: 400, body: { error: "invalid_event" } })
    expect(await send([other])).toMatchObject({ status: 400, body: { error: "invalid_event" } })
    // Text no store can keep, correctly signed: refused before the store sees it, not a 500 Stripe retries.
    const nul = stripeEvent("evt_e2e_nul", "customer.created", { id: "cus_1", object: "customer", name: "a\u0000b" })
    expect(await send(nul)).toMatchObject({ status: 400, body: { error: "invalid_event" } })
    expect(await stored()).toBe(before)
  })

  it("finalizes from the webhook alone, once per event id; the client's finalize joins it", async () => {
    const setup = await api.post("/api/setup-intent", { body: { pod_id: "demo-pod" } })
    const setupIntentId = String(setup.body.client_secret).split("_secret_")[0] as string
    await api.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, { body: { card_number: "4242424242424242" } })

    const succeeded = stripeEvent("evt_e2e_1", "setup_intent.succeeded", {
      id: setupIntentId,
      object: "setup_intent",
      metadata: { pod_id: "demo-pod" }
    })
    expect(await send(succeeded)).toMatchObject({ status: 200, body: { status: "success" } })
    expect((await api.get("/api/pod?pod_id=demo-pod")).body.in_use).toBe(true)
    expect((await send(succeeded)).status).toBe(200)
    expect(await query("select status, deliveries from stripe_webhook_events where event_id = 'evt_e2e_1'")).toEqual([
      { status: "processed", deliveries: 2 }
    ])

    // The client's finalize arrives after the webhook: same session.
    const first = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
    const second = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
    expect(first.status).toBe(200)
    expect(sessionIdOf(second.body.session_jwt_token)).toBe(sessionIdOf(first.body.session_jwt_token))
  })
})

describe("[pglite] a payment the session did not ask for", () => {
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
    const stranger = stripeEvent("evt_e2e_stranger", "payment_intent.succeeded", {
      id: "pi_not_ours",
      object: "payment_intent",
      amount_received: 100_000,
      currency: "gbp",
      customer: "cus_someone_else",
      metadata: { session_id: sessionId }
    })
    // Signed on the service's (moved) clock, or the signature would look 10 minutes old.
    const signedAt = { timestamp: Math.floor(Date.now() / 1000) + 600 }
    expect(await deliverStripeEvent(api, stranger, { ...signedAt, secret: WEBHOOK_SECRET })).toMatchObject({
      status: 200,
      body: { status: "success" }
    })
    expect((await deliverStripeEvent(api, stranger, { ...signedAt, secret: WEBHOOK_SECRET })).status).toBe(200)
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
