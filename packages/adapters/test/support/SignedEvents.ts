/**
 * Stripe events as Stripe sends them, signed with a test endpoint's secret at a fixed time.
 */
import { randomUUID } from "node:crypto"
import Stripe from "stripe"
import { STRIPE_API_VERSION } from "../../src/stripe/StripeClient.js"

export const SECRET = "whsec_test_qwip_endpoint_secret"
/** 2026-01-01T00:00:00Z, in Stripe's seconds. */
export const NOW = 1_767_225_600

export const eventPayload = (type: string, object: unknown) =>
  JSON.stringify(
    {
      id: `evt_${randomUUID().replaceAll("-", "")}`,
      object: "event",
      api_version: STRIPE_API_VERSION,
      created: NOW - 5,
      data: { object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type
    },
    null,
    2
  )

export const signed = (payload: string, options: { readonly secret?: string; readonly signedAt?: number } = {}) =>
  Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? SECRET,
    timestamp: options.signedAt ?? NOW
  })
