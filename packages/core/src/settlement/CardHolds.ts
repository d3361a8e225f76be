/**
 * The card check hold (policy `bookingHoldPence`): placed on the saved card when a booking is
 * finalized, before its door code is made; captured at the end up to what is owed; released
 * when nothing is captured from it. Each step has its own idempotency key derived from the
 * session, so a crash between any two steps re-runs them with the same keys and amounts.
 */
import { Effect, Option } from "effect"
import { releaseHoldWork, type WorkOrder } from "../background/Work.js"
import { CardDeclined } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { boundedPayments } from "../OutsideCalls.js"
import { chargeRetry, Policy } from "../Policy.js"
import type { HoldResult } from "../ports/Payments.js"
import { failProvisioning, recordCollection } from "../session/Lifecycle.js"
import type { Session } from "../session/Session.js"
import { leavePod, loadSession, now, persist, retryWhenStale } from "../session/SessionSteps.js"
import { pence } from "../tariff/Money.js"
import { CardHold, type Collection, withHold } from "./Collection.js"

export const holdKeyFor = (sessionId: SessionId): string => `qwip-booking-hold-${sessionId}`
export const captureKeyFor = (sessionId: SessionId): string => `qwip-hold-capture-${sessionId}`
export const releaseKeyFor = (sessionId: SessionId): string => `qwip-hold-release-${sessionId}`

const DECLINED = /^card declined \(([^)]*)\): (.*)$/s

/** The provisioning failure reason of a booking refused by its card check. */
export const declinedReason = (code: string, message: string): string => `card declined (${code}): ${message}`

/** The refusal a session failed by its card check answers (again) to finalize; none for other failures. */
export const declinedBooking = (session: Session): Option.Option<CardDeclined> => {
  if (session.state._tag !== "ProvisioningFailed") return Option.none()
  const match = DECLINED.exec(session.state.reason)
  return match === null
    ? Option.none()
    : Option.some(
        new CardDeclined({ setupIntentId: session.setupIntentId, code: match[1] ?? "", reason: match[2] ?? "" })
      )
}

/** Whether the policy wants a hold on this session that is not recorded yet. */
export const needsHold = (session: Session, holdPence: number | undefined): holdPence is number =>
  holdPence !== undefined &&
  holdPence > 0 &&
  session.state._tag === "Provisioning" &&
  Option.isNone(session.collection.hold)

/**
 * Places the booking's card check hold and records it, before any door code is made (finalize,
 * and the `provision-access` work after a crash). Same key every time, so a repeat finds the
 * same hold. A declined hold, or one the customer would have to authenticate, fails the session
 * (pod freed, no code, nothing charged) and answers `CardDeclined`. Without the policy, or
 * once recorded, it changes nothing.
 */
export const placeBookingHold = Effect.fn("CardHolds.placeBookingHold")(function* (sessionId: SessionId) {
  const policy = yield* Policy
  const session = yield* loadSession(sessionId)
  const refused = declinedBooking(session)
  if (Option.isSome(refused)) return yield* refused.value
  const holdPence = policy.bookingHoldPence
  if (!needsHold(session, holdPence)) return session
  const payments = yield* boundedPayments
  const result = yield* payments
    .placeHold({
      sessionId,
      setupIntentId: session.setupIntentId,
      amountPence: pence(holdPence),
      customerId: session.card.customerId,
      paymentMethodId: session.card.paymentMethodId,
      idempotencyKey: holdKeyFor(sessionId)
    })
    .pipe(Effect.retry({ schedule: chargeRetry(policy) }))
  const recorded = yield* retryWhenStale(
    Effect.gen(function* () {
      const current = yield* loadSession(sessionId)
      if (!needsHold(current, holdPence)) return current
      return yield* persist(current, holdStep(current, result, yield* now))
    })
  )
  const refusedNow = declinedBooking(recorded)
  if (Option.isSome(refusedNow)) return yield* refusedNow.value
  return recorded
})

/** What a hold's answer records: the hold, or the booking refused (a hold left pending is released). */
const holdStep = (session: Session, result: HoldResult, at: Date) => {
  switch (result._tag) {
    case "Held":
      return {
        transition: recordCollection(
          session,
          withHold(
            session.collection,
            new CardHold({ paymentIntentId: result.paymentIntentId, amountPence: result.amountPence, status: "held" })
          ),
          at
        )
      }
    case "Declined":
      return {
        transition: failProvisioning(session, declinedReason(result.code, result.message), at),
        ...leavePod(session)
      }
    case "NeedsAuthentication": {
      // Nothing is held until the customer authenticates, but the PaymentIntent is cancelled
      // all the same, so it can never become a hold later.
      const collection = withHold(
        session.collection,
        new CardHold({ paymentIntentId: result.paymentIntentId, amountPence: pence(0), status: "held" })
      )
      return {
        transition: failProvisioning(
          session,
          declinedReason("authentication_required", "the card needs the customer's authentication"),
          at,
          Option.none(),
          collection
        ),
        ...leavePod(session),
        work: [releaseHoldWork(session.id, at)]
      }
    }
  }
}

/** The hold still to release: one recorded `held`. */
export const heldHold = (c: Collection): Option.Option<CardHold> => Option.filter(c.hold, (h) => h.status === "held")

/** `release-hold` work for a session whose hold is still held, else none. */
export const releaseWorkIfHeld = (session: Session, at: Date): ReadonlyArray<WorkOrder> =>
  Option.isSome(heldHold(session.collection)) ? [releaseHoldWork(session.id, at)] : []

/**
 * Captures what the end owes from the hold (up to the hold), once, and records it on the session
 * before anything else is charged, so a re-run charges only the remainder. A hold that is gone
 * (expired, cancelled) is recorded released, and the whole amount is charged instead.
 */
export const captureForEnd = (session: Session, owedPence: number) =>
  Effect.gen(function* () {
    const hold = heldHold(session.collection)
    if (Option.isNone(hold) || owedPence <= 0 || hold.value.amountPence <= 0) return session
    const policy = yield* Policy
    const payments = yield* boundedPayments
    const amount = pence(Math.min(owedPence, hold.value.amountPence))
    const answer = yield* payments
      .captureHold({
        sessionId: session.id,
        paymentIntentId: hold.value.paymentIntentId,
        amountPence: amount,
        idempotencyKey: captureKeyFor(session.id)
      })
      .pipe(Effect.retry({ schedule: chargeRetry(policy) }))
    let captured = answer._tag === "Captured" ? answer.amountPence : pence(0)
    if (answer._tag === "NotCapturable" && answer.status === "succeeded") {
      // Captured before, its key forgotten by the provider: what it received is what was captured.
      const read = yield* payments.readPayment(hold.value.paymentIntentId)
      captured = Option.match(read, { onNone: () => pence(0), onSome: (p) => p.receivedPence })
    }
    const updated = new CardHold({
      ...hold.value,
      status: captured > 0 ? "captured" : "released",
      capturedPence: captured
    })
    return yield* retryWhenStale(
      Effect.gen(function* () {
        const current = yield* loadSession(session.id)
        if (Option.isNone(heldHold(current.collection))) return current
        return yield* persist(current, {
          transition: recordCollection(current, withHold(current.collection, updated), yield* now)
        })
      })
    )
  })

/**
 * Cancels a hold nothing will be captured from (`release-hold` work): the booking failed, or the
 * session ended owing nothing. A session still live, or whose payment is still being settled,
 * keeps its hold. A hold the provider says was captured is recorded so.
 */
export const releaseLeftoverHold = Effect.fn("CardHolds.releaseLeftoverHold")(function* (sessionId: SessionId) {
  const session = yield* loadSession(sessionId)
  const hold = heldHold(session.collection)
  if (Option.isNone(hold)) return session
  const state = session.state
  const done =
    state._tag === "ProvisioningFailed" || (state._tag === "Ended" && state.outcome._tag !== "PaymentUnknown")
  if (!done) return session
  const payments = yield* boundedPayments
  const answer = yield* payments.releaseHold({
    sessionId,
    paymentIntentId: hold.value.paymentIntentId,
    idempotencyKey: releaseKeyFor(sessionId)
  })
  let updated = new CardHold({ ...hold.value, status: "released" })
  if (answer === "captured") {
    const read = yield* payments.readPayment(hold.value.paymentIntentId)
    const received = Option.match(read, { onNone: () => pence(0), onSome: (p) => p.receivedPence })
    yield* Effect.logWarning("a hold to release was captured; reconciliation reports it").pipe(
      Effect.annotateLogs({ sessionId, paymentIntentId: hold.value.paymentIntentId, received })
    )
    updated = new CardHold({ ...hold.value, status: "captured", capturedPence: received })
  }
  return yield* retryWhenStale(
    Effect.gen(function* () {
      const current = yield* loadSession(sessionId)
      if (Option.isNone(heldHold(current.collection))) return current
      return yield* persist(current, {
        transition: recordCollection(current, withHold(current.collection, updated), yield* now)
      })
    })
  )
})
