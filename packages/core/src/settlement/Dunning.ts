/**
 * Dunning: collecting a charge the end could not make. When a session's outcome newly becomes
 * `PaymentFailed` or `NeedsAuthentication`, the customer is emailed a pay link and, unless the
 * decline is hard (`HARD_DECLINE_CODES`), `collect-payment` work is scheduled per the policy's
 * `dunningSchedule`, counted from the decline. Each attempt is recorded `pending` with its own
 * key before it is sent, charges what is still owed, and on failure emails the link again;
 * when the schedule runs out the session is unpaid after collection and staff are told once.
 * Paying any way marks dunning `paid` (see `Lifecycle.settle`), and later attempts do nothing.
 */
import { Duration, Effect, Option } from "effect"
import { collectPaymentWork, sendMail, type WorkOrder } from "../background/Work.js"
import { WorkNotDone } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { PaymentRequest, StaffAlert } from "../Messages.js"
import { boundedPayments } from "../OutsideCalls.js"
import { chargeRetry, Policy } from "../Policy.js"
import { PayLinks } from "../ports/PayLinks.js"
import { type ChargeResult, chargeKeyFor, HARD_DECLINE_CODES } from "../ports/Payments.js"
import { recordCollection, settle } from "../session/Lifecycle.js"
import type { Outcome, Session } from "../session/Session.js"
import { loadSession, loadSessionWithPod, now, persist, retryWhenStale } from "../session/SessionSteps.js"
import { pence } from "../tariff/Money.js"
import { followUpsFor, outcomeOf, stillOwedPence } from "./ChargeOutcome.js"
import { type Collection, CollectionAttempt, capturedPence, Dunning, withDunning } from "./Collection.js"

// The record itself, reachable as `Dunning.Dunning` where this module is the `Dunning` namespace.
export { CollectionAttempt, Dunning } from "./Collection.js"

/** The idempotency key of the `attempt`-th dunning attempt. */
export const collectKeyFor = (sessionId: SessionId, attempt: number): string =>
  `${chargeKeyFor(sessionId)}-collect-${attempt}`

/** A decline the card networks say not to retry. */
export const isHardDecline = (code: string): boolean => HARD_DECLINE_CODES.has(code)

const later = (at: Date, by: Duration.Duration) => new Date(at.getTime() + Duration.toMillis(by))

/**
 * The customer's pay link email for what is still owed. Without a `PayLinks` service (a
 * deployment with no pay page) there is no link to send: logged, and nothing queued.
 */
export const paymentRequestWork = (
  session: Session,
  podName: string,
  reason: PaymentRequest["reason"],
  attempt: number,
  at: Date
) =>
  Effect.gen(function* () {
    const amount = stillOwedPence(session)
    if (amount <= 0) return [] as ReadonlyArray<WorkOrder>
    const links = yield* Effect.serviceOption(PayLinks)
    if (Option.isNone(links)) {
      yield* Effect.logWarning("no pay links configured: the customer is not sent a pay link").pipe(
        Effect.annotateLogs({ sessionId: session.id })
      )
      return [] as ReadonlyArray<WorkOrder>
    }
    const { payLinkValidity } = yield* Policy
    const linkExpiresAt = later(at, payLinkValidity)
    const link = yield* links.value.linkFor(session.id, linkExpiresAt)
    return [
      sendMail(
        new PaymentRequest({
          to: session.card.email,
          sessionId: session.id,
          podName,
          amountPence: pence(amount),
          reason,
          attempt,
          link,
          linkExpiresAt
        }),
        at
      )
    ] as ReadonlyArray<WorkOrder>
  })

const requestReason = (outcome: Outcome): PaymentRequest["reason"] =>
  outcome._tag === "NeedsAuthentication" ? "needs_authentication" : "declined"

/** Staff hear once that a session stays unpaid after collection. */
const unpaidAlert = (session: Session, detail: string, at: Date) =>
  sendMail(
    new StaffAlert({ topic: "unpaid_after_collection", sessionId: session.id, podId: session.podId, detail }),
    at
  )

export interface DunningStep {
  readonly collection: Collection
  readonly work: ReadonlyArray<WorkOrder>
}

/**
 * What an outcome recorded on `session` (as it was before) starts: dunning, once per session,
 * when the outcome needs the customer (declined, or authentication) and money is still owed.
 * Recorded in the same step as the outcome.
 */
export const startDunning = (session: Session, podName: string, outcome: Outcome, at: Date) =>
  Effect.gen(function* () {
    const none: DunningStep = { collection: session.collection, work: [] }
    if (outcome._tag !== "PaymentFailed" && outcome._tag !== "NeedsAuthentication") return none
    if (Option.isSome(session.collection.dunning) || stillOwedPence(session) <= 0) return none
    const { dunningSchedule } = yield* Policy
    const request = yield* paymentRequestWork(session, podName, requestReason(outcome), 0, at)
    const first = dunningSchedule[0]
    if (outcome._tag === "PaymentFailed" && isHardDecline(outcome.declineCode)) {
      const dunning = new Dunning({ status: "stopped", nextAttemptAt: Option.none(), attempts: [] })
      return { collection: withDunning(session.collection, dunning), work: request }
    }
    if (first === undefined) {
      // No schedule: nothing will be tried again, so the session is unpaid after collection now.
      const dunning = new Dunning({ status: "exhausted", nextAttemptAt: Option.none(), attempts: [] })
      return {
        collection: withDunning(session.collection, dunning),
        work: [...request, unpaidAlert(session, "no dunning schedule: the charge is not retried", at)]
      }
    }
    const nextAt = later(at, first)
    const dunning = new Dunning({ status: "scheduled", nextAttemptAt: Option.some(nextAt), attempts: [] })
    return {
      collection: withDunning(session.collection, dunning),
      work: [...request, collectPaymentWork(session.id, 1, nextAt)]
    } satisfies DunningStep
  })

/** Replaces (or adds) attempt `a` in the session's dunning. */
const withAttempt = (c: Collection, d: Dunning, a: CollectionAttempt, patch: Partial<Dunning> = {}): Collection =>
  withDunning(
    c,
    new Dunning({
      ...d,
      ...patch,
      attempts: [...d.attempts.filter((x) => x.attempt !== a.attempt), a].sort((x, y) => x.attempt - y.attempt)
    })
  )

/** The dunning attempt `attempt` may run now, or why not (then the work has nothing to do). */
const dueAttempt = (session: Session, attempt: number): Option.Option<Dunning> => {
  const state = session.state
  if (state._tag !== "Ended" || state.outcome._tag === "Paid") return Option.none()
  return Option.filter(
    session.collection.dunning,
    (d) =>
      d.status === "scheduled" &&
      d.attempts.every((a) => a.attempt !== attempt || a.status === "pending") &&
      !d.attempts.some((a) => a.attempt > attempt)
  )
}

/**
 * The `attempt`-th dunning attempt (`collect-payment` work): records it `pending`, charges what
 * is still owed off-session with the attempt's key, and records what came of it. A crash
 * re-runs it with the same key and amount; an attempt already answered, or dunning no longer
 * scheduled (paid, stopped, exhausted), does nothing.
 */
export const collectPayment = Effect.fn("Dunning.collectPayment")(function* (sessionId: SessionId, attempt: number) {
  const policy = yield* Policy
  const payments = yield* boundedPayments
  const first = yield* loadSession(sessionId)
  if (first.state._tag === "Ended" && first.state.outcome._tag === "PaymentUnknown") {
    return yield* new WorkNotDone({ reason: "the last charge's outcome is not known yet; it settles first" })
  }
  if (Option.isNone(dueAttempt(first, attempt))) return first

  // Recorded before it is sent, so a crash resends the same key for the same amount.
  const pending = yield* retryWhenStale(
    Effect.gen(function* () {
      const current = yield* loadSession(sessionId)
      const dunning = dueAttempt(current, attempt)
      if (Option.isNone(dunning)) return Option.none()
      const recorded = dunning.value.attempts.find((a) => a.attempt === attempt)
      if (recorded !== undefined) return Option.some(recorded)
      const owed = stillOwedPence(current)
      if (owed <= 0) return Option.none()
      const at = yield* now
      const record = new CollectionAttempt({
        attempt,
        idempotencyKey: collectKeyFor(sessionId, attempt),
        amountPence: pence(owed),
        status: "pending",
        paymentIntentId: Option.none(),
        declineCode: Option.none(),
        at
      })
      yield* persist(current, {
        transition: recordCollection(current, withAttempt(current.collection, dunning.value, record), at)
      })
      return Option.some(record)
    })
  )
  if (Option.isNone(pending)) return yield* loadSession(sessionId)
  const record = pending.value
  const result = yield* payments
    .chargeSession({
      sessionId,
      amountPence: record.amountPence,
      customerId: first.card.customerId,
      paymentMethodId: first.card.paymentMethodId,
      receiptEmail: first.card.email,
      idempotencyKey: record.idempotencyKey
    })
    .pipe(Effect.retry({ schedule: chargeRetry(policy) }))
  return yield* retryWhenStale(recordAttempt(sessionId, record, result))
})

/** Records an attempt's answer: paid, or the next attempt scheduled, stopped or exhausted. */
const recordAttempt = (sessionId: SessionId, record: CollectionAttempt, result: ChargeResult) =>
  Effect.gen(function* () {
    const { dunningSchedule } = yield* Policy
    const { session: current, pod } = yield* loadSessionWithPod(sessionId)
    const at = yield* now
    const dunning = current.collection.dunning
    const state = current.state
    if (Option.isNone(dunning) || state._tag !== "Ended") return current
    // Recorded already (a re-run after the answer was kept): the schedule has moved on.
    const known = dunning.value.attempts.find((a) => a.attempt === record.attempt)
    if (known !== undefined && known.status !== "pending") return current
    const answered = new CollectionAttempt({
      ...record,
      status:
        result._tag === "Succeeded" ? "succeeded" : result._tag === "Declined" ? "declined" : "needs_authentication",
      paymentIntentId: result._tag === "Declined" ? result.paymentIntentId : Option.some(result.paymentIntentId),
      declineCode: result._tag === "Declined" ? Option.some(result.code) : Option.none()
    })
    const outcome = outcomeOf(result, capturedPence(current.collection))
    if (state.outcome._tag === "Paid") {
      // Paid meanwhile: by this attempt (its webhook came first), or another way (the pay link,
      // staff), when staff are told to refund one of the two payments.
      return yield* persist(current, {
        transition: recordCollection(current, withAttempt(current.collection, dunning.value, answered), at),
        work:
          result._tag === "Succeeded" && result.paymentIntentId !== state.outcome.paymentIntentId
            ? [
                sendMail(
                  new StaffAlert({
                    topic: "reconciliation",
                    sessionId,
                    podId: current.podId,
                    detail: `dunning attempt ${record.attempt} charged ${record.amountPence}p (${answered.paymentIntentId.pipe(Option.getOrElse(() => "?"))}) after the session was paid by ${state.outcome.paymentIntentId}: refund one`
                  }),
                  at
                )
              ]
            : []
      })
    }
    if (outcome._tag === "Paid") {
      // `settle` marks dunning paid; the receipt follows.
      const collection = withAttempt(current.collection, dunning.value, answered)
      return yield* persist(current, {
        transition: settle(current, outcome, at, collection),
        work: followUpsFor(current, pod.name, outcome, at)
      })
    }
    const hard = result._tag === "Declined" && isHardDecline(result.code)
    const next = dunningSchedule[record.attempt]
    const previous = dunningSchedule[record.attempt - 1] ?? Duration.zero
    const dueAt = Option.getOrElse(dunning.value.nextAttemptAt, () => at)
    const patch: Partial<Dunning> = hard
      ? { status: "stopped", nextAttemptAt: Option.none() }
      : next === undefined
        ? { status: "exhausted", nextAttemptAt: Option.none() }
        : {
            status: "scheduled",
            // Counted from the decline: attempt n is due at decline + schedule[n-1].
            nextAttemptAt: Option.some(later(dueAt, Duration.subtract(next, previous)))
          }
    const collection = withAttempt(current.collection, dunning.value, answered, patch)
    const request = yield* paymentRequestWork(current, pod.name, requestReason(outcome), record.attempt, at)
    const work: Array<WorkOrder> = [...request]
    const nextAt = patch.nextAttemptAt ?? Option.none()
    if (patch.status === "scheduled" && Option.isSome(nextAt)) {
      work.push(collectPaymentWork(sessionId, record.attempt + 1, nextAt.value))
    }
    if (patch.status === "exhausted") {
      work.push(
        unpaidAlert(
          current,
          `unpaid after collection: ${record.attempt} attempt(s) declined, ${record.amountPence}p still owed`,
          at
        )
      )
    }
    return yield* persist(current, { transition: settle(current, outcome, at, collection), work })
  })
