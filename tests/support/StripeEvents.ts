/**
 * Stripe webhook events as Stripe sends them, signed with the SDK's test signer, for tests that
 * drive `POST /webhook/stripe` from outside (or verify a signed event directly).
 */
import { randomBytes } from "node:crypto"
import Stripe from "stripe"
import type { Client } from "./Client.js"
import { chargeFixture } from "./StripeServer.js"

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

/**
 * Stripe's `charge.refunded`: the PaymentIntent's Charge (which carries the intent's metadata,
 * `session_id` included) with what has been refunded of it so far. `StripeServer.chargeOf`
 * gives the Charge as the local Stripe holds it.
 */
export const chargeRefundedEvent = (
  charge: Partial<Stripe.Charge> & { readonly payment_intent: string },
  id = `evt_${randomBytes(12).toString("hex")}`
) => {
  const captured = charge.amount_captured ?? charge.amount ?? 0
  const refunded = charge.amount_refunded ?? captured
  return stripeEvent(id, "charge.refunded", {
    ...chargeFixture({
      amount: captured,
      amount_captured: captured,
      captured: true,
      paid: true,
      ...charge,
      amount_refunded: refunded,
      refunded: refunded >= captured
    })
  })
}

/** `payload` as Stripe delivers it: the body and its `Stripe-Signature` (at `timestamp`, default now). */
export const signStripeEvent = (
  payload: unknown,
  options: { readonly secret: string; readonly timestamp?: number }
) => {
  const body = JSON.stringify(payload)
  const signature = Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp })
  })
  return { body, signature }
}

/** Posts `payload` signed with `secret` (at `timestamp`, default now), as Stripe delivers it. */
export const deliverStripeEvent = (
  api: Client,
  payload: unknown,
  options: { readonly secret: string; readonly timestamp?: number }
) => {
  const { body, signature } = signStripeEvent(payload, options)
  return api.post("/webhook/stripe", {
    raw: body,
    headers: { "content-type": "application/json", "stripe-signature": signature }
  })
}
