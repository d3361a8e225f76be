/**
 * What staff do to payments (`qwip payments retry | refund | reconcile`). Retrying a payment never makes two
 * successful charges. An unknown outcome is retried with the same idempotency key (the
 * provider answers with the first charge if it landed). After a definite decline the provider
 * would only replay the cached decline for that key, so a new attempt gets its own key
 * (`qwip-session-charge-<id>-retry-<n>`), recorded before the request is sent; a new attempt
 * starts only when the provider reports no successful, pending or authenticating charge for
 * the session, and an attempt whose answer was lost stays pending and is retried with its own key.
 */
import { Effect, Either, Option } from "effect"
import type { SessionId } from "../Ids.js"
import { boundedPayments } from "../OutsideCalls.js"
import { chargeRetry, Policy } from "../Policy.js"
import { type ChargeResult, chargeKeyFor, RefundRefused } from "../ports/Payments.js"
import { type ChargeAttempt, StaffStore } from "../ports/StaffStore.js"
import { isUnsettled, type Outcome, type Session } from "../session/Session.js"
import { loadSession } from "../session/SessionSteps.js"
import { outcomeOf, stillOwedPence } from "../settlement/ChargeOutcome.js"
import type { Refund } from "../settlement/Collection.js"
import { capturedPence } from "../settlement/Collection.js"
import { reconcilePayments } from "../settlement/Reconciliation.js"
import { refundKeyFor, refundSession } from "../settlement/Refunds.js"
import { recordSettlement } from "../settlement/Settlement.js"
import { type Pence, pence } from "../tariff/Money.js"
import { audit, iso } from "./StaffAudit.js"
import {
  InvalidStaffRequest,
  NothingToRefund,
  NothingToRetry,
  PaymentNeedsCustomer,
  PaymentStillProcessing,
  RefundTooLarge
} from "./StaffErrors.js"

/** The idempotency key of staff's `attempt`-th retry of a session's charge after a decline. */
export const retryChargeKeyFor = (sessionId: SessionId, attempt: number): string =>
  `${chargeKeyFor(sessionId)}-retry-${attempt}`

/**
 * A new attempt numbered after the session's last, or the pending one another member of staff
 * began meanwhile. The store refuses a number taken in between; the attempts are read again.
 */
const beginAttempt = (sessionId: SessionId, by: string) =>
  Effect.gen(function* () {
    const staff = yield* StaffStore
    const attempts = yield* staff.chargeAttempts(sessionId)
    const n = attempts.reduce((max, a) => Math.max(max, a.attempt), 0) + 1
    return yield* staff.beginChargeAttempt({
      sessionId,
      by,
      attempt: n,
      idempotencyKey: retryChargeKeyFor(sessionId, n)
    })
  }).pipe(
    Effect.flatten,
    Effect.retry({ times: 5 }),
    Effect.orDieWith(() => new Error(`could not number a charge attempt for session ${sessionId}`))
  )

export type PaymentRetryResult = "paid" | "declined" | "needs_authentication" | "unknown" | "already_paid"

export interface PaymentRetry {
  readonly session: Session
  readonly result: PaymentRetryResult
  /** The key the charge was made with; `None` when nothing was charged. */
  readonly idempotencyKey: Option.Option<string>
  /** 0 for the session's own key, n for staff's n-th retry after a decline. */
  readonly attempt: number
}

const resultOf = (result: ChargeResult): PaymentRetryResult =>
  result._tag === "Succeeded" ? "paid" : result._tag === "Declined" ? "declined" : "needs_authentication"

/**
 * Charges an ended session whose payment failed, needs the customer or is unknown, without
 * ever charging twice (see the module's notes for the keys). Payment-provider outages fail
 * with `PaymentsUnavailable` before anything is charged, or leave the outcome as it was.
 */
export const retryPayment = Effect.fn("StaffPayments.retryPayment")(function* (
  sessionId: SessionId,
  options: { readonly by: string }
) {
  const staff = yield* StaffStore
  const payments = yield* boundedPayments
  const policy = yield* Policy
  const session = yield* loadSession(sessionId)
  const state = session.state
  if (state._tag !== "Ended") {
    return yield* new NothingToRetry({ sessionId, reason: `it is ${state._tag}: end it first` })
  }
  if (!isUnsettled(state.outcome)) {
    return yield* new NothingToRetry({ sessionId, reason: `its payment is settled (${state.outcome._tag})` })
  }
  if (state.outcome._tag === "PaymentFailed" && state.outcome.declineCode === "legacy") {
    // The previous service recorded every charge error as a decline, timeouts included, and
    // kept no charge id: a new charge could be a second one. A person must check first.
    return yield* new NothingToRetry({
      sessionId,
      reason:
        "the previous service recorded this failure without its charge, so it may have charged; check the customer's payments at the provider first"
    })
  }
  // With a card check hold, its captured part is paid already: only the rest is charged.
  const amountPence = stillOwedPence(session)
  const captured = capturedPence(session.collection)

  const finish = (result: PaymentRetryResult, outcome: Option.Option<Outcome>, key: Option.Option<string>, n: number) =>
    Effect.gen(function* () {
      const after = Option.isSome(outcome) ? yield* recordSettlement(sessionId, outcome.value) : session
      yield* audit(
        options.by,
        "payments.retry",
        sessionId,
        { outcome: state.outcome._tag },
        {
          result,
          outcome: after.state._tag === "Ended" ? after.state.outcome._tag : after.state._tag,
          idempotencyKey: Option.getOrNull(key),
          attempt: n
        }
      )
      return { session: after, result, idempotencyKey: key, attempt: n } satisfies PaymentRetry
    })

  // An attempt whose answer was lost is retried with its own key; otherwise ask the provider first.
  const pending = (yield* staff.chargeAttempts(sessionId)).find((a) => a.status === "pending")
  let attempt: Option.Option<ChargeAttempt> = Option.fromNullable(pending)
  if (Option.isNone(attempt)) {
    const reading = yield* payments.readCharge({ sessionId, paymentIntentId: Option.none() })
    if (Option.isSome(reading)) {
      const r = reading.value
      switch (r._tag) {
        case "Succeeded":
          return yield* finish("already_paid", Option.some(outcomeOf(r, captured)), Option.none(), 0)
        case "Processing":
          return yield* new PaymentStillProcessing({ sessionId, paymentIntentId: r.paymentIntentId })
        case "NeedsAuthentication":
          return yield* new PaymentNeedsCustomer({ sessionId, paymentIntentId: r.paymentIntentId })
        case "Declined":
          attempt = Option.some(yield* beginAttempt(sessionId, options.by))
      }
    }
    // No charge at the provider at all: the session's own key never reached it; use it.
  }
  const key = Option.match(attempt, { onNone: () => chargeKeyFor(sessionId), onSome: (a) => a.idempotencyKey })
  const n = Option.match(attempt, { onNone: () => 0, onSome: (a) => a.attempt })
  const charged = yield* payments
    .chargeSession({
      sessionId,
      amountPence: pence(amountPence),
      customerId: session.card.customerId,
      paymentMethodId: session.card.paymentMethodId,
      receiptEmail: session.card.email,
      idempotencyKey: key
    })
    .pipe(Effect.retry({ schedule: chargeRetry(policy) }), Effect.either)
  if (Either.isLeft(charged)) {
    // The answer was lost: the attempt stays pending and the next retry repeats its key.
    yield* Effect.logWarning("staff charge retry has no answer").pipe(
      Effect.annotateLogs({ sessionId, key, reason: charged.left.reason, amountPence })
    )
    return yield* finish("unknown", Option.none(), Option.some(key), n)
  }
  const result = charged.right
  if (Option.isSome(attempt)) {
    yield* staff.finishChargeAttempt(attempt.value, {
      status: result._tag === "Succeeded" ? "succeeded" : result._tag === "Declined" ? "declined" : "requires_action",
      paymentIntentId: result._tag === "Declined" ? result.paymentIntentId : Option.some(result.paymentIntentId)
    })
  }
  return yield* finish(resultOf(result), Option.some(outcomeOf(result, captured)), Option.some(key), n)
})

export interface PaymentRefund {
  readonly session: Session
  /** Refunded by this call (0 for a repeat). */
  readonly refundedPence: Pence
  /** Everything refunded on the session so far, pending refunds included. */
  readonly totalRefundedPence: Pence
  /** The same refund (session, amount, reason) was made before: nothing more was refunded. */
  readonly repeated: boolean
  /** This refund's parts, one per PaymentIntent it took money back from. */
  readonly refunds: ReadonlyArray<Refund>
}

const refundRecord = (r: Refund) => ({
  key: r.key,
  paymentIntentId: r.paymentIntentId,
  amountPence: r.amountPence,
  status: r.status,
  refundId: Option.getOrNull(r.refundId)
})

/**
 * Refunds part (`amountPence`) or all of what an ended session was paid (`qwip payments
 * refund`), never more than paid less refunded, audited, the customer emailed. The same
 * session, amount and reason refund once: a repeat answers `repeated` and refunds nothing
 * more; after `PaymentsUnavailable` (recorded pending) a repeat finishes it with the same keys.
 * A refund the provider refused is recorded failed; another reason makes a new refund.
 */
export const refundPayment = Effect.fn("StaffPayments.refundPayment")(function* (
  sessionId: SessionId,
  options: { readonly amountPence: Option.Option<Pence>; readonly reason: string; readonly by: string }
) {
  const reason = options.reason.trim()
  if (reason === "") {
    return yield* new InvalidStaffRequest({ reason: "a refund needs a reason: it is told to the customer and audited" })
  }
  const made = yield* refundSession({ sessionId, amountPence: options.amountPence, reason, by: options.by }).pipe(
    Effect.catchTags({ StaleSession: Effect.die, IllegalTransition: Effect.die })
  )
  if (Either.isLeft(made)) {
    const refusal = made.left
    return yield* refusal._tag === "TooLarge"
      ? new RefundTooLarge({
          sessionId,
          requestedPence: refusal.requestedPence,
          refundablePence: refusal.refundablePence
        })
      : new NothingToRefund({ sessionId, reason: refusal.reason })
  }
  const r = made.right
  yield* audit(
    options.by,
    "payments.refund",
    sessionId,
    { amountPence: Option.getOrNull(options.amountPence), reason },
    {
      key: refundKeyFor(sessionId, options.amountPence, reason),
      refundedPence: r.refundedPence,
      totalRefundedPence: r.totalRefundedPence,
      repeated: r.repeated,
      refunds: r.refunds.map(refundRecord),
      ...(Option.isSome(r.refused) ? { refused: r.refused.value.reason } : {}),
      ...(Option.isSome(r.unanswered) ? { unanswered: r.unanswered.value.reason } : {})
    }
  )
  if (Option.isSome(r.refused)) return yield* r.refused.value
  const refusedBefore = r.repeated ? r.refunds.find((x) => x.status === "failed") : undefined
  if (refusedBefore !== undefined) {
    // A repeat cannot succeed: the provider answers a key it refused with the same refusal.
    return yield* new RefundRefused({
      paymentIntentId: refusedBefore.paymentIntentId,
      reason: `it refused this refund when first asked (${refusedBefore.key}); nothing more was refunded: give another reason to make a new refund`
    })
  }
  if (Option.isSome(r.unanswered)) return yield* r.unanswered.value
  return {
    session: r.session,
    refundedPence: r.refundedPence,
    totalRefundedPence: r.totalRefundedPence,
    repeated: r.repeated,
    refunds: r.refunds
  } satisfies PaymentRefund
})

/**
 * Compares our payments with the provider's over `[since, until)` now (`qwip payments
 * reconcile`), audited with what it found; never charges (see `Reconciliation`).
 */
export const reconcile = Effect.fn("StaffPayments.reconcile")(function* (options: {
  readonly since: Date
  readonly until: Date
  readonly by: string
}) {
  const report = yield* reconcilePayments({ since: options.since, until: options.until })
  yield* audit(
    options.by,
    "payments.reconcile",
    undefined,
    { since: iso(options.since), until: iso(options.until) },
    { checked: report.checked, findings: report.findings }
  )
  return report
})
