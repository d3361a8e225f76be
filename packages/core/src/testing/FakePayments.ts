/**
 * An in-memory payment provider with Stripe's semantics where the use cases depend on
 * them: idempotency keys (a repeated key returns the first answer and charges nothing new),
 * off-session outcomes per card, manual-capture holds (`requires_capture` → captured or
 * cancelled, expiring after seven days), refunds bounded by what was received, and reading
 * PaymentIntents back by id, session or creation window.
 */
import { Clock, Context, Duration, Effect, Layer, Option } from "effect"
import { FALLBACK_CUSTOMER_EMAIL } from "../booking/CustomerEmail.js"
import type { PodId, SessionId, SetupIntentId } from "../Ids.js"
import {
  type CaptureResult,
  type CardSetUpResult,
  type ChargeReading,
  type ChargeResult,
  type HoldResult,
  Payments,
  type PaymentsShape,
  PaymentsUnavailable,
  type ProviderPayment,
  type ProviderRefund,
  RefundRefused,
  SetupIntentNotFound
} from "../ports/Payments.js"
import type { Pence } from "../tariff/Money.js"
import { type Faults, makeFaults } from "./Faults.js"

/**
 * How a saved card behaves off-session.
 * - `succeeds`: pays (4242424242424242).
 * - `declines`: charges declined `insufficient_funds` (soft: dunning retries); holds pass.
 * - `declines_hard`: charges declined `lost_card` (never retried); holds pass.
 * - `declines_everything`: every charge and hold declined `card_declined` (4000000000000341).
 * - `needs_authentication`: every off-session charge and hold needs the customer (4000002760003184).
 */
export type CardBehaviour = "succeeds" | "declines" | "declines_hard" | "declines_everything" | "needs_authentication"

export type PaymentsOperation =
  | "setUpCard"
  | "readCardSetUp"
  | "chargeSession"
  | "readCharge"
  | "placeHold"
  | "captureHold"
  | "releaseHold"
  | "refund"
  | "refundsOf"
  | "sessionPayments"
  | "paymentForCustomer"
  | "readPayment"

/** Stripe cancels an uncaptured card hold after seven days. */
export const HOLD_LIFETIME = Duration.days(7)

export interface RecordedCharge {
  readonly paymentIntentId: string
  readonly sessionId: SessionId
  readonly amountPence: Pence
  readonly idempotencyKey: string
  /** The PaymentIntent's outcome now (it changes when the customer authenticates). */
  readonly result: ChargeResult
}

/** A PaymentIntent as the fake provider holds it. */
export interface FakePaymentIntent {
  readonly paymentIntentId: string
  readonly sessionId: SessionId
  readonly purpose: "hold" | "charge"
  /** How it was made: `chargeSession`, `placeHold` or `paymentForCustomer`. */
  readonly madeBy: "chargeSession" | "placeHold" | "paymentForCustomer"
  readonly idempotencyKey: string
  readonly customerId: string
  readonly amountPence: Pence
  readonly createdAt: Date
  status: ProviderPayment["status"]
  receivedPence: Pence
  declineCode: Option.Option<string>
}

export interface RecordedCapture {
  readonly paymentIntentId: string
  readonly sessionId: SessionId
  readonly amountPence: Pence
  readonly idempotencyKey: string
}

export interface FakePaymentsControl {
  /** "before": the provider never got the request; "after": it acted, but the answer was lost. */
  readonly faults: Faults<PaymentsOperation>
  /** The customer confirms a card for a set-up. */
  readonly confirmCard: (
    setupIntentId: SetupIntentId,
    options?: { readonly behaviour?: CardBehaviour; readonly email?: string }
  ) => void
  /** The saved card starts behaving differently (a card topped up, or reported lost). */
  readonly setBehaviour: (setupIntentId: SetupIntentId, behaviour: CardBehaviour) => void
  /** PaymentIntents made by `chargeSession` (one per distinct idempotency key). */
  readonly charges: () => ReadonlyArray<RecordedCharge>
  /** Successful charges for a session, however made (holds aside): the number that must never exceed one. */
  readonly succeededChargesFor: (sessionId: SessionId) => number
  /** Every PaymentIntent, holds included, in creation order. */
  readonly paymentIntents: () => ReadonlyArray<FakePaymentIntent>
  /** Card check holds, in creation order. */
  readonly holds: () => ReadonlyArray<FakePaymentIntent>
  /** Successful captures of holds (one per hold at most). */
  readonly captures: () => ReadonlyArray<RecordedCapture>
  /** Every refund made, ours and the dashboard's. */
  readonly refunds: () => ReadonlyArray<ProviderRefund>
  /** What the provider received for a session, less refunds: captured holds plus succeeded charges. */
  readonly netReceivedFor: (sessionId: SessionId) => Pence
  /**
   * The customer finishes a PaymentIntent on-session (3-D Secure, or another card on the pay
   * page): `succeeds` pays it, `fails` leaves it `requires_payment_method`.
   */
  readonly completeAuthentication: (paymentIntentId: string, outcome: "succeeds" | "fails") => void
  /** A refund made in the provider's dashboard (no key of ours). */
  readonly dashboardRefund: (paymentIntentId: string, amountPence: Pence) => ProviderRefund
  /** The provider cancels an uncaptured hold (as after seven days). */
  readonly expireHold: (paymentIntentId: string) => void
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

/** The decline code of a card for a charge or a hold, or none when it goes through. */
const declineOf = (behaviour: CardBehaviour, purpose: "hold" | "charge"): Option.Option<string> => {
  switch (behaviour) {
    case "succeeds":
    case "needs_authentication":
      return Option.none()
    case "declines":
      return purpose === "hold" ? Option.none() : Option.some("insufficient_funds")
    case "declines_hard":
      return purpose === "hold" ? Option.none() : Option.some("lost_card")
    case "declines_everything":
      return Option.some("card_declined")
  }
}

const declineMessage = (code: string) =>
  code === "insufficient_funds"
    ? "Your card has insufficient funds."
    : code === "lost_card"
      ? "Your card has been declined (lost card)."
      : "Your card was declined."

export const makeFakePayments = () => {
  const faults = makeFaults<PaymentsOperation>()
  const setUps = new Map<string, SetUp>()
  const intents = new Map<string, FakePaymentIntent>()
  // Idempotency: per operation and key, the first answer.
  const answers = new Map<string, unknown>()
  const captures: Array<RecordedCapture> = []
  const refunds: Array<ProviderRefund> = []
  let seq = 0
  const next = (prefix: string) => `${prefix}_${(++seq).toString().padStart(6, "0")}`

  const guarded = <A, E>(op: PaymentsOperation, body: (now: Date) => Effect.Effect<A, E>) =>
    Effect.flatMap(Clock.currentTimeMillis, (ms): Effect.Effect<A, E | PaymentsUnavailable> => {
      if (faults.take(op, "before")) return Effect.fail(new PaymentsUnavailable({ operation: op, reason: "timeout" }))
      const result = Effect.runSync(Effect.either(body(new Date(ms))))
      if (faults.take(op, "after")) return Effect.fail(new PaymentsUnavailable({ operation: op, reason: "timeout" }))
      return result._tag === "Right" ? Effect.succeed(result.right) : Effect.fail(result.left)
    })

  /** The first answer for `key` of `op`, or the new one `make` gives (remembered). */
  const once = <A>(op: string, key: string, make: () => A): A => {
    const id = `${op}:${key}`
    if (answers.has(id)) return answers.get(id) as A
    const answer = make()
    answers.set(id, answer)
    return answer
  }

  const behaviourOf = (paymentMethodId: string): CardBehaviour =>
    [...setUps.values()].find((s) => Option.contains(s.paymentMethodId, paymentMethodId))?.behaviour ?? "succeeds"

  const refundedOf = (paymentIntentId: string): number =>
    refunds
      .filter((r) => r.paymentIntentId === paymentIntentId && (r.status === "succeeded" || r.status === "pending"))
      .reduce((sum, r) => sum + r.amountPence, 0)

  const providerPayment = (pi: FakePaymentIntent): ProviderPayment => ({
    paymentIntentId: pi.paymentIntentId,
    sessionId: pi.sessionId,
    purpose: pi.purpose,
    status: pi.status,
    amountPence: pi.amountPence,
    receivedPence: pi.status === "succeeded" ? pi.receivedPence : (0 as Pence),
    refundedPence: refundedOf(pi.paymentIntentId) as Pence,
    createdAt: pi.createdAt
  })

  const chargeResultOf = (pi: FakePaymentIntent): ChargeReading => {
    switch (pi.status) {
      case "succeeded":
        return { _tag: "Succeeded", paymentIntentId: pi.paymentIntentId, amountPence: pi.receivedPence }
      case "requires_action":
        return { _tag: "NeedsAuthentication", paymentIntentId: pi.paymentIntentId }
      case "processing":
        return { _tag: "Processing", paymentIntentId: pi.paymentIntentId }
      default: {
        const code = Option.getOrElse(pi.declineCode, () => "payment_intent_unconfirmed")
        return {
          _tag: "Declined",
          paymentIntentId: Option.some(pi.paymentIntentId),
          code,
          message: declineMessage(code)
        }
      }
    }
  }

  /** A PaymentIntent confirmed off-session with the saved card: its status from the card. */
  const confirmOffSession = (pi: FakePaymentIntent, behaviour: CardBehaviour) => {
    const decline = declineOf(behaviour, pi.purpose)
    if (Option.isSome(decline)) {
      pi.status = "requires_payment_method"
      pi.declineCode = decline
    } else if (behaviour === "needs_authentication") {
      pi.status = "requires_action"
    } else if (pi.purpose === "hold") {
      pi.status = "requires_capture"
    } else {
      pi.status = "succeeded"
      pi.receivedPence = pi.amountPence
    }
  }

  const newIntent = (
    fields: Omit<FakePaymentIntent, "paymentIntentId" | "status" | "receivedPence" | "declineCode">
  ) => {
    const pi: FakePaymentIntent = {
      ...fields,
      paymentIntentId: next("pi"),
      status: "requires_confirmation",
      receivedPence: 0 as Pence,
      declineCode: Option.none()
    }
    intents.set(pi.paymentIntentId, pi)
    return pi
  }

  /** A hold past its lifetime is cancelled by the provider, as Stripe does. */
  const expireIfDue = (pi: FakePaymentIntent, now: Date) => {
    if (
      pi.status === "requires_capture" &&
      now.getTime() - pi.createdAt.getTime() >= Duration.toMillis(HOLD_LIFETIME)
    ) {
      pi.status = "canceled"
    }
  }

  const payments: PaymentsShape = {
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
      guarded("chargeSession", (now) =>
        Effect.succeed(
          once("charge", request.idempotencyKey, () => {
            const pi = newIntent({
              sessionId: request.sessionId,
              purpose: "charge",
              madeBy: "chargeSession",
              idempotencyKey: request.idempotencyKey,
              customerId: request.customerId,
              amountPence: request.amountPence,
              createdAt: now
            })
            confirmOffSession(pi, behaviourOf(request.paymentMethodId))
            return chargeResultOf(pi) as ChargeResult
          })
        )
      ),
    readCharge: ({ sessionId, paymentIntentId }) =>
      guarded("readCharge", () => {
        if (Option.isSome(paymentIntentId)) {
          const pi = intents.get(paymentIntentId.value)
          return Effect.succeed(
            pi === undefined || pi.purpose === "hold" ? Option.none() : Option.some(chargeResultOf(pi))
          )
        }
        // By session, as a search by metadata: a succeeded charge wins over earlier failures.
        const ofSession = [...intents.values()].filter((pi) => pi.sessionId === sessionId && pi.purpose === "charge")
        const found = ofSession.find((pi) => pi.status === "succeeded") ?? ofSession.at(-1)
        return Effect.succeed(Option.fromNullable(found).pipe(Option.map(chargeResultOf)))
      }),
    placeHold: (request) =>
      guarded("placeHold", (now) =>
        Effect.succeed(
          once("hold", request.idempotencyKey, (): HoldResult => {
            const pi = newIntent({
              sessionId: request.sessionId,
              purpose: "hold",
              madeBy: "placeHold",
              idempotencyKey: request.idempotencyKey,
              customerId: request.customerId,
              amountPence: request.amountPence,
              createdAt: now
            })
            confirmOffSession(pi, behaviourOf(request.paymentMethodId))
            if (pi.status === "requires_capture") {
              return { _tag: "Held", paymentIntentId: pi.paymentIntentId, amountPence: pi.amountPence }
            }
            if (pi.status === "requires_action")
              return { _tag: "NeedsAuthentication", paymentIntentId: pi.paymentIntentId }
            const code = Option.getOrElse(pi.declineCode, () => "card_declined")
            return {
              _tag: "Declined",
              paymentIntentId: Option.some(pi.paymentIntentId),
              code,
              message: declineMessage(code)
            }
          })
        )
      ),
    captureHold: (request) =>
      guarded("captureHold", (now) => {
        const id = `capture:${request.idempotencyKey}`
        if (answers.has(id)) return Effect.succeed(answers.get(id) as CaptureResult)
        const pi = intents.get(request.paymentIntentId)
        if (pi === undefined || pi.purpose !== "hold") {
          return Effect.succeed<CaptureResult>({ _tag: "NotCapturable", status: "missing" })
        }
        expireIfDue(pi, now)
        if (pi.status !== "requires_capture") {
          // Stripe answers an error (not remembered under the key) for a hold it cannot capture.
          return Effect.succeed<CaptureResult>({ _tag: "NotCapturable", status: pi.status })
        }
        if (request.amountPence <= 0 || request.amountPence > pi.amountPence) {
          return Effect.dieMessage(
            `captureHold: amount_to_capture ${request.amountPence} must be 1..${pi.amountPence} (Stripe refuses it)`
          )
        }
        // Capturing part of a hold releases the rest, as Stripe does.
        pi.status = "succeeded"
        pi.receivedPence = request.amountPence
        captures.push({
          paymentIntentId: pi.paymentIntentId,
          sessionId: pi.sessionId,
          amountPence: request.amountPence,
          idempotencyKey: request.idempotencyKey
        })
        const answer: CaptureResult = { _tag: "Captured", amountPence: request.amountPence }
        answers.set(id, answer)
        return Effect.succeed(answer)
      }),
    releaseHold: (request) =>
      guarded("releaseHold", (now) => {
        const pi = intents.get(request.paymentIntentId)
        if (pi === undefined) return Effect.succeed("released" as const)
        expireIfDue(pi, now)
        if (pi.status === "succeeded") return Effect.succeed("captured" as const)
        pi.status = "canceled"
        return Effect.succeed("released" as const)
      }),
    refund: (request) =>
      guarded("refund", () => {
        const id = `refund:${request.idempotencyKey}`
        if (answers.has(id)) return Effect.succeed(answers.get(id) as ProviderRefund)
        const pi = intents.get(request.paymentIntentId)
        if (pi === undefined || pi.status !== "succeeded") {
          return Effect.fail(
            new RefundRefused({
              paymentIntentId: request.paymentIntentId,
              reason: pi === undefined ? "no such PaymentIntent" : `it has not succeeded (${pi.status})`
            })
          )
        }
        const left = pi.receivedPence - refundedOf(pi.paymentIntentId)
        if (request.amountPence <= 0 || request.amountPence > left) {
          return Effect.fail(
            new RefundRefused({
              paymentIntentId: request.paymentIntentId,
              reason: `refund of ${request.amountPence}p is more than the ${left}p left to refund`
            })
          )
        }
        const refund: ProviderRefund = {
          refundId: next("re"),
          paymentIntentId: pi.paymentIntentId,
          amountPence: request.amountPence,
          status: "succeeded",
          key: Option.some(request.idempotencyKey)
        }
        refunds.push(refund)
        answers.set(id, refund)
        return Effect.succeed(refund)
      }),
    refundsOf: (paymentIntentId) =>
      guarded("refundsOf", () => Effect.succeed(refunds.filter((r) => r.paymentIntentId === paymentIntentId))),
    sessionPayments: ({ since, until }) =>
      guarded("sessionPayments", (now) =>
        Effect.succeed(
          [...intents.values()]
            .filter((pi) => pi.createdAt.getTime() >= since.getTime() && pi.createdAt.getTime() < until.getTime())
            .map((pi) => {
              expireIfDue(pi, now)
              return providerPayment(pi)
            })
        )
      ),
    paymentForCustomer: (request) =>
      guarded("paymentForCustomer", (now) => {
        const given = Option.flatMap(request.paymentIntentId, (id) => Option.fromNullable(intents.get(id)))
        const pi = Option.getOrElse(given, () =>
          once("paymentForCustomer", request.idempotencyKey, () =>
            newIntent({
              sessionId: request.sessionId,
              purpose: "charge",
              madeBy: "paymentForCustomer",
              idempotencyKey: request.idempotencyKey,
              customerId: request.customerId,
              amountPence: request.amountPence,
              createdAt: now
            })
          )
        )
        return Effect.succeed({
          paymentIntentId: pi.paymentIntentId,
          clientSecret: `${pi.paymentIntentId}_secret_test`,
          status: pi.status,
          amountPence: pi.amountPence
        })
      }),
    readPayment: (paymentIntentId) =>
      guarded("readPayment", (now) =>
        Effect.succeed(
          Option.fromNullable(intents.get(paymentIntentId)).pipe(
            Option.map((pi) => {
              expireIfDue(pi, now)
              return providerPayment(pi)
            })
          )
        )
      )
  }

  const intentOrThrow = (paymentIntentId: string) => {
    const pi = intents.get(paymentIntentId)
    if (pi === undefined) throw new Error(`no PaymentIntent ${paymentIntentId}`)
    return pi
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
    setBehaviour: (setupIntentId, behaviour) => {
      const s = setUps.get(setupIntentId)
      if (s === undefined) throw new Error(`no set-up ${setupIntentId}`)
      s.behaviour = behaviour
    },
    charges: () =>
      [...intents.values()]
        .filter((pi) => pi.madeBy === "chargeSession")
        .map((pi) => ({
          paymentIntentId: pi.paymentIntentId,
          sessionId: pi.sessionId,
          amountPence: pi.amountPence,
          idempotencyKey: pi.idempotencyKey,
          result: chargeResultOf(pi) as ChargeResult
        })),
    succeededChargesFor: (sessionId) =>
      [...intents.values()].filter(
        (pi) => pi.sessionId === sessionId && pi.purpose === "charge" && pi.status === "succeeded"
      ).length,
    paymentIntents: () => [...intents.values()],
    holds: () => [...intents.values()].filter((pi) => pi.purpose === "hold"),
    captures: () => [...captures],
    refunds: () => [...refunds],
    netReceivedFor: (sessionId) =>
      [...intents.values()]
        .filter((pi) => pi.sessionId === sessionId && pi.status === "succeeded")
        .reduce((sum, pi) => sum + pi.receivedPence - refundedOf(pi.paymentIntentId), 0) as Pence,
    completeAuthentication: (paymentIntentId, outcome) => {
      const pi = intentOrThrow(paymentIntentId)
      if (pi.status === "succeeded" || pi.status === "canceled") {
        throw new Error(`PaymentIntent ${paymentIntentId} is already ${pi.status}`)
      }
      if (outcome === "fails") {
        pi.status = "requires_payment_method"
        pi.declineCode = Option.some("authentication_failed")
      } else if (pi.purpose === "hold") {
        pi.status = "requires_capture"
      } else {
        pi.status = "succeeded"
        pi.receivedPence = pi.amountPence
        pi.declineCode = Option.none()
      }
    },
    dashboardRefund: (paymentIntentId, amountPence) => {
      const pi = intentOrThrow(paymentIntentId)
      if (pi.status !== "succeeded" || amountPence > pi.receivedPence - refundedOf(paymentIntentId)) {
        throw new Error(`cannot refund ${amountPence}p of ${paymentIntentId}`)
      }
      const refund: ProviderRefund = {
        refundId: next("re"),
        paymentIntentId,
        amountPence,
        status: "succeeded",
        key: Option.none()
      }
      refunds.push(refund)
      return refund
    },
    expireHold: (paymentIntentId) => {
      const pi = intentOrThrow(paymentIntentId)
      if (pi.status === "requires_capture") pi.status = "canceled"
    }
  }
  return { payments, control }
}

export const layerFakePayments = Layer.effectContext(
  Effect.sync(() => {
    const { payments, control } = makeFakePayments()
    return Context.make(Payments, payments).pipe(Context.add(FakePayments, control))
  })
)
