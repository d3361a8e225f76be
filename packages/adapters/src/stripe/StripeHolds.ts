/**
 * The card check hold at booking: a manual-capture PaymentIntent placed off-session on the saved
 * card (`requires_capture` once authorised), captured at the end up to what it holds, or
 * cancelled. Each call carries the caller's idempotency key, so a retry (ours, the SDK's, after
 * a crash) is the same request; a repeat without the stored answer (another key, or Stripe's
 * 24 h key window gone) reads the intent back rather than guessing.
 */
import {
  type CaptureResult,
  CHARGE_CURRENCY,
  type HoldRequest,
  type HoldResult,
  type PaymentsShape,
  PaymentsUnavailable,
  type Pence,
  pence,
  type SessionId
} from "@qwip/core"
import { Effect } from "effect"
import Stripe from "stripe"
import { cardRefusal, readingOf } from "./StripeAnswer.js"
import type { StripeCall, StripeError } from "./StripeClient.js"
import { unavailableOrDie } from "./StripeFailures.js"

/** Stripe's answer when an intent is not in a state the request needs (already captured, cancelled). */
const isUnexpectedState = (error: StripeError) =>
  error instanceof Stripe.errors.StripeInvalidRequestError && error.code === "payment_intent_unexpected_state"

/** The issuer let the authorisation lapse before Stripe cancelled the intent: nothing to capture. */
const isExpiredForCapture = (error: StripeError) =>
  error instanceof Stripe.errors.StripeInvalidRequestError && error.code === "charge_expired_for_capture"

/** `metadata.purpose` of a hold, so read-backs and events never take it for the session's charge. */
export const HOLD_PURPOSE = "hold"

export const isHold = (intent: Pick<Stripe.PaymentIntent, "metadata">): boolean =>
  intent.metadata?.purpose === HOLD_PURPOSE

export const makeHolds = (call: StripeCall): Pick<PaymentsShape, "placeHold" | "captureHold" | "releaseHold"> => {
  /** The intent as it stands; one belonging to another session is a mix-up of stored ids: a bug. */
  const current = (operation: string, sessionId: SessionId, paymentIntentId: string) =>
    call("paymentIntents.retrieve", (stripe) => stripe.paymentIntents.retrieve(paymentIntentId), {
      sessionId,
      paymentIntentId
    }).pipe(
      Effect.catchAll(unavailableOrDie(operation)),
      Effect.flatMap((intent) =>
        intent.metadata?.session_id === sessionId
          ? Effect.succeed(intent)
          : Effect.dieMessage(
              `PaymentIntent ${paymentIntentId} belongs to session ${intent.metadata?.session_id ?? "(none)"}, not ${sessionId}`
            )
      )
    )

  const placeHold = Effect.fn("StripePayments.placeHold")(function* (request: HoldRequest) {
    return yield* call(
      "paymentIntents.create",
      (stripe) =>
        stripe.paymentIntents.create(
          {
            amount: request.amountPence,
            currency: CHARGE_CURRENCY,
            customer: request.customerId,
            payment_method: request.paymentMethodId,
            capture_method: "manual",
            confirm: true,
            off_session: true,
            allowed_payment_method_types: ["card"],
            metadata: {
              session_id: request.sessionId,
              setup_intent_id: request.setupIntentId,
              purpose: HOLD_PURPOSE
            }
          },
          { idempotencyKey: request.idempotencyKey }
        ),
      { sessionId: request.sessionId, amountPence: request.amountPence }
    ).pipe(
      Effect.matchEffect({
        onFailure: cardRefusal("placeHold"),
        onSuccess: (intent): Effect.Effect<HoldResult, PaymentsUnavailable> => {
          if (intent.status === "requires_capture") {
            return Effect.succeed({
              _tag: "Held",
              paymentIntentId: intent.id,
              amountPence: pence(intent.amount_capturable)
            })
          }
          const reading = readingOf(intent)
          switch (reading._tag) {
            case "Declined":
            case "NeedsAuthentication":
              return Effect.succeed(reading)
            default:
              // Processing, or a hold Stripe took in full (never for manual capture): not a hold yet.
              return Effect.fail(
                new PaymentsUnavailable({
                  operation: "placeHold",
                  reason: `hold ${intent.id} is ${intent.status}; whether the card is held is not known yet`
                })
              )
          }
        }
      })
    )
  })

  /** What a hold that cannot be captured now holds: Stripe's record decides. */
  const afterCapture = (intent: Stripe.PaymentIntent): Effect.Effect<CaptureResult, PaymentsUnavailable> => {
    switch (intent.status) {
      case "succeeded":
        // Captured already (a repeat): what was taken then.
        return Effect.succeed({ _tag: "Captured", amountPence: pence(intent.amount_received) })
      case "processing":
        return Effect.fail(
          new PaymentsUnavailable({
            operation: "captureHold",
            reason: `hold ${intent.id} is processing; whether it was captured is not known yet`
          })
        )
      default:
        // Cancelled (by us, or by Stripe after seven days), declined, or never authorised.
        return Effect.succeed({ _tag: "NotCapturable", status: intent.status })
    }
  }

  const captureHold = Effect.fn("StripePayments.captureHold")(function* (request: {
    readonly sessionId: SessionId
    readonly paymentIntentId: string
    readonly amountPence: Pence
    readonly idempotencyKey: string
  }) {
    const captured = yield* call(
      "paymentIntents.capture",
      (stripe) =>
        stripe.paymentIntents.capture(
          request.paymentIntentId,
          { amount_to_capture: request.amountPence },
          { idempotencyKey: request.idempotencyKey }
        ),
      { sessionId: request.sessionId, paymentIntentId: request.paymentIntentId, amountPence: request.amountPence }
    ).pipe(
      Effect.map((intent) => intent as Stripe.PaymentIntent | undefined),
      Effect.catchAll((error) =>
        isUnexpectedState(error) || isExpiredForCapture(error)
          ? Effect.succeed(undefined)
          : unavailableOrDie("captureHold")(error)
      )
    )
    return yield* afterCapture(captured ?? (yield* current("captureHold", request.sessionId, request.paymentIntentId)))
  })

  const releaseHold = Effect.fn("StripePayments.releaseHold")(function* (request: {
    readonly sessionId: SessionId
    readonly paymentIntentId: string
    readonly idempotencyKey: string
  }) {
    const cancelled = yield* call(
      "paymentIntents.cancel",
      (stripe) => stripe.paymentIntents.cancel(request.paymentIntentId, {}, { idempotencyKey: request.idempotencyKey }),
      { sessionId: request.sessionId, paymentIntentId: request.paymentIntentId }
    ).pipe(
      Effect.map((intent) => intent as Stripe.PaymentIntent | undefined),
      Effect.catchAll((error) =>
        isUnexpectedState(error) ? Effect.succeed(undefined) : unavailableOrDie("releaseHold")(error)
      )
    )
    const intent = cancelled ?? (yield* current("releaseHold", request.sessionId, request.paymentIntentId))
    switch (intent.status) {
      case "canceled":
        return "released" as const
      case "succeeded":
        return "captured" as const
      default:
        // Stripe refused to cancel, yet the hold is neither cancelled nor captured: ask again later.
        return yield* new PaymentsUnavailable({
          operation: "releaseHold",
          reason: `hold ${intent.id} is ${intent.status} and could not be cancelled yet`
        })
    }
  })

  return { placeHold, captureHold, releaseHold }
}
