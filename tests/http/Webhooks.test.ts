/**
 * Black-box: Stripe webhooks on the embedded platform, stored once per event id in the store.
 */
import { describe, expect, it } from "@effect/vitest"
import Stripe from "stripe"
import { type Client, sessionIdOf } from "./support/Client.js"
import { dataDir, serve, WEBHOOK_SECRET } from "./support/Service.js"

const deliver = (api: Client, payload: object, options: { secret?: string; timestamp?: number } = {}) => {
  const body = JSON.stringify(payload)
  const signature = Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret ?? WEBHOOK_SECRET,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp })
  })
  return api.post("/webhook/stripe", {
    raw: body,
    headers: { "content-type": "application/json", "stripe-signature": signature }
  })
}

const event = (id: string, type: string, object: Record<string, unknown>) => ({
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
})
