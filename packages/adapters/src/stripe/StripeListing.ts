/**
 * Reading Qwip's PaymentIntents back as the provider holds them: one (the pay page's read-back),
 * every one for a session in a window (reconciliation), and one the customer completes on the
 * pay page. Lists come from the list endpoint (consistent) rather than search (which lags), and
 * keep only intents tagged with a session (`metadata.session_id`); each carries its charge
 * (`latest_charge` expanded) for what was refunded.
 */
import {
  CHARGE_CURRENCY,
  type PaymentForCustomer,
  type PaymentsShape,
  type Pence,
  type ProviderPayment,
  pence,
  SessionId
} from "@qwip/core"
import { Effect, Option, Schema } from "effect"
import type Stripe from "stripe"
import type { StripeCall } from "./StripeClient.js"
import { isMissing, unavailableOrDie } from "./StripeFailures.js"
import { isHold } from "./StripeHolds.js"

const decodeSessionId = Schema.decodeUnknownOption(SessionId)

/** Stripe counts whole seconds; `[since, until)` in milliseconds holds `created * 1000`. */
const seconds = (at: Date) => Math.ceil(at.getTime() / 1000)

const KNOWN_STATUSES: ReadonlyArray<string> = [
  "succeeded",
  "processing",
  "requires_action",
  "requires_payment_method",
  "requires_confirmation",
  "requires_capture",
  "canceled"
] satisfies ReadonlyArray<ProviderPayment["status"]>

/** A status newer than this adapter reads as `processing`: not final, so nothing acts on it. */
const statusOf = (status: Stripe.PaymentIntent.Status): ProviderPayment["status"] =>
  KNOWN_STATUSES.includes(status) ? (status as ProviderPayment["status"]) : "processing"

/** A PaymentIntent for a Qwip session in the port's words; `None` when it names no session. */
export const providerPaymentOf = (intent: Stripe.PaymentIntent): Option.Option<ProviderPayment> =>
  Option.map(decodeSessionId(intent.metadata?.session_id), (sessionId) => ({
    paymentIntentId: intent.id,
    sessionId,
    purpose: isHold(intent) ? "hold" : "charge",
    status: statusOf(intent.status),
    amountPence: pence(intent.amount),
    receivedPence: pence(intent.status === "succeeded" ? intent.amount_received : 0),
    // Only an expanded charge says what was refunded; every read here expands it.
    refundedPence: pence(
      typeof intent.latest_charge === "object" && intent.latest_charge !== null
        ? intent.latest_charge.amount_refunded
        : 0
    ),
    createdAt: new Date(intent.created * 1000)
  }))

const dieUnlessFor = (sessionId: SessionId, intent: Stripe.PaymentIntent) =>
  intent.metadata?.session_id === sessionId
    ? Effect.void
    : Effect.dieMessage(
        `PaymentIntent ${intent.id} belongs to session ${intent.metadata?.session_id ?? "(none)"}, not ${sessionId}`
      )

export const makeListing = (
  call: StripeCall
): Pick<PaymentsShape, "sessionPayments" | "readPayment" | "paymentForCustomer"> => {
  const sessionPayments = Effect.fn("StripePayments.sessionPayments")(function* (window: {
    readonly since: Date
    readonly until: Date
  }) {
    return yield* call(
      "paymentIntents.list",
      async (stripe) => {
        const found: Array<ProviderPayment> = []
        const pages = stripe.paymentIntents.list({
          created: { gte: seconds(window.since), lt: seconds(window.until) },
          limit: 100,
          expand: ["data.latest_charge"]
        })
        for await (const intent of pages) {
          const payment = providerPaymentOf(intent)
          if (Option.isSome(payment)) found.push(payment.value)
        }
        return found as ReadonlyArray<ProviderPayment>
      },
      { since: window.since.toISOString(), until: window.until.toISOString() }
    ).pipe(Effect.catchAll(unavailableOrDie("sessionPayments")))
  })

  const readPayment = Effect.fn("StripePayments.readPayment")(function* (paymentIntentId: string) {
    const intent = yield* call(
      "paymentIntents.retrieve",
      (stripe) => stripe.paymentIntents.retrieve(paymentIntentId, { expand: ["latest_charge"] }),
      { paymentIntentId }
    ).pipe(
      Effect.map(Option.some),
      Effect.catchAll((error) => (isMissing(error) ? Effect.succeedNone : unavailableOrDie("readPayment")(error)))
    )
    return Option.flatMap(intent, providerPaymentOf)
  })

  const paymentForCustomer = Effect.fn("StripePayments.paymentForCustomer")(
    function* (request: {
      readonly sessionId: SessionId
      readonly paymentIntentId: Option.Option<string>
      readonly amountPence: Pence
      readonly customerId: string
      readonly idempotencyKey: string
    }) {
      const given = request.paymentIntentId
      const intent = Option.isSome(given)
        ? yield* call("paymentIntents.retrieve", (stripe) => stripe.paymentIntents.retrieve(given.value), {
            sessionId: request.sessionId,
            paymentIntentId: given.value
          })
        : yield* call(
            "paymentIntents.create",
            (stripe) =>
              stripe.paymentIntents.create(
                {
                  amount: request.amountPence,
                  currency: CHARGE_CURRENCY,
                  customer: request.customerId,
                  // Cards only, as off-session: the page confirms with the saved card or a new one.
                  allowed_payment_method_types: ["card"],
                  metadata: { session_id: request.sessionId, purpose: "charge" }
                },
                { idempotencyKey: request.idempotencyKey }
              ),
            { sessionId: request.sessionId, amountPence: request.amountPence }
          )
      yield* dieUnlessFor(request.sessionId, intent)
      if (intent.client_secret === null) {
        return yield* Effect.dieMessage(`Stripe returned PaymentIntent ${intent.id} without a client secret`)
      }
      return {
        paymentIntentId: intent.id,
        clientSecret: intent.client_secret,
        status: statusOf(intent.status),
        amountPence: pence(intent.amount)
      } satisfies PaymentForCustomer
    },
    Effect.catchAll(unavailableOrDie("paymentForCustomer"))
  )

  return { sessionPayments, readPayment, paymentForCustomer }
}
