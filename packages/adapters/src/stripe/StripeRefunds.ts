/**
 * Refunds: ours carry the session, our idempotency key and the reason in their metadata, so a
 * refund read back (or announced by `charge.refunded`) says whether it was ours; the dashboard's
 * carry none. Stripe refuses a refund beyond what is left, of a charge already refunded in full
 * or that never succeeded: those are `RefundRefused`, for staff to read.
 */
import {
  type PaymentsShape,
  type PaymentsUnavailable,
  type Pence,
  type ProviderRefund,
  pence,
  RefundRefused,
  type SessionId
} from "@qwip/core"
import { Effect, Option } from "effect"
import Stripe from "stripe"
import type { StripeCall, StripeError } from "./StripeClient.js"
import { isKeyInUse, unavailableOrDie } from "./StripeFailures.js"

/** Stripe's codes for a refund it will not make, whatever the retry. */
const REFUSAL_CODES: ReadonlySet<string> = new Set([
  "amount_too_large",
  "charge_already_refunded",
  "charge_not_refundable",
  "charge_disputed",
  "charge_exceeds_source_limit",
  "payment_intent_unexpected_state",
  "refund_disputed_payment",
  "resource_missing"
])

/** Stripe keeps metadata values to 500 characters. */
const METADATA_VALUE_LIMIT = 500

const statusOf = (status: string | null): ProviderRefund["status"] => {
  switch (status) {
    case "succeeded":
      return "succeeded"
    case "failed":
      return "failed"
    case "canceled":
      return "canceled"
    default:
      // pending, requires_action, or newer: not final, and may still land.
      return "pending"
  }
}

export const providerRefundOf = (refund: Stripe.Refund): ProviderRefund => ({
  refundId: refund.id,
  paymentIntentId:
    typeof refund.payment_intent === "string" ? refund.payment_intent : (refund.payment_intent?.id ?? ""),
  amountPence: pence(refund.amount),
  status: statusOf(refund.status),
  key: Option.fromNullable(refund.metadata?.qwip_key)
})

const refusedOr =
  (paymentIntentId: string, idempotencyKey: string) =>
  (error: StripeError): Effect.Effect<never, RefundRefused | PaymentsUnavailable> => {
    if (isKeyInUse(error)) return unavailableOrDie("refund")(error)
    // The key names the session, amount and reason; a repeat whose reason reads differently
    // (same slug, other words) is one staff can act on, not a defect.
    if (error instanceof Stripe.errors.StripeIdempotencyError) {
      return Effect.fail(
        new RefundRefused({
          paymentIntentId,
          reason: `a refund under ${idempotencyKey} was already asked for with other details; look at the session's refunds before refunding again`
        })
      )
    }
    return error instanceof Stripe.errors.StripeInvalidRequestError &&
      error.code !== undefined &&
      REFUSAL_CODES.has(error.code)
      ? Effect.fail(new RefundRefused({ paymentIntentId, reason: error.message }))
      : unavailableOrDie("refund")(error)
  }

export const makeRefunds = (call: StripeCall): Pick<PaymentsShape, "refund" | "refundsOf"> => {
  const refund = Effect.fn("StripePayments.refund")(function* (request: {
    readonly sessionId: SessionId
    readonly paymentIntentId: string
    readonly amountPence: Pence
    readonly idempotencyKey: string
    readonly reason: string
  }) {
    const made = yield* call(
      "refunds.create",
      (stripe) =>
        stripe.refunds.create(
          {
            payment_intent: request.paymentIntentId,
            amount: request.amountPence,
            metadata: {
              session_id: request.sessionId,
              qwip_key: request.idempotencyKey,
              reason: request.reason.slice(0, METADATA_VALUE_LIMIT)
            }
          },
          { idempotencyKey: request.idempotencyKey }
        ),
      { sessionId: request.sessionId, paymentIntentId: request.paymentIntentId, amountPence: request.amountPence }
    ).pipe(Effect.catchAll(refusedOr(request.paymentIntentId, request.idempotencyKey)))
    return providerRefundOf(made)
  })

  const refundsOf = Effect.fn("StripePayments.refundsOf")(function* (paymentIntentId: string) {
    return yield* call(
      "refunds.list",
      async (stripe) => {
        const found: Array<ProviderRefund> = []
        for await (const made of stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 })) {
          found.push(providerRefundOf(made))
        }
        return found as ReadonlyArray<ProviderRefund>
      },
      { paymentIntentId }
    ).pipe(Effect.catchAll(unavailableOrDie("refundsOf")))
  })

  return { refund, refundsOf }
}
