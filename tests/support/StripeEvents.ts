/**
 * Stripe webhook events as Stripe sends them, signed with the SDK's test signer, for tests that
 * drive `POST /webhook/stripe` from outside.
 */
import Stripe from "stripe"
import type { Client } from "./Client.js"

/** An event envelope as Stripe writes it, around `object`. */
export const stripeEvent = (id: string, type: string, object: Record<string, unknown>) => ({
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

/** Posts `payload` signed with `secret` (at `timestamp`, default now), as Stripe delivers it. */
export const deliverStripeEvent = (
  api: Client,
  payload: unknown,
  options: { readonly secret: string; readonly timestamp?: number }
) => {
  const body = JSON.stringify(payload)
  const signature = Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp })
  })
  return api.post("/webhook/stripe", {
    raw: body,
    headers: { "content-type": "application/json", "stripe-signature": signature }
  })
}
