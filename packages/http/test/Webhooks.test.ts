/**
 * `POST /webhook/stripe`, signed as Stripe signs (the SDK's test header): valid, duplicate, bad
 * signature, stale timestamp, unknown type, the webhook-only finalize, a failure Stripe retries,
 * and a late charge outcome settling an ended session.
 */
import { describe, expect, it } from "@effect/vitest"
import Stripe from "stripe"
import { book, type Client, eventually, sessionIdOf } from "./support/Client.js"
import { boot } from "./support/Harness.js"
import { WEBHOOK_SECRET } from "./support/TestPlatform.js"

let seq = 0
const event = (type: string, object: Record<string, unknown>, id = `evt_test_${++seq}`) => ({
  id,
  object: "event",
  api_version: "2025-01-27.acacia",
  created: Math.floor(Date.now() / 1000),
  livemode: false,
  pending_webhooks: 1,
  request: { id: null, idempotency_key: null },
  type,
  data: { object }
})

const deliver = (
  api: Client,
  payload: object,
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

describe("Stripe webhooks", () => {
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

  it("a late payment_intent.succeeded settles a session whose charge was declined", async () => {
    const { api, platform } = await boot()
    const { sessionToken } = await book(api, "pod-1", "4000000000000341")
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "ready"
    )
    platform.clock.advance("2 minutes")
    expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
    const sessionId = sessionIdOf(sessionToken)
    const ended = platform.store.sessions().find((s) => s.id === sessionId)
    expect(ended?.state._tag === "Ended" && ended.state.outcome._tag).toBe("PaymentFailed")
    const amount = ended?.state._tag === "Ended" ? ended.state.quote.chargePence : 0

    const payload = event("payment_intent.succeeded", {
      id: "pi_later",
      object: "payment_intent",
      amount_received: amount,
      metadata: { session_id: sessionId }
    })
    expect((await deliver(api, payload)).status).toBe(200)
    const settled = platform.store.sessions().find((s) => s.id === sessionId)
    expect(settled?.state._tag === "Ended" && settled.state.outcome._tag).toBe("Paid")
  })
})
