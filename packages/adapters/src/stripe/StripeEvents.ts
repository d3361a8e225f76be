/**
 * What Stripe's events mean to Qwip: the events it acts on become the platform's
 * `PaymentEvent`s; every other type reads as `None`, stored and acknowledged by the inbox.
 */
import {
  CardSetUpSucceeded,
  ChargeFailed,
  ChargeNeedsAuthentication,
  ChargeRefunded,
  ChargeSucceeded,
  type PaymentEvent,
  Pence,
  PodId,
  type ProviderEvent,
  SessionId,
  SetupIntentId
} from "@qwip/core"
import { Option, Schema } from "effect"
import type Stripe from "stripe"
import { isHold } from "./StripeHolds.js"

const decodeSessionId = Schema.decodeUnknownOption(SessionId)
const decodePodId = Schema.decodeUnknownOption(PodId)
const decodeSetupIntentId = Schema.decodeUnknownOption(SetupIntentId)
const decodePence = Schema.decodeUnknownOption(Pence)

/** The session a charge says it was for; `None` for PaymentIntents not made by this platform. */
const sessionOf = (intent: Stripe.PaymentIntent): Option.Option<SessionId> =>
  decodeSessionId(intent.metadata?.session_id)

/** Who and what a PaymentIntent charged, for the core to check against the session. */
const chargeOf = (intent: Stripe.PaymentIntent) => ({
  sessionId: sessionOf(intent),
  paymentIntentId: intent.id,
  // An id, or the Customer object when the event was expanded.
  customerId: Option.fromNullable(typeof intent.customer === "string" ? intent.customer : intent.customer?.id),
  // A card check hold's events must never settle the session's charge.
  purpose: isHold(intent) ? ("hold" as const) : ("charge" as const)
})

/** The PaymentIntent refunded, and its session (a PaymentIntent's Charge carries its metadata). */
const refundedOf = (paymentIntent: string | { readonly id: string } | null, sessionId: unknown) =>
  Option.map(
    Option.fromNullable(typeof paymentIntent === "string" ? paymentIntent : paymentIntent?.id),
    (paymentIntentId) => new ChargeRefunded({ sessionId: decodeSessionId(sessionId), paymentIntentId })
  )

/**
 * Maps the events Qwip acts on. A failure that needs the card holder's authentication decodes as
 * `ChargeNeedsAuthentication`, not `ChargeFailed`: Stripe reports an off-session SCA challenge as
 * `payment_intent.payment_failed` with code `authentication_required`, and `chargeSession` answers
 * the same charge with `NeedsAuthentication`, so the event must not contradict it.
 */
export const decodeStripeEvent = (event: Stripe.Event): Option.Option<PaymentEvent> => {
  switch (event.type) {
    case "setup_intent.succeeded": {
      const intent = event.data.object
      return Option.map(
        decodeSetupIntentId(intent.id),
        (setupIntentId) => new CardSetUpSucceeded({ setupIntentId, podId: decodePodId(intent.metadata?.pod_id) })
      )
    }
    case "payment_intent.succeeded": {
      const intent = event.data.object
      return Option.map(
        decodePence(intent.amount_received),
        (amountPence) => new ChargeSucceeded({ ...chargeOf(intent), amountPence, currency: intent.currency })
      )
    }
    case "payment_intent.payment_failed": {
      const intent = event.data.object
      const error = intent.last_payment_error
      if (error?.code === "authentication_required") {
        return Option.some(new ChargeNeedsAuthentication(chargeOf(intent)))
      }
      return Option.some(
        new ChargeFailed({
          ...chargeOf(intent),
          code: error?.decline_code ?? error?.code ?? "payment_failed",
          message: error?.message ?? "the payment failed without a reason from Stripe"
        })
      )
    }
    case "payment_intent.requires_action": {
      const intent = event.data.object
      return Option.some(new ChargeNeedsAuthentication(chargeOf(intent)))
    }
    // Refunded in part or in full, by us or in the dashboard: the refunds are read back.
    case "charge.refunded": {
      const charge = event.data.object
      return refundedOf(charge.payment_intent, charge.metadata?.session_id)
    }
    // A refund changed state (one that failed after it was made): read back the same way.
    case "charge.refund.updated": {
      const refund = event.data.object
      return refundedOf(refund.payment_intent, refund.metadata?.session_id)
    }
    default:
      return Option.none()
  }
}

/** A stored event read back: its payload is the verified Stripe event (`StripeEventEnvelope.event`). */
export const decodeProviderEvent = (event: ProviderEvent): Option.Option<PaymentEvent> =>
  typeof event.payload === "object" && event.payload !== null && !Array.isArray(event.payload)
    ? decodeStripeEvent(event.payload as Stripe.Event)
    : Option.none()
