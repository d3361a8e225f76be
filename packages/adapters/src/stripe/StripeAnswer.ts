/**
 * What Stripe's answer to a charge means: a PaymentIntent read as the port's `ChargeReading`,
 * and a failed charge as `Declined`, `NeedsAuthentication` or `PaymentsUnavailable` (never a
 * decline when the charge may have gone through).
 */
import { type ChargeReading, type ChargeResult, type PaymentsUnavailable, pence } from "@qwip/core"
import { Effect, Option } from "effect"
import Stripe from "stripe"
import type { StripeError } from "./StripeClient.js"
import { isKeyInUse, unavailableOrDie } from "./StripeFailures.js"

/**
 * What a PaymentIntent says about a charge. An off-session charge that needs the card holder
 * (SCA) leaves the intent in `requires_payment_method` with `authentication_required`, so that
 * reads as `NeedsAuthentication`, as `chargeSession` answered at the time.
 */
export const readingOf = (intent: Stripe.PaymentIntent): ChargeReading => {
  switch (intent.status) {
    case "succeeded":
      return { _tag: "Succeeded", paymentIntentId: intent.id, amountPence: pence(intent.amount_received) }
    case "requires_action":
      return { _tag: "NeedsAuthentication", paymentIntentId: intent.id }
    case "requires_payment_method":
    case "canceled": {
      const error = intent.last_payment_error
      if (intent.status === "requires_payment_method" && error?.code === "authentication_required") {
        return { _tag: "NeedsAuthentication", paymentIntentId: intent.id }
      }
      const fallback =
        intent.status === "canceled"
          ? {
              code: "canceled",
              message: `the payment was canceled (${intent.cancellation_reason ?? "no reason given"})`
            }
          : { code: "requires_payment_method", message: "the payment was never attempted" }
      return {
        _tag: "Declined",
        paymentIntentId: Option.some(intent.id),
        code: error?.decline_code ?? error?.code ?? fallback.code,
        message: error?.message ?? fallback.message
      }
    }
    default:
      // processing, requires_confirmation, requires_capture, or newer: not final yet.
      return { _tag: "Processing", paymentIntentId: intent.id }
  }
}

/**
 * A charge refusal in the port's words. A card error is a decline, unless it asks for the card
 * holder's authentication. An invalid request for a charge is a decline too when its code is
 * about this customer's data (a Customer or PaymentMethod deleted at Stripe: `resource_missing`,
 * ...): the session then closes and the founders are told, as for any decline, where a defect
 * would leave the session retrying for ever. A parameter error (`parameter_*`) or one without a
 * code (an unknown URL) is our bug, the same for every charge, and an idempotency error means one
 * key was used for two different charges: those are defects.
 */
export const chargeFailure = (error: StripeError): Effect.Effect<ChargeResult, PaymentsUnavailable> =>
  cardRefusal("chargeSession")(error)

/** A card's refusal, the same for a charge and a hold (`HoldResult` shares these answers). */
export type CardRefusal = Extract<ChargeResult, { readonly _tag: "Declined" | "NeedsAuthentication" }>

/** `chargeFailure` for any off-session card request (a charge, a hold), naming the operation. */
export const cardRefusal =
  (operation: string) =>
  (error: StripeError): Effect.Effect<CardRefusal, PaymentsUnavailable> => {
    // In progress, whatever class it arrives as: ask again later, never a decline.
    if (isKeyInUse(error)) return unavailableOrDie(operation)(error)
    const intent = error.payment_intent
    if (error instanceof Stripe.errors.StripeCardError) {
      if (intent !== undefined && (error.code === "authentication_required" || intent.status === "requires_action")) {
        return Effect.succeed({ _tag: "NeedsAuthentication", paymentIntentId: intent.id })
      }
      return Effect.succeed({
        _tag: "Declined",
        paymentIntentId: Option.fromNullable(intent?.id),
        code: error.decline_code ?? error.code ?? "card_declined",
        message: error.message
      })
    }
    const code = error.code
    if (
      error instanceof Stripe.errors.StripeInvalidRequestError &&
      code !== undefined &&
      !code.startsWith("parameter_")
    ) {
      return Effect.succeed({
        _tag: "Declined",
        paymentIntentId: Option.fromNullable(intent?.id),
        code,
        message: error.message
      })
    }
    return unavailableOrDie(operation)(error)
  }
