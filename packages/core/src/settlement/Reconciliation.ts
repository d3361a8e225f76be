/**
 * Comparing our records with the payment provider's (`Payments.sessionPayments`, every
 * PaymentIntent carrying a Qwip session id, holds included) over a window, as background
 * work and as `qwip payments reconcile`. What the provider's record settles for good is
 * recorded: a charge it received that we recorded unknown, declined or waiting for the
 * customer; refunds made in its dashboard; a hold it cancelled. A hold its session will not
 * capture (or one a session never recorded) is released once older than `strayHoldAge`. Anything else that disagrees (money we
 * did not ask for, amounts that differ) is reported to staff, once per session. It never
 * charges, and a second run over the same window changes nothing more.
 */
import { Duration, Effect, Option } from "effect"
import { sendMail } from "../background/Work.js"
import type { SessionId } from "../Ids.js"
import { StaffAlert } from "../Messages.js"
import { boundedPayments } from "../OutsideCalls.js"
import { Policy } from "../Policy.js"
import type { ProviderPayment } from "../ports/Payments.js"
import { SessionStore } from "../ports/SessionStore.js"
import { recordCollection } from "../session/Lifecycle.js"
import { isUnsettled, type Session } from "../session/Session.js"
import { loadSession, now, persist, retryWhenStale } from "../session/SessionSteps.js"
import { heldHold, releaseKeyFor, releaseLeftoverHold } from "./CardHolds.js"
import { owedPence, paidWithCapture } from "./ChargeOutcome.js"
import { CardHold, capturedPence, withHold } from "./Collection.js"
import { paidParts, recordProviderRefunds, refundedFrom } from "./Refunds.js"
import { recordSettlement } from "./Settlement.js"

export type ReconciliationAction = "settled" | "fixed" | "refund_recorded" | "hold_released" | "reported"

export interface ReconciliationFinding {
  readonly sessionId: SessionId
  readonly paymentIntentId: string
  readonly action: ReconciliationAction
  readonly detail: string
}

export interface ReconciliationReport {
  readonly since: Date
  readonly until: Date
  /** PaymentIntents the provider listed for the window. */
  readonly checked: number
  /** What disagreed, and what was done about it; empty when everything agrees. */
  readonly findings: ReadonlyArray<ReconciliationFinding>
}

/** The key releasing a hold its session never recorded (the recorded one is `CardHolds`'). */
const strayReleaseKeyFor = (sessionId: SessionId, paymentIntentId: string) =>
  `${releaseKeyFor(sessionId)}-${paymentIntentId}`

/** Records the session's hold released: the provider cancelled it. */
const recordHoldReleased = (sessionId: SessionId, paymentIntentId: string) =>
  retryWhenStale(
    Effect.gen(function* () {
      const current = yield* loadSession(sessionId)
      const held = Option.filter(heldHold(current.collection), (h) => h.paymentIntentId === paymentIntentId)
      if (Option.isNone(held)) return current
      const released = withHold(current.collection, new CardHold({ ...held.value, status: "released" }))
      return yield* persist(current, { transition: recordCollection(current, released, yield* now) })
    })
  )

/** What one provider PaymentIntent tells us about its session, and what was done. */
const reconcileOne = (p: ProviderPayment) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const { strayHoldAge } = yield* Policy
    const at = yield* now
    const finding = (action: ReconciliationAction, detail: string): Option.Option<ReconciliationFinding> =>
      Option.some({ sessionId: p.sessionId, paymentIntentId: p.paymentIntentId, action, detail })
    const pi = `PaymentIntent ${p.paymentIntentId}`
    const old = at.getTime() - p.createdAt.getTime() >= Duration.toMillis(strayHoldAge)

    const found = yield* store.session(p.sessionId)
    if (Option.isNone(found)) {
      // Not ours to release or record: it may be another environment's on the same account.
      return p.receivedPence > 0 || p.status === "requires_capture"
        ? Option.toArray(
            finding(
              "reported",
              p.status === "requires_capture"
                ? `${pi}: a hold of ${p.amountPence}p for session ${p.sessionId}, which Qwip has no record of`
                : `${pi} received ${p.receivedPence}p for session ${p.sessionId}, which Qwip has no record of`
            )
          )
        : []
    }
    const session = found.value
    // A refund made in the dashboard is final whatever else disagrees.
    const refunds: Array<ReconciliationFinding> = []
    if (p.receivedPence > 0 && p.refundedPence !== refundedFrom(session.collection, p.paymentIntentId)) {
      const ours = paidParts(session).some((part) => part.paymentIntentId === p.paymentIntentId)
      const r = ours ? yield* recordProviderRefunds(p.sessionId, p.paymentIntentId) : undefined
      const about = { sessionId: p.sessionId, paymentIntentId: p.paymentIntentId }
      if (r?._tag === "Applied") {
        refunds.push({
          ...about,
          action: "refund_recorded",
          detail: `${pi}: the provider has refunded ${p.refundedPence}p in all; recorded`
        })
      }
      const after = yield* store.session(p.sessionId)
      const recorded = Option.match(after, {
        onNone: () => 0,
        onSome: (s) => refundedFrom(s.collection, p.paymentIntentId)
      })
      if (recorded !== p.refundedPence) {
        // Typically our refund whose request never reached the provider: staff repeat it to finish it.
        refunds.push({
          ...about,
          action: "reported",
          detail: `${pi}: the provider has refunded ${p.refundedPence}p; the session records ${recorded}p (a pending refund is finished by repeating it)`
        })
      }
    }
    const rest = yield* compare(p, session, old, finding)
    return [...refunds, ...Option.toArray(rest)]
  })

/** The charge or hold `p` against the session's record: what disagrees, and what was done. */
const compare = (
  p: ProviderPayment,
  session: Session,
  old: boolean,
  finding: (action: ReconciliationAction, detail: string) => Option.Option<ReconciliationFinding>
) =>
  Effect.gen(function* () {
    const payments = yield* boundedPayments
    const none = Option.none<ReconciliationFinding>()
    const pi = `PaymentIntent ${p.paymentIntentId}`
    const state = session.state
    const hold = session.collection.hold
    const recordedHold = Option.filter(hold, (h) => h.paymentIntentId === p.paymentIntentId)

    if (p.purpose === "hold") {
      switch (p.status) {
        case "requires_capture": {
          if (!old) return none
          if (Option.isSome(recordedHold)) {
            // The session's own hold: released by the same rule (and key) as its `release-hold` work,
            // which keeps it while the session is live or its payment is still being settled.
            const after = yield* releaseLeftoverHold(p.sessionId)
            const recorded = Option.filter(after.collection.hold, (h) => h.paymentIntentId === p.paymentIntentId)
            if (Option.exists(recorded, (h) => h.status === "released")) {
              return finding(
                "hold_released",
                `${pi}: the session is ${after.state._tag} and its hold of ${p.amountPence}p was still on the card`
              )
            }
            return Option.exists(recorded, (h) => h.status === "captured")
              ? finding("reported", `${pi}: a hold to release had been captured (${p.amountPence}p held)`)
              : none
          }
          // A hold the session never recorded is used by nothing, but a booking still recording
          // its first hold: one placed under the booking's key while no hold is recorded yet.
          if (state._tag === "Provisioning" && Option.isNone(hold)) return none
          const released = yield* payments.releaseHold({
            sessionId: p.sessionId,
            paymentIntentId: p.paymentIntentId,
            idempotencyKey: strayReleaseKeyFor(p.sessionId, p.paymentIntentId)
          })
          return released === "captured"
            ? finding("reported", `${pi}: a hold the session never recorded was captured (${p.amountPence}p held)`)
            : finding("hold_released", `${pi}: a hold of ${p.amountPence}p the session (${state._tag}) never recorded`)
        }
        case "canceled":
          if (Option.exists(recordedHold, (h) => h.status === "held")) {
            yield* recordHoldReleased(p.sessionId, p.paymentIntentId)
            return finding("fixed", `${pi}: the provider cancelled the hold; recorded released`)
          }
          return none
        case "succeeded": {
          const captured = Option.filter(recordedHold, (h) => h.status === "captured")
          if (Option.exists(captured, (h) => h.capturedPence === p.receivedPence)) return none
          // An end still running, or settling a capture whose answer was lost, records it itself.
          const settling =
            state._tag === "Ending" || (state._tag === "Ended" && state.outcome._tag === "PaymentUnknown")
          if (settling && Option.exists(recordedHold, (h) => h.status === "held")) return none
          return finding(
            "reported",
            Option.match(captured, {
              onNone: () => `${pi}: the provider captured ${p.receivedPence}p from a hold the session never captured`,
              onSome: (h) =>
                `${pi}: the provider captured ${p.receivedPence}p; the session recorded ${h.capturedPence}p`
            })
          )
        }
        default:
          return none
      }
    }

    // A charge.
    if (state._tag === "Ending") return none // its end is running and records the answer itself
    const captured = capturedPence(session.collection)
    if (state._tag !== "Ended") {
      return p.receivedPence > 0
        ? finding("reported", `${pi} received ${p.receivedPence}p, but the session asked for no charge (${state._tag})`)
        : none
    }
    const outcome = state.outcome
    const owed = owedPence(session)
    if (p.status !== "succeeded") {
      return outcome._tag === "Paid" && outcome.paymentIntentId === p.paymentIntentId
        ? finding("reported", `${pi} is ${p.status} at the provider, but the session recorded it paid`)
        : none
    }
    if (isUnsettled(outcome)) {
      if (p.receivedPence + captured !== owed) {
        return finding(
          "reported",
          `${pi} received ${p.receivedPence}p${captured > 0 ? ` (plus ${captured}p captured from the hold)` : ""}; the session owes ${owed}p and recorded ${outcome._tag}`
        )
      }
      yield* recordSettlement(p.sessionId, paidWithCapture(p.paymentIntentId, p.receivedPence, captured))
      return finding("settled", `${pi} received ${p.receivedPence}p; the session had recorded ${outcome._tag}`)
    }
    if (outcome._tag === "Paid") {
      if (outcome.paymentIntentId !== p.paymentIntentId) {
        return finding(
          "reported",
          `${pi} received ${p.receivedPence}p, but the session was paid by ${outcome.paymentIntentId}: a second payment`
        )
      }
      return p.receivedPence + captured === outcome.amountPence
        ? none
        : finding(
            "reported",
            `${pi} received ${p.receivedPence}p${captured > 0 ? ` (plus ${captured}p captured from the hold)` : ""}; the session recorded ${outcome.amountPence}p paid`
          )
    }
    return finding("reported", `${pi} received ${p.receivedPence}p, but the session was not charged (${outcome._tag})`)
  })

/**
 * Reconciles the provider's payments created in `[since, until)` with the sessions they name
 * (see the module's notes). Staff get one `StaffAlert` (`reconciliation`) per session with
 * something to report; a failing call to the provider fails the run, which is safe to repeat.
 */
export const reconcilePayments = Effect.fn("Reconciliation.reconcilePayments")(function* (window: {
  readonly since: Date
  readonly until: Date
}) {
  const payments = yield* boundedPayments
  const store = yield* SessionStore
  const listed = yield* payments.sessionPayments(window)
  const ordered = [...listed].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
  const findings: Array<ReconciliationFinding> = []
  for (const p of ordered) {
    const found = yield* reconcileOne(p).pipe(
      Effect.catchTags({
        SessionNotFound: () => Effect.succeed<ReadonlyArray<ReconciliationFinding>>([]),
        StaleSession: (e) => Effect.die(e),
        IllegalTransition: (e) =>
          Effect.succeed<ReadonlyArray<ReconciliationFinding>>([
            {
              sessionId: p.sessionId,
              paymentIntentId: p.paymentIntentId,
              action: "reported",
              detail: `PaymentIntent ${p.paymentIntentId}: ${e.message}`
            }
          ])
      })
    )
    findings.push(...found)
  }
  const at = yield* now
  const reported = findings.filter((f) => f.action === "reported")
  for (const sessionId of new Set(reported.map((f) => f.sessionId))) {
    const session = yield* store.session(sessionId)
    const detail = reported
      .filter((f) => f.sessionId === sessionId)
      .map((f) => f.detail)
      .join("; ")
    yield* store.enqueue([
      sendMail(
        new StaffAlert({
          topic: "reconciliation",
          sessionId,
          podId: Option.match(session, { onNone: () => "unknown", onSome: (s) => s.podId }),
          detail
        }),
        at
      )
    ])
  }
  yield* Effect.logInfo("payments reconciled").pipe(
    Effect.annotateLogs({ since: window.since.toISOString(), checked: listed.length, findings: findings.length })
  )
  return { since: window.since, until: window.until, checked: listed.length, findings } satisfies ReconciliationReport
})
