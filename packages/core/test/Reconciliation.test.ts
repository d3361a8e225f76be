/**
 * Reconciliation with the payment provider: what the provider's record settles for good is
 * recorded (a charge received that we recorded unknown or declined, dashboard refunds, a
 * cancelled hold), holds no session will capture are released, anything else is reported to
 * staff once; it never charges, and a second run finds nothing more to do.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  CardHold,
  Collection,
  type Message,
  Payments,
  type PodId,
  pence,
  Reconciliation,
  Session,
  SessionEnd,
  type SessionId,
  SessionStore,
  Staff,
  StaffPayments
} from "@qwip/core"
import { demoPod, FakeMailer, FakePayments, FakeStaticCodes, MemoryStaff, MemoryStore } from "@qwip/core/testing"
import { Duration, Effect, type Layer, Option, TestClock } from "effect"
import { activeSession, drainWork, staffKit, withTimePassing } from "./kit.js"

const kit = () => staffKit([demoPod({ id: "pod-1" }), demoPod({ id: "pod-2" })])

const reconTest = <A, E>(name: string, body: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof kit>>>) =>
  it.effect(name, () =>
    Effect.gen(function* () {
      const codes = yield* FakeStaticCodes
      codes.setCodes("pod-1" as PodId, ["04726"])
      codes.setCodes("pod-2" as PodId, ["55555"])
      return yield* body
    }).pipe(Effect.provide(kit()))
  )

const stored = (id: SessionId) =>
  Effect.map(MemoryStore, (store) => {
    const session = store.sessions().find((s) => s.id === id)
    if (session === undefined) throw new Error(`no session ${id}`)
    return session
  })

const outcome = (s: Session) => (s.state._tag === "Ended" ? s.state.outcome : undefined)

/** Everything created so far, up to now. */
const reconcileAll = Effect.gen(function* () {
  const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
  return yield* Reconciliation.reconcilePayments({ since: new Date(0), until: new Date(at + 1) })
})

const actions = (r: Reconciliation.ReconciliationReport) => r.findings.map((f) => f.action)

/** A session ended after 20 minutes (1000p) whose card behaves as `behaviour`. */
const endedSession = (pod = "pod-1", behaviour: "succeeds" | "declines" = "succeeds") =>
  Effect.gen(function* () {
    const session = yield* activeSession(pod, behaviour)
    yield* TestClock.adjust(Duration.minutes(20))
    return yield* withTimePassing(SessionEnd.endSession(session.id))
  })

const staffAlerts = Effect.map(FakeMailer, (m) =>
  m.sent().filter((x): x is Extract<Message, { _tag: "StaffAlert" }> => x._tag === "StaffAlert")
)

/** Places a card check hold for `session` at the fake provider, as finalize would. */
const placeHold = (session: Session, key = `qwip-booking-hold-${session.id}`) =>
  Effect.gen(function* () {
    const payments = yield* Payments
    const held = yield* payments.placeHold({
      sessionId: session.id,
      setupIntentId: session.setupIntentId,
      amountPence: pence(1500),
      customerId: session.card.customerId,
      paymentMethodId: session.card.paymentMethodId,
      idempotencyKey: key
    })
    if (held._tag !== "Held") throw new Error("hold not placed")
    return held.paymentIntentId
  })

/** Records `hold` on the session, as finalize does after placing it. */
const recordHold = (id: SessionId, paymentIntentId: string) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const session = yield* stored(id)
    const hold = new CardHold({ paymentIntentId, amountPence: pence(1500), status: "held" })
    return yield* store.commit({
      before: session,
      after: new Session({
        ...session,
        collection: new Collection({ ...session.collection, hold: Option.some(hold) }),
        version: session.version + 1
      }),
      releasePod: false,
      work: []
    })
  })

describe("Reconciliation", () => {
  reconTest(
    "a charge left unknown that the provider received is settled, once, without charging",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* activeSession("pod-1")
      yield* TestClock.adjust(Duration.minutes(20))
      // The provider charges, but no answer ever comes back.
      fake.faults.arm("chargeSession", "after", { times: 10 })
      const ended = yield* withTimePassing(SessionEnd.endSession(session.id))
      expect(outcome(ended)?._tag).toBe("PaymentUnknown")
      fake.faults.clear()

      const report = yield* reconcileAll
      expect(report.checked).toBe(1)
      expect(report.findings).toEqual([
        expect.objectContaining({ sessionId: session.id, action: "settled", detail: expect.stringContaining("1000p") })
      ])
      const settled = yield* stored(session.id)
      expect(outcome(settled)).toMatchObject({ _tag: "Paid", amountPence: 1000 })
      expect(fake.charges()).toHaveLength(1)
      expect(fake.succeededChargesFor(session.id)).toBe(1)

      const again = yield* reconcileAll
      expect(again.findings).toEqual([])
      yield* drainWork()
      expect(fake.charges()).toHaveLength(1)
      expect((yield* FakeMailer).sent().filter((m) => m._tag === "Receipt")).toHaveLength(1)
    })
  )

  reconTest(
    "a declined charge the customer later paid by link is settled; a failed one is left to dunning",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const declined = yield* endedSession("pod-1", "declines")
      expect(outcome(declined)?._tag).toBe("PaymentFailed")
      const payments = yield* Payments
      const link = yield* payments.paymentForCustomer({
        sessionId: declined.id,
        paymentIntentId: Option.none(),
        amountPence: pence(1000),
        customerId: declined.card.customerId,
        idempotencyKey: `qwip-session-charge-${declined.id}-link-1`
      })
      expect(actions(yield* reconcileAll)).toEqual([])
      fake.completeAuthentication(link.paymentIntentId, "succeeds")
      const report = yield* reconcileAll
      expect(report.findings).toEqual([
        expect.objectContaining({ paymentIntentId: link.paymentIntentId, action: "settled" })
      ])
      expect(outcome(yield* stored(declined.id))).toMatchObject({
        _tag: "Paid",
        paymentIntentId: link.paymentIntentId,
        amountPence: 1000
      })
      expect(actions(yield* reconcileAll)).toEqual([])
    })
  )

  reconTest(
    "refunds made in the dashboard are recorded, once",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* endedSession()
      const pi = (outcome(session) as { paymentIntentId: string }).paymentIntentId
      const refund = fake.dashboardRefund(pi, pence(400))
      const report = yield* reconcileAll
      expect(actions(report)).toEqual(["refund_recorded"])
      expect((yield* stored(session.id)).collection.refunds.map((r) => [r.key, r.amountPence])).toEqual([
        [`provider:${refund.refundId}`, 400]
      ])
      expect(actions(yield* reconcileAll)).toEqual([])
    })
  )

  reconTest(
    "a refund left pending whose request never reached the provider is reported until staff finish it",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* endedSession()
      fake.faults.arm("refund", "before", { times: 10 })
      const lost = yield* Effect.flip(
        withTimePassing(StaffPayments.refundPayment(session.id, { amountPence: Option.none(), reason: "x", by: "ada" }))
      )
      expect(lost._tag).toBe("PaymentsUnavailable")
      fake.faults.clear()
      const report = yield* reconcileAll
      expect(report.findings).toEqual([
        expect.objectContaining({ action: "reported", detail: expect.stringContaining("the session records 1000p") })
      ])
      yield* StaffPayments.refundPayment(session.id, { amountPence: Option.none(), reason: "x", by: "ada" })
      expect(actions(yield* reconcileAll)).toEqual([])
      expect(fake.refunds()).toHaveLength(1)
    })
  )

  reconTest(
    "holds: one in use is left alone; one its ended session no longer needs is released once it is old; a cancelled one is recorded",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      // pod-1: a live session using its recorded hold.
      const live = yield* activeSession("pod-1")
      const liveHold = yield* placeHold(live)
      yield* recordHold(live.id, liveHold)
      // pod-2: an ended session whose recorded hold was never released.
      const ended = yield* endedSession("pod-2")
      const endedHold = yield* placeHold(ended)
      yield* recordHold(ended.id, endedHold)
      // Too young to call stray.
      expect(actions(yield* reconcileAll)).toEqual([])
      yield* TestClock.adjust(Duration.minutes(31))
      const report = yield* reconcileAll
      expect(report.findings.map((f) => [f.paymentIntentId, f.action])).toEqual([[endedHold, "hold_released"]])
      expect(fake.holds().map((h) => [h.paymentIntentId, h.status])).toEqual([
        [liveHold, "requires_capture"],
        [endedHold, "canceled"]
      ])
      expect(Option.map((yield* stored(ended.id)).collection.hold, (h) => h.status)).toEqual(Option.some("released"))
      expect(actions(yield* reconcileAll)).toEqual([])

      // The provider cancels the live session's hold (expired): the record follows.
      fake.expireHold(liveHold)
      expect(actions(yield* reconcileAll)).toEqual(["fixed"])
      expect(Option.map((yield* stored(live.id)).collection.hold, (h) => h.status)).toEqual(Option.some("released"))
      expect(actions(yield* reconcileAll)).toEqual([])
      expect(fake.charges()).toHaveLength(1)
    })
  )

  reconTest(
    "the hold of a session whose capture's answer was lost is left to the settling; then all agrees",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* activeSession("pod-1")
      const held = yield* placeHold(session)
      yield* recordHold(session.id, held)
      yield* TestClock.adjust(Duration.minutes(20))
      // The capture is made but its answer never comes back: the end cannot know what was
      // captured, so nothing is charged and the settling work finds out.
      fake.faults.arm("captureHold", "after", { times: 10 })
      const ended = yield* withTimePassing(SessionEnd.endSession(session.id))
      expect(outcome(ended)?._tag).toBe("PaymentUnknown")
      fake.faults.clear()
      yield* TestClock.adjust(Duration.minutes(31))
      // The provider has it captured; the session still says held: not reported, the settling records it.
      expect(actions(yield* reconcileAll)).toEqual([])
      expect(fake.holds().map((h) => h.status)).toEqual(["succeeded"])
      // The settling work's capture (same key) answers what was captured: 1000p of the 1500p hold.
      yield* drainWork()
      expect(outcome(yield* stored(session.id))).toMatchObject({ _tag: "Paid", amountPence: 1000 })
      expect(fake.captures().map((c) => c.amountPence)).toEqual([1000])
      expect(actions(yield* reconcileAll)).toEqual([])
      expect(fake.netReceivedFor(session.id)).toBe(1000)
    })
  )

  reconTest(
    "a hold whose capture never reached the provider is kept while the payment is unknown, then captured",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* activeSession("pod-1")
      yield* recordHold(session.id, yield* placeHold(session))
      yield* TestClock.adjust(Duration.minutes(20))
      fake.faults.arm("captureHold", "before", { times: 10 })
      expect(outcome(yield* withTimePassing(SessionEnd.endSession(session.id)))?._tag).toBe("PaymentUnknown")
      fake.faults.clear()
      yield* TestClock.adjust(Duration.minutes(31))
      // Old enough to be stray, but its session's payment is still being settled: kept.
      expect(actions(yield* reconcileAll)).toEqual([])
      expect(fake.holds().map((h) => h.status)).toEqual(["requires_capture"])
      yield* drainWork()
      expect(fake.captures().map((c) => c.amountPence)).toEqual([1000])
      expect(actions(yield* reconcileAll)).toEqual([])
    })
  )

  reconTest(
    "a second hold a live session never recorded is released once old; the recorded one stays",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const live = yield* activeSession("pod-1")
      const recorded = yield* placeHold(live)
      yield* recordHold(live.id, recorded)
      const extra = yield* placeHold(live, "someone-else")
      yield* TestClock.adjust(Duration.minutes(31))
      const report = yield* reconcileAll
      expect(report.findings.map((f) => [f.paymentIntentId, f.action])).toEqual([[extra, "hold_released"]])
      expect(fake.holds().map((h) => h.status)).toEqual(["requires_capture", "canceled"])
    })
  )

  reconTest(
    "money the session did not ask for is reported to staff once, never refunded or charged",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const payments = yield* Payments
      const session = yield* activeSession("pod-1")
      yield* TestClock.adjust(Duration.minutes(20))
      const waived = yield* withTimePassing(
        SessionEnd.endSession(session.id, { by: Staff("sam"), waiveReason: "fault" })
      )
      expect(outcome(waived)?._tag).toBe("Waived")
      // Someone charges the card by hand, naming the session.
      yield* payments.chargeSession({
        sessionId: session.id,
        amountPence: pence(1000),
        customerId: session.card.customerId,
        paymentMethodId: session.card.paymentMethodId,
        receiptEmail: session.card.email,
        idempotencyKey: "by-hand"
      })
      const report = yield* reconcileAll
      expect(report.findings).toEqual([
        expect.objectContaining({ action: "reported", detail: expect.stringContaining("not charged (Waived)") })
      ])
      expect(outcome(yield* stored(session.id))?._tag).toBe("Waived")
      expect(actions(yield* reconcileAll)).toEqual(["reported"])
      yield* drainWork()
      const alerts = yield* staffAlerts
      expect(alerts.map((a) => [a.topic, a.sessionId, a.podId])).toEqual([["reconciliation", session.id, "pod-1"]])
      expect(fake.refunds()).toEqual([])
      expect(fake.charges()).toHaveLength(1)
    })
  )

  reconTest(
    "a second successful charge for a paid session is reported",
    Effect.gen(function* () {
      const payments = yield* Payments
      const session = yield* endedSession()
      const second = yield* payments.chargeSession({
        sessionId: session.id,
        amountPence: pence(1000),
        customerId: session.card.customerId,
        paymentMethodId: session.card.paymentMethodId,
        receiptEmail: session.card.email,
        idempotencyKey: "twice"
      })
      const report = yield* reconcileAll
      expect(report.findings).toEqual([
        expect.objectContaining({
          paymentIntentId: second._tag === "Succeeded" ? second.paymentIntentId : "",
          action: "reported",
          detail: expect.stringContaining("a second payment")
        })
      ])
    })
  )

  reconTest(
    "the provider unreachable fails the run; staff's run is audited with what it found",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      yield* endedSession()
      fake.faults.arm("sessionPayments", "before")
      const failed = yield* Effect.flip(reconcileAll)
      expect(failed._tag).toBe("PaymentsUnavailable")
      const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
      const report = yield* StaffPayments.reconcile({ since: new Date(0), until: new Date(at + 1), by: "ada" })
      expect(report.checked).toBe(1)
      expect(report.findings).toEqual([])
      const audit = (yield* MemoryStaff).audit().filter((a) => a.action === "payments.reconcile")
      expect(audit.map((a) => [a.actor, a.after])).toEqual([["ada", { checked: 1, findings: [] }]])
      // A window with nothing in it checks nothing.
      const empty = yield* Reconciliation.reconcilePayments({ since: new Date(at + 1), until: new Date(at + 2) })
      expect(empty.checked).toBe(0)
    })
  )
})
