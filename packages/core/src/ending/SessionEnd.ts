/**
 * Ending a session and getting paid for it, exactly once.
 *
 * 1. Fix the end time and price (→ Ending), with a `close-session` work item as a safety net.
 * 2. With a card check hold: capture what is owed, up to the hold, and record it on the
 *    session (`CardHolds.captureForEnd`).
 * 3. Charge what is still owed with an idempotency key derived from the session, so any
 *    retry, by anyone, is the same charge for the same amount.
 * 4. Close (→ Ended) with the outcome, free the pod, queue code revocation and emails; a hold
 *    nothing was captured from is released by `release-hold` work queued with it, and a charge
 *    that needs the customer starts dunning. A pod whose door code is on its lock stays held
 *    until the revocation confirms it gone.
 * A crash between any two steps is finished by a retry (or the safety net) with one capture
 * and one charge, for the right total.
 *
 * Every way a session ends goes through `endSession`: the customer (`CustomerEnd`), staff
 * (`StaffEnd`, and `StaffPods.releasePod` when forced) and the safety net (`SafetyNetEnd`).
 */
import { Duration, Effect, Option } from "effect"
import { closeSessionWork, revokeAccessWork } from "../background/Work.js"
import { InvalidEndTime } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { Policy, termsFor } from "../Policy.js"
import { beginEnd, close } from "../session/Lifecycle.js"
import {
  type Actor,
  Customer,
  NotBilled,
  type Outcome,
  Paid,
  PaymentUnknown,
  type Session,
  Waived
} from "../session/Session.js"
import { leavePod, loadSession, loadSessionWithPod, now, persist, retryWhenStale } from "../session/SessionSteps.js"
import { captureForEnd, releaseWorkIfHeld } from "../settlement/CardHolds.js"
import { chargeFixedPrice, followUpsFor, owedPence } from "../settlement/ChargeOutcome.js"
import { capturedPence, remainderPence } from "../settlement/Collection.js"
import { startDunning } from "../settlement/Dunning.js"
import { describeActor } from "../staff/StaffActor.js"
import { priceEnd } from "../tariff/Billing.js"

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
        Option.map((reason) => ({ reason, by: describeActor(by) }))
      )
      return yield* persist(session, {
        transition: beginEnd(session, { endedAt, ...priced, waiver, by }, at),
        work: [closeSessionWork(sessionId, new Date(at.getTime() + Duration.toMillis(policy.closeSafetyNet)))]
      })
    })
  )

/**
 * Collects what `session` owes: the hold's capture first (recorded), then the remainder charged.
 * `Paid` is the total; a capture with no remainder is paid by the hold's PaymentIntent. A
 * capture or charge whose answer never came is `PaymentUnknown`, settled by re-running this.
 */
export const collectOwed = (session: Session, owed: number) =>
  Effect.gen(function* () {
    const captured = yield* captureForEnd(session, owed)
    const remainder = remainderPence(owed, captured.collection)
    if (remainder > 0) return yield* chargeFixedPrice(captured, remainder)
    const hold = Option.getOrThrow(captured.collection.hold)
    return new Paid({ paymentIntentId: hold.paymentIntentId, amountPence: capturedPence(captured.collection) })
  }).pipe(
    Effect.catchTag("PaymentsUnavailable", (e) =>
      Effect.succeed<Outcome>(new PaymentUnknown({ detail: `capturing the card check hold: ${e.reason}` }))
    )
  )

/** `collectOwed`, given up after `wait` (the charge is left unknown, to be settled by reading it back). */
const chargeWithin = (session: Session, amountPence: number, wait: Duration.Duration | undefined) =>
  wait === undefined
    ? collectOwed(session, amountPence)
    : collectOwed(session, amountPence).pipe(
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
export const finishEnding = (ending: Session, wait?: Duration.Duration) =>
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
          : yield* chargeWithin(ending, owedPence(ending), wait)
    if (outcome._tag === "PaymentUnknown") {
      yield* Effect.logWarning("charge outcome unknown; settled later by reading it back").pipe(
        Effect.annotateLogs({ sessionId: ending.id, detail: outcome.detail })
      )
    }
    return yield* retryWhenStale(
      Effect.gen(function* () {
        const { session: current, pod } = yield* loadSessionWithPod(ending.id)
        const at = yield* now
        const dunning = yield* startDunning(current, pod.name, outcome, at)
        return yield* persist(current, {
          transition: close(current, outcome, at, dunning.collection),
          ...leavePod(current),
          work: [
            revokeAccessWork(current.id, at),
            ...followUpsFor(current, pod.name, outcome, at, policy.settleDelay),
            ...dunning.work,
            // Nothing was owed, or nothing could be captured: the hold is not needed.
            ...(outcome._tag === "PaymentUnknown" ? [] : releaseWorkIfHeld(current, at))
          ]
        })
      })
    )
  })

/**
 * Ends a session: charges per the tariff at most once, frees the pod, revokes the code.
 * Safe to call any number of times, concurrently: every call returns the one recorded end.
 */
export const endSession = Effect.fn("SessionEnd.endSession")(function* (
  sessionId: SessionId,
  options: EndOptions = {}
) {
  const fixed = yield* fixEnd(sessionId, options)
  return yield* finishEnding(fixed, options.waitAtMost)
})
