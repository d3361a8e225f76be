/**
 * `Payments` over Stripe. A booking gets its own Customer and an off-session card SetupIntent
 * tagged with the pod; ending a session makes one off-session PaymentIntent in GBP tagged with
 * the session, under the session's idempotency key, so every retry (ours, the SDK's, another
 * process's) is the same charge. A charge Stripe may or may not have made is
 * `PaymentsUnavailable`, never a decline. Holds (`StripeHolds`), refunds (`StripeRefunds`) and
 * reading a session's payments back (`StripeListing`) live beside it.
 */
import {
  type CardSetUpResult,
  type CardSetUpStarted,
  CHARGE_CURRENCY,
  type ChargeRequest,
  type ChargeResult,
  customerEmail,
  Payments,
  type PaymentsShape,
  PaymentsUnavailable,
  type PodId,
  SetupIntentId,
  SetupIntentNotFound
} from "@qwip/core"
import { Effect, Layer, Option } from "effect"
import type Stripe from "stripe"
import { makeReadCharge } from "./ChargeReadBack.js"
import { chargeFailure, readingOf } from "./StripeAnswer.js"
import { makeStripeCall, type StripePaymentsOptions } from "./StripeClient.js"
import { isMissing, unavailableOrDie } from "./StripeFailures.js"
import { makeHolds } from "./StripeHolds.js"
import { makeListing } from "./StripeListing.js"
import { makeRefunds } from "./StripeRefunds.js"

const idOf = (value: string | { readonly id: string } | null): Option.Option<string> =>
  value === null ? Option.none() : Option.some(typeof value === "string" ? value : value.id)

/**
 * Stripe's SetupIntent status in the port's words. `requires_confirmation` (a card attached
 * but not confirmed) leaves the next step with the customer, like `requires_action`.
 */
const setUpStatusOf = (status: Stripe.SetupIntent.Status): CardSetUpResult["status"] => {
  switch (status) {
    case "succeeded":
      return "succeeded"
    case "processing":
      return "processing"
    case "requires_action":
      return "requires_action"
    case "requires_payment_method":
      return "requires_payment_method"
    case "canceled":
      return "canceled"
    case "requires_confirmation":
      return "requires_action"
    default:
      // A status newer than this adapter: not usable yet, and finalize says so (409).
      return "processing"
  }
}

const emailOf = (paymentMethod: Stripe.SetupIntent["payment_method"]): string => {
  const email = typeof paymentMethod === "object" && paymentMethod !== null ? paymentMethod.billing_details.email : null
  return customerEmail(email)
}

export const makeStripePayments = (options: StripePaymentsOptions): Effect.Effect<PaymentsShape> =>
  Effect.sync(() => {
    const call = makeStripeCall(options)

    const setUpCard = Effect.fn("StripePayments.setUpCard")(
      function* (request: { readonly podId: PodId; readonly idempotencyKey: string }) {
        const metadata = { pod_id: request.podId }
        const customer = yield* call(
          "customers.create",
          (stripe) => stripe.customers.create({ metadata }, { idempotencyKey: `${request.idempotencyKey}:customer` }),
          { podId: request.podId }
        )
        const intent = yield* call(
          "setupIntents.create",
          (stripe) =>
            stripe.setupIntents.create(
              {
                customer: customer.id,
                usage: "off_session",
                // Cards only: they settle at once, off-session. Automatic methods could offer debits
                // that stay `processing` for days, which a per-minute session cannot wait for.
                allowed_payment_method_types: ["card"],
                metadata
              },
              { idempotencyKey: `${request.idempotencyKey}:setup-intent` }
            ),
          { podId: request.podId }
        )
        if (intent.client_secret === null) {
          return yield* Effect.dieMessage(`Stripe returned SetupIntent ${intent.id} without a client secret`)
        }
        return {
          setupIntentId: SetupIntentId.make(intent.id),
          clientSecret: intent.client_secret,
          customerId: customer.id
        } satisfies CardSetUpStarted
      },
      Effect.catchAll(unavailableOrDie("setUpCard"))
    )

    const readCardSetUp = Effect.fn("StripePayments.readCardSetUp")(function* (setupIntentId: SetupIntentId) {
      const intent = yield* call(
        "setupIntents.retrieve",
        (stripe) => stripe.setupIntents.retrieve(setupIntentId, { expand: ["payment_method"] }),
        { setupIntentId }
      ).pipe(
        Effect.catchAll(
          (error): Effect.Effect<never, PaymentsUnavailable | SetupIntentNotFound> =>
            isMissing(error)
              ? Effect.fail(new SetupIntentNotFound({ setupIntentId }))
              : unavailableOrDie("readCardSetUp")(error)
        )
      )
      return {
        setupIntentId,
        status: setUpStatusOf(intent.status),
        podId: Option.fromNullable(intent.metadata?.pod_id),
        customerId: idOf(intent.customer),
        paymentMethodId: idOf(intent.payment_method),
        email: emailOf(intent.payment_method)
      } satisfies CardSetUpResult
    })

    const chargeSession = Effect.fn("StripePayments.chargeSession")(function* (request: ChargeRequest) {
      return yield* call(
        "paymentIntents.create",
        (stripe) =>
          stripe.paymentIntents.create(
            {
              amount: request.amountPence,
              currency: CHARGE_CURRENCY,
              customer: request.customerId,
              payment_method: request.paymentMethodId,
              confirm: true,
              off_session: true,
              receipt_email: request.receiptEmail,
              // Explicit types keep automatic payment methods (and their return_url) out of it.
              allowed_payment_method_types: ["card"],
              metadata: { session_id: request.sessionId }
            },
            { idempotencyKey: request.idempotencyKey }
          ),
        { sessionId: request.sessionId, amountPence: request.amountPence }
      ).pipe(
        Effect.matchEffect({
          onFailure: chargeFailure,
          onSuccess: (intent): Effect.Effect<ChargeResult, PaymentsUnavailable> => {
            const reading = readingOf(intent)
            // Not a definite answer yet: the caller records "unknown" and reads it back later.
            return reading._tag === "Processing"
              ? Effect.fail(
                  new PaymentsUnavailable({
                    operation: "chargeSession",
                    reason: `PaymentIntent ${intent.id} is ${intent.status}; the outcome is not known yet`
                  })
                )
              : Effect.succeed(reading)
          }
        })
      )
    })

    const readCharge = makeReadCharge(call)

    return {
      setUpCard,
      readCardSetUp,
      chargeSession,
      readCharge,
      ...makeHolds(call),
      ...makeRefunds(call),
      ...makeListing(call)
    } satisfies PaymentsShape
  })

/** `Payments` over Stripe, from explicit options. */
export const layer = (options: StripePaymentsOptions): Layer.Layer<Payments> =>
  Layer.effect(Payments, makeStripePayments(options))
