/**
 * An in-memory payment provider with Stripe's semantics where the use cases depend on
 * them: idempotency keys (a repeated key returns the first answer and charges nothing new),
 * off-session outcomes per card, and reading a charge back by id or session.
 */
import { Context, Effect, Layer, Option } from "effect"
import { FALLBACK_CUSTOMER_EMAIL } from "../booking/CustomerEmail.js"
import type { PodId, SessionId, SetupIntentId } from "../Ids.js"
import {
  type CardSetUpResult,
  type ChargeReading,
  type ChargeResult,
  Payments,
  type PaymentsShape,
  PaymentsUnavailable,
  SetupIntentNotFound
} from "../ports/Payments.js"
import type { Pence } from "../tariff/Money.js"
import { type Faults, makeFaults } from "./Faults.js"

/** How a saved card behaves when charged off-session. */
export type CardBehaviour = "succeeds" | "declines" | "needs_authentication"

export type PaymentsOperation = "setUpCard" | "readCardSetUp" | "chargeSession" | "readCharge"

export interface RecordedCharge {
  readonly paymentIntentId: string
  readonly sessionId: SessionId
  readonly amountPence: Pence
  readonly idempotencyKey: string
  readonly result: ChargeResult
}

export interface FakePaymentsControl {
  /** "before": the provider never got the request; "after": it charged, but the answer was lost. */
  readonly faults: Faults<PaymentsOperation>
  /** The customer confirms a card for a set-up. */
  readonly confirmCard: (
    setupIntentId: SetupIntentId,
    options?: { readonly behaviour?: CardBehaviour; readonly email?: string }
  ) => void
  /** Every PaymentIntent created (one per distinct idempotency key). */
  readonly charges: () => ReadonlyArray<RecordedCharge>
  /** Successful charges for a session: the number that must never exceed one. */
  readonly succeededChargesFor: (sessionId: SessionId) => number
}

export class FakePayments extends Context.Tag("@qwip/core/testing/FakePayments")<FakePayments, FakePaymentsControl>() {}

interface SetUp {
  readonly podId: PodId
  readonly customerId: string
  status: CardSetUpResult["status"]
  paymentMethodId: Option.Option<string>
  email: string
  behaviour: CardBehaviour
}

export const makeFakePayments = () => {
  const faults = makeFaults<PaymentsOperation>()
  const setUps = new Map<string, SetUp>()
  const byKey = new Map<string, RecordedCharge>()
  let seq = 0
  const next = (prefix: string) => `${prefix}_${(++seq).toString().padStart(6, "0")}`

  const guarded = <A, E>(op: PaymentsOperation, body: () => Effect.Effect<A, E>) =>
    Effect.suspend((): Effect.Effect<A, E | PaymentsUnavailable> => {
      if (faults.take(op, "before")) return Effect.fail(new PaymentsUnavailable({ operation: op, reason: "timeout" }))
      const result = Effect.runSync(Effect.either(body()))
      if (faults.take(op, "after")) return Effect.fail(new PaymentsUnavailable({ operation: op, reason: "timeout" }))
      return result._tag === "Right" ? Effect.succeed(result.right) : Effect.fail(result.left)
    })

  const payments: PaymentsShape = {
    // Issue 13: filled in by the payments work.
    placeHold: () => Effect.dieMessage("placeHold: not implemented yet"),
    captureHold: () => Effect.dieMessage("captureHold: not implemented yet"),
    releaseHold: () => Effect.dieMessage("releaseHold: not implemented yet"),
    refund: () => Effect.dieMessage("refund: not implemented yet"),
    refundsOf: () => Effect.dieMessage("refundsOf: not implemented yet"),
    sessionPayments: () => Effect.dieMessage("sessionPayments: not implemented yet"),
    paymentForCustomer: () => Effect.dieMessage("paymentForCustomer: not implemented yet"),
    readPayment: () => Effect.dieMessage("readPayment: not implemented yet"),
    setUpCard: ({ podId }) =>
      guarded("setUpCard", () => {
        const setupIntentId = next("seti") as SetupIntentId
        const customerId = next("cus")
        setUps.set(setupIntentId, {
          podId,
          customerId,
          status: "requires_payment_method",
          paymentMethodId: Option.none(),
          email: FALLBACK_CUSTOMER_EMAIL,
          behaviour: "succeeds"
        })
        return Effect.succeed({ setupIntentId, clientSecret: `${setupIntentId}_secret_test`, customerId })
      }),
    readCardSetUp: (id) =>
      guarded("readCardSetUp", () => {
        const s = setUps.get(id)
        if (s === undefined) return Effect.fail(new SetupIntentNotFound({ setupIntentId: id }))
        return Effect.succeed({
          setupIntentId: id,
          status: s.status,
          podId: Option.some(s.podId),
          customerId: Option.some(s.customerId),
          paymentMethodId: s.paymentMethodId,
          email: s.email
        })
      }),
    chargeSession: (request) =>
      guarded("chargeSession", () => {
        const previous = byKey.get(request.idempotencyKey)
        if (previous !== undefined) return Effect.succeed(previous.result)
        const behaviour =
          [...setUps.values()].find((s) => Option.contains(s.paymentMethodId, request.paymentMethodId))?.behaviour ??
          "succeeds"
        const paymentIntentId = next("pi")
        const result: ChargeResult =
          behaviour === "succeeds"
            ? { _tag: "Succeeded", paymentIntentId, amountPence: request.amountPence }
            : behaviour === "declines"
              ? {
                  _tag: "Declined",
                  paymentIntentId: Option.some(paymentIntentId),
                  code: "card_declined",
                  message: "Your card was declined."
                }
              : { _tag: "NeedsAuthentication", paymentIntentId }
        byKey.set(request.idempotencyKey, {
          paymentIntentId,
          sessionId: request.sessionId,
          amountPence: request.amountPence,
          idempotencyKey: request.idempotencyKey,
          result
        })
        return Effect.succeed(result)
      }),
    readCharge: ({ sessionId, paymentIntentId }) =>
      guarded("readCharge", () => {
        const found = [...byKey.values()].find((c) =>
          Option.isSome(paymentIntentId) ? c.paymentIntentId === paymentIntentId.value : c.sessionId === sessionId
        )
        return Effect.succeed(Option.fromNullable(found).pipe(Option.map((c): ChargeReading => c.result)))
      })
  }

  const control: FakePaymentsControl = {
    faults,
    confirmCard: (setupIntentId, options = {}) => {
      const s = setUps.get(setupIntentId)
      if (s === undefined) throw new Error(`no set-up ${setupIntentId}`)
      s.status = "succeeded"
      s.paymentMethodId = Option.some(next("pm"))
      s.email = options.email ?? "customer@example.com"
      s.behaviour = options.behaviour ?? "succeeds"
    },
    charges: () => [...byKey.values()],
    succeededChargesFor: (sessionId) =>
      [...byKey.values()].filter((c) => c.sessionId === sessionId && c.result._tag === "Succeeded").length
  }
  return { payments, control }
}

export const layerFakePayments = Layer.effectContext(
  Effect.sync(() => {
    const { payments, control } = makeFakePayments()
    return Context.make(Payments, payments).pipe(Context.add(FakePayments, control))
  })
)
