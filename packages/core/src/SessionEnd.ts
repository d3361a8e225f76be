/**
 * Ending a session and getting paid for it, exactly once.
 *
 * 1. Fix the end time and price (→ Ending), with a `close-session` work item as a safety net.
 * 2. Charge with an idempotency key derived from the session, so any retry, by anyone,
 *    is the same charge.
 * 3. Close (→ Ended) with the outcome, free the pod, queue code revocation and emails. A pod
 *    whose door code is on its lock stays held until the revocation confirms it gone.
 * A crash between any two steps is finished by a retry (or the safety net) with one charge.
 */
import { Duration, Effect, Option } from "effect"
import { billableStartOf, priceEnd } from "./Billing.js"
import { InvalidEndTime, WorkNotDone } from "./Errors.js"
import type { SessionId } from "./Ids.js"
import { beginEnd, close, settle } from "./Lifecycle.js"
import { PaymentProblem, Receipt } from "./Messages.js"
import { pence } from "./Money.js"
import { boundedPayments } from "./OutsideCalls.js"
import { chargeRetry, defaultPolicy, Policy, termsFor } from "./Policy.js"
import { type ChargeResult, chargeKeyFor } from "./ports/Payments.js"
import {
  type Actor,
  Customer,
  NeedsAuthentication,
  NotBilled,
  type Outcome,
  Paid,
  PaymentFailed,
  PaymentUnknown,
  type Session,
  Waived
} from "./Session.js"
import { leavePod, loadSession, loadSessionWithPod, now, persist, retryWhenStale } from "./SessionSteps.js"
import { closeSession, revokeAccess, sendMail, settleCharge, type WorkOrder } from "./Work.js"

export interface EndOptions {
  /** End at this time instead of now (staff); never in the future nor before the start. */
  readonly at?: Date
  readonly by?: Actor
  /** Staff waive the charge, saying why. */
  readonly waiveReason?: string
  /**
   * The longest the caller waits for the charge's answer (the customer: the policy's
   * `customerWait`). Past it the end is recorded with the outcome unknown and settled in the
   * background by reading the charge back under the same key; the abandoned request is safe.
   */
  readonly waitAtMost?: Duration.Duration
}

const actorName = (actor: Actor): string =>
  actor._tag === "Staff" ? actor.name : actor._tag === "System" ? `system (${actor.reason})` : "customer"

const fixEnd = (sessionId: SessionId, options: EndOptions) =>
  retryWhenStale(
    Effect.gen(function* () {
      const policy = yield* Policy
      const session = yield* loadSession(sessionId)
      if (session.state._tag === "Ending" || session.state._tag === "Ended") return session
      const at = yield* now
      const endedAt = options.at ?? at
      if (endedAt.getTime() > at.getTime()) {
        return yield* new InvalidEndTime({ sessionId, endedAt, reason: "it is in the future" })
      }
      const priced = yield* priceEnd(session, endedAt, termsFor(policy, session.rate)).pipe(
        Effect.mapError(() => new InvalidEndTime({ sessionId, endedAt, reason: "it is before the session started" }))
      )
      const by = options.by ?? Customer
      const waiver = Option.fromNullable(options.waiveReason).pipe(
        Option.map((reason) => ({ reason, by: actorName(by) }))
      )
      return yield* persist(session, {
        transition: beginEnd(session, { endedAt, ...priced, waiver, by }, at),
        work: [closeSession(sessionId, new Date(at.getTime() + Duration.toMillis(policy.closeSafetyNet)))]
      })
    })
  )

/** The outcome a definite answer to a charge records. */
export const outcomeOf = (result: ChargeResult): Outcome => {
  switch (result._tag) {
    case "Succeeded":
      return new Paid({ paymentIntentId: result.paymentIntentId, amountPence: result.amountPence })
    case "Declined":
      return new PaymentFailed({
        paymentIntentId: result.paymentIntentId,
        declineCode: result.code,
        message: result.message
      })
    case "NeedsAuthentication":
      return new NeedsAuthentication({ paymentIntentId: result.paymentIntentId })
  }
}

/** Charges the session's fixed price (same key every time); an unanswered charge is `PaymentUnknown`. */
const charge = (session: Session, amountPence: number) =>
  Effect.gen(function* () {
    const payments = yield* boundedPayments
    const policy = yield* Policy
    return yield* payments
      .chargeSession({
        sessionId: session.id,
        amountPence: pence(amountPence),
        customerId: session.card.customerId,
        paymentMethodId: session.card.paymentMethodId,
        receiptEmail: session.card.email,
        idempotencyKey: chargeKeyFor(session.id)
      })
      .pipe(
        Effect.retry({ schedule: chargeRetry(policy) }),
        Effect.map(outcomeOf),
        Effect.catchTag("PaymentsUnavailable", (e) => Effect.succeed<Outcome>(new PaymentUnknown({ detail: e.reason })))
      )
  })

/** The emails and follow-up work a newly recorded outcome calls for. */
export const followUpsFor = (
  session: Session,
  podName: string,
  outcome: Outcome,
  at: Date,
  settleDelay: Duration.Duration = defaultPolicy.settleDelay
): ReadonlyArray<WorkOrder> => {
  if (session.state._tag !== "Ending" && session.state._tag !== "Ended") return []
  const { quote, endedAt } = session.state
  const receipt = (basis: Receipt["basis"], amountPence: number) =>
    sendMail(
      new Receipt({
        to: session.card.email,
        sessionId: session.id,
        podName,
        startedAt: session.startedAt,
        billedFrom: billableStartOf(session),
        endedAt,
        billableSeconds: quote.billableSeconds,
        rate: Option.some(session.rate),
        amountPence: pence(amountPence),
        basis
      }),
      at
    )
  const problem = (kind: PaymentProblem["problem"], detail: string) =>
    sendMail(
      new PaymentProblem({
        sessionId: session.id,
        customerEmail: session.card.email,
        amountPence: pence(quote.chargePence),
        problem: kind,
        detail
      }),
      at
    )
  switch (outcome._tag) {
    case "Paid":
      return [receipt("charged", outcome.amountPence)]
    case "NotBilled":
      return [receipt(outcome.reason === "no_door_code" ? "no_door_code" : "not_billed", 0)]
    case "Waived":
      return [receipt("waived", 0)]
    case "PaymentFailed":
      return [problem("declined", `${outcome.declineCode}: ${outcome.message}`)]
    case "NeedsAuthentication":
      return [problem("needs_authentication", `PaymentIntent ${outcome.paymentIntentId} needs the customer`)]
    case "PaymentUnknown":
      return [settleCharge(session.id, new Date(at.getTime() + Duration.toMillis(settleDelay)))]
  }
}

/** `charge`, given up after `wait` (the charge is left unknown, to be settled by reading it back). */
const chargeWithin = (session: Session, amountPence: number, wait: Duration.Duration | undefined) =>
  wait === undefined
    ? charge(session, amountPence)
    : charge(session, amountPence).pipe(
        Effect.timeoutTo({
          duration: wait,
          onSuccess: (outcome): Outcome => outcome,
          onTimeout: (): Outcome =>
            new PaymentUnknown({
              detail: `the payment provider had not answered within ${Duration.format(wait)}; settled in the background`
            })
        })
      )

/** Step 2 and 3 for a session in `Ending`. */
const finishEnding = (ending: Session, wait?: Duration.Duration) =>
  Effect.gen(function* () {
    if (ending.state._tag !== "Ending") return ending
    const policy = yield* Policy
    const { waiver, quote, billedFrom } = ending.state
    const outcome: Outcome = Option.isSome(waiver)
      ? new Waived(waiver.value)
      : billedFrom._tag === "NoCode"
        ? new NotBilled({ reason: "no_door_code" })
        : quote.chargePence === 0
          ? new NotBilled({ reason: "below_minimum" })
          : yield* chargeWithin(ending, quote.chargePence, wait)
    if (outcome._tag === "PaymentUnknown") {
      yield* Effect.logWarning("charge outcome unknown; settled later by reading it back").pipe(
        Effect.annotateLogs({ sessionId: ending.id, detail: outcome.detail })
      )
    }
    return yield* retryWhenStale(
      Effect.gen(function* () {
        const { session: current, pod } = yield* loadSessionWithPod(ending.id)
        const at = yield* now
        return yield* persist(current, {
          transition: close(current, outcome, at),
          ...leavePod(current),
          work: [revokeAccess(current.id, at), ...followUpsFor(current, pod.name, outcome, at, policy.settleDelay)]
        })
      })
    )
  })

/**
 * Ends a session: charges per the tariff at most once, frees the pod, revokes the code.
 * Safe to call any number of times, concurrently: every call returns the one recorded end.
 */
export const endSession = Effect.fn("Sessions.end")(function* (sessionId: SessionId, options: EndOptions = {}) {
  const fixed = yield* fixEnd(sessionId, options)
  return yield* finishEnding(fixed, options.waitAtMost)
})

/** Staff end: at a given time and/or waived with a reason, recorded against their name. */
export const staffEndSession = Effect.fn("Sessions.staffEnd")(function* (
  sessionId: SessionId,
  options: { readonly staff: string; readonly at?: Date; readonly waiveReason?: string }
) {
  return yield* endSession(sessionId, {
    by: { _tag: "Staff", name: options.staff },
    ...(options.at === undefined ? {} : { at: options.at }),
    ...(options.waiveReason === undefined ? {} : { waiveReason: options.waiveReason })
  })
})

/** Safety net (background work): finishes an end that was interrupted after step 1. */
export const finishInterruptedEnd = Effect.fn("Sessions.finishInterruptedEnd")(function* (sessionId: SessionId) {
  return yield* finishEnding(yield* loadSession(sessionId))
})

/**
 * Settles a charge whose outcome is unknown by reading it back (background work). If the
 * provider has no charge for the session, it was never made: charge now, same key.
 */
export const settleUnknownCharge = Effect.fn("Payments.settleUnknown")(function* (sessionId: SessionId) {
  const payments = yield* boundedPayments
  const session = yield* loadSession(sessionId)
  if (session.state._tag !== "Ended" || session.state.outcome._tag !== "PaymentUnknown") return session
  const reading = yield* payments.readCharge({
    sessionId,
    paymentIntentId: Option.none(),
    customerId: session.card.customerId
  })
  const outcome: Outcome = Option.isNone(reading)
    ? yield* charge(session, session.state.quote.chargePence)
    : reading.value._tag === "Processing"
      ? new PaymentUnknown({ detail: `PaymentIntent ${reading.value.paymentIntentId} still processing` })
      : outcomeOf(reading.value)
  if (outcome._tag === "PaymentUnknown") return yield* new WorkNotDone({ reason: outcome.detail })
  return yield* recordSettlement(sessionId, outcome)
})

/** Records a payment outcome learnt later (read back, or from a payment event). */
export const recordSettlement = (sessionId: SessionId, outcome: Outcome) =>
  retryWhenStale(
    Effect.gen(function* () {
      const { session: current, pod } = yield* loadSessionWithPod(sessionId)
      const { settleDelay } = yield* Policy
      const at = yield* now
      return yield* persist(current, {
        transition: settle(current, outcome, at),
        work: followUpsFor(current, pod.name, outcome, at, settleDelay)
      })
    })
  )
