/**
 * Refunds: never more than was paid less refunded, split over the session's PaymentIntents
 * (the charge, then the captured hold), recorded pending before each request so a crash or a
 * lost answer is finished with the same keys, a repeat refunding nothing more, audited, the
 * customer emailed once; refunds made in the provider's dashboard recorded from its event.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  CardHold,
  ChargeRefunded,
  Collection,
  handlePaymentEvent,
  type Message,
  Payments,
  type PodId,
  pence,
  Refunds,
  Session,
  SessionEnd,
  type SessionId,
  SessionStore,
  Staff,
  StaffPayments
} from "@qwip/core"
import { demoPod, FakeMailer, FakePayments, FakeStaticCodes, MemoryStaff, MemoryStore } from "@qwip/core/testing"
import { Duration, Effect, Either, type Layer, Option, TestClock } from "effect"
import { activeSession, drainWork, staffKit, withTimePassing } from "./kit.js"

const kit = () => staffKit([demoPod({ id: "pod-1" }), demoPod({ id: "pod-2" })])

const refundTest = <A, E>(name: string, body: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof kit>>>) =>
  it.effect(name, () =>
    Effect.gen(function* () {
      const codes = yield* FakeStaticCodes
      codes.setCodes("pod-1" as PodId, ["04726"])
      codes.setCodes("pod-2" as PodId, ["55555"])
      return yield* body
    }).pipe(Effect.provide(kit()))
  )

const by = "ada"
const none = Option.none<ReturnType<typeof pence>>()
const some = (p: number) => Option.some(pence(p))

const stored = (id: SessionId) =>
  Effect.map(MemoryStore, (store) => {
    const session = store.sessions().find((s) => s.id === id)
    if (session === undefined) throw new Error(`no session ${id}`)
    return session
  })

/** A session ended after 20 minutes at 50p a minute: 1000p paid. */
const paidSession = (pod = "pod-1", behaviour: "succeeds" | "declines" = "succeeds") =>
  Effect.gen(function* () {
    const session = yield* activeSession(pod, behaviour)
    yield* TestClock.adjust(Duration.minutes(20))
    return yield* withTimePassing(SessionEnd.endSession(session.id))
  })

const paidIntent = (s: Session) => {
  if (s.state._tag !== "Ended" || s.state.outcome._tag !== "Paid") throw new Error("not paid")
  return s.state.outcome.paymentIntentId
}

const refundNotices = Effect.map(FakeMailer, (m) =>
  m.sent().filter((x): x is Extract<Message, { _tag: "RefundNotice" }> => x._tag === "RefundNotice")
)

/**
 * A session paid 1000p as the end records it with a card check hold: 600p captured from a
 * hold of 600p (at the fake provider), the remaining 400p charged under the session's key.
 */
const paidWithHold = Effect.gen(function* () {
  const fake = yield* FakePayments
  const payments = yield* Payments
  const session = yield* paidSession("pod-2")
  const chargePi = paidIntent(session)
  const held = yield* payments.placeHold({
    sessionId: session.id,
    setupIntentId: session.setupIntentId,
    amountPence: pence(600),
    customerId: session.card.customerId,
    paymentMethodId: session.card.paymentMethodId,
    idempotencyKey: `qwip-booking-hold-${session.id}`
  })
  if (held._tag !== "Held") throw new Error("hold not placed")
  yield* payments.captureHold({
    sessionId: session.id,
    paymentIntentId: held.paymentIntentId,
    amountPence: pence(600),
    idempotencyKey: `qwip-hold-capture-${session.id}`
  })
  // The end here charged all 1000p; 600p given back leaves the charge at the 400p remainder.
  fake.dashboardRefund(chargePi, pence(600))
  const hold = new CardHold({
    paymentIntentId: held.paymentIntentId,
    amountPence: pence(600),
    status: "captured",
    capturedPence: pence(600)
  })
  const store = yield* SessionStore
  const after = yield* store.commit({
    before: session,
    after: new Session({
      ...session,
      collection: new Collection({ hold: Option.some(hold), dunning: Option.none(), refunds: [] }),
      version: session.version + 1
    }),
    releasePod: false,
    work: []
  })
  return { session: after, chargePi, holdPi: held.paymentIntentId }
})

describe("Refunds: staff refunds", () => {
  refundTest(
    "a full refund gives back everything paid once, audited, the customer emailed; a repeat refunds nothing more",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* paidSession()
      const first = yield* StaffPayments.refundPayment(session.id, { amountPence: none, reason: "door jammed", by })
      expect(first.refundedPence).toBe(1000)
      expect(first.totalRefundedPence).toBe(1000)
      expect(first.repeated).toBe(false)
      expect(first.refunds.map((r) => [r.key, r.amountPence, r.status, r.by])).toEqual([
        [`qwip-refund-${session.id}-full-door-jammed-${paidIntent(session)}`, 1000, "succeeded", by]
      ])
      expect(first.refunds.map((r) => Option.isSome(r.refundId))).toEqual([true])
      expect(fake.refunds().map((r) => r.amountPence)).toEqual([1000])
      expect(fake.netReceivedFor(session.id)).toBe(0)

      const again = yield* StaffPayments.refundPayment(session.id, { amountPence: none, reason: "door jammed", by })
      expect(again.repeated).toBe(true)
      expect(again.refundedPence).toBe(0)
      expect(again.totalRefundedPence).toBe(1000)
      expect(fake.refunds()).toHaveLength(1)

      const more = yield* Effect.flip(
        StaffPayments.refundPayment(session.id, { amountPence: none, reason: "another reason", by })
      )
      expect(more._tag).toBe("NothingToRefund")
      expect(more.message).toContain("already refunded")

      yield* drainWork()
      const notices = yield* refundNotices
      expect(notices.map((n) => [n.to, n.amountPence, n.totalRefundedPence, n.reason])).toEqual([
        ["ada@example.com", 1000, 1000, "door jammed"]
      ])
      const audit = (yield* MemoryStaff).audit().filter((a) => a.action === "payments.refund")
      expect(audit.map((a) => [a.actor, a.subject])).toEqual([
        [by, session.id],
        [by, session.id]
      ])
      expect(audit[0]?.after).toMatchObject({ refundedPence: 1000, repeated: false })
      expect(audit[1]?.after).toMatchObject({ refundedPence: 0, repeated: true })
      const row = yield* stored(session.id)
      expect(row.collection.refunds.map((r) => r.status)).toEqual(["succeeded"])
    })
  )

  refundTest(
    "partial refunds never exceed what is left; the amount and reason make the key",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* paidSession()
      const a = yield* StaffPayments.refundPayment(session.id, { amountPence: some(200), reason: "Late start!", by })
      expect(a.refunds[0]?.key).toBe(`qwip-refund-${session.id}-200-late-start-${paidIntent(session)}`)
      expect(a.totalRefundedPence).toBe(200)
      // The same amount for another reason is another refund.
      const b = yield* StaffPayments.refundPayment(session.id, { amountPence: some(200), reason: "noisy", by })
      expect([b.refundedPence, b.totalRefundedPence, b.repeated]).toEqual([200, 400, false])
      const tooMuch = yield* Effect.flip(
        StaffPayments.refundPayment(session.id, { amountPence: some(601), reason: "goodwill", by })
      )
      expect(tooMuch._tag).toBe("RefundTooLarge")
      expect(tooMuch).toMatchObject({ requestedPence: 601, refundablePence: 600 })
      expect(tooMuch.message).toContain("£6.00")
      const rest = yield* StaffPayments.refundPayment(session.id, { amountPence: none, reason: "goodwill", by })
      expect([rest.refundedPence, rest.totalRefundedPence]).toEqual([600, 1000])
      expect(fake.refunds().map((r) => r.amountPence)).toEqual([200, 200, 600])
      yield* drainWork()
      expect((yield* refundNotices).map((n) => [n.amountPence, n.totalRefundedPence])).toEqual([
        [200, 200],
        [200, 400],
        [600, 1000]
      ])
    })
  )

  refundTest(
    "nothing to refund: a live, waived, declined or missing session, a zero amount; a reason is required",
    Effect.gen(function* () {
      const live = yield* activeSession("pod-1")
      const refuse = (id: SessionId, amount = none, reason = "x") =>
        Effect.flip(StaffPayments.refundPayment(id, { amountPence: amount, reason, by }))
      expect((yield* refuse(live.id))._tag).toBe("NothingToRefund")
      yield* TestClock.adjust(Duration.minutes(20))
      const waived = yield* withTimePassing(SessionEnd.endSession(live.id, { by: Staff("sam"), waiveReason: "fault" }))
      const w = yield* refuse(waived.id)
      expect(w._tag).toBe("NothingToRefund")
      expect(w.message).toContain("Waived")
      const declined = yield* paidSession("pod-2", "declines")
      expect((yield* refuse(declined.id))._tag).toBe("NothingToRefund")
      expect((yield* refuse("00000000-0000-4000-8000-000000000000" as SessionId))._tag).toBe("SessionNotFound")
      const paid = yield* paidSession("pod-1")
      expect((yield* refuse(paid.id, some(0)))._tag).toBe("NothingToRefund")
      expect((yield* refuse(paid.id, none, "   "))._tag).toBe("InvalidStaffRequest")
      expect((yield* FakePayments).refunds()).toEqual([])
      expect((yield* stored(paid.id)).collection.refunds).toEqual([])
    })
  )

  refundTest(
    "a refund is split over the charge, then the captured hold, each part with its own key",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const { session, chargePi, holdPi } = yield* paidWithHold
      expect(Refunds.paidParts(session).map((p) => [p.paymentIntentId, p.amountPence])).toEqual([
        [chargePi, 400],
        [holdPi, 600]
      ])
      const r = yield* StaffPayments.refundPayment(session.id, { amountPence: some(700), reason: "cold", by })
      expect(r.refunds.map((x) => [x.paymentIntentId, x.amountPence, x.key])).toEqual([
        [chargePi, 400, `qwip-refund-${session.id}-700-cold-${chargePi}`],
        [holdPi, 300, `qwip-refund-${session.id}-700-cold-${holdPi}`]
      ])
      expect(r.refundedPence).toBe(700)
      const rest = yield* StaffPayments.refundPayment(session.id, { amountPence: none, reason: "cold", by })
      expect(rest.refunds.map((x) => [x.paymentIntentId, x.amountPence])).toEqual([[holdPi, 300]])
      expect(rest.totalRefundedPence).toBe(1000)
      expect(fake.netReceivedFor(session.id)).toBe(0)
      yield* drainWork()
      expect((yield* refundNotices).map((n) => n.amountPence)).toEqual([700, 300])
    })
  )

  refundTest(
    "the provider's silence leaves the refund pending (counted); a repeat finishes it with the same keys, once",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* paidSession()
      // The request never reaches the provider, through every retry.
      fake.faults.arm("refund", "before", { times: 10 })
      const lost = yield* Effect.flip(
        withTimePassing(StaffPayments.refundPayment(session.id, { amountPence: some(300), reason: "late", by }))
      )
      expect(lost._tag).toBe("PaymentsUnavailable")
      const pending = yield* stored(session.id)
      expect(pending.collection.refunds.map((r) => [r.amountPence, r.status])).toEqual([[300, "pending"]])
      // Pending counts: nobody can refund past it meanwhile.
      const tooMuch = yield* Effect.flip(
        StaffPayments.refundPayment(session.id, { amountPence: some(701), reason: "other", by })
      )
      expect(tooMuch._tag).toBe("RefundTooLarge")
      fake.faults.clear()
      // The provider refunds, but its answer is lost: the retry under the same key finds it.
      fake.faults.arm("refund", "after")
      const done = yield* withTimePassing(
        StaffPayments.refundPayment(session.id, { amountPence: some(300), reason: "late", by })
      )
      expect([done.refundedPence, done.repeated, done.totalRefundedPence]).toEqual([300, false, 300])
      expect(done.refunds.map((r) => r.status)).toEqual(["succeeded"])
      expect(fake.refunds().map((r) => r.amountPence)).toEqual([300])
      const again = yield* StaffPayments.refundPayment(session.id, { amountPence: some(300), reason: "late", by })
      expect([again.refundedPence, again.repeated]).toEqual([0, true])
      expect(fake.refunds()).toHaveLength(1)
      yield* drainWork()
      expect((yield* refundNotices).map((n) => n.amountPence)).toEqual([300])
    })
  )

  refundTest(
    "a crash between any two steps (record, request, record the answer) is finished by the repeat, refunding once",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const store = yield* MemoryStore
      const session = yield* paidSession()
      const refund = StaffPayments.refundPayment(session.id, { amountPence: some(400), reason: "crash", by })
      // Before anything is recorded: nothing happened.
      store.faults.arm("commit", "before")
      yield* Effect.exit(refund)
      expect((yield* stored(session.id)).collection.refunds).toEqual([])
      expect(fake.refunds()).toEqual([])
      // Recorded pending, then the process dies before the request.
      store.faults.arm("commit", "after")
      yield* Effect.exit(refund)
      expect((yield* stored(session.id)).collection.refunds.map((r) => r.status)).toEqual(["pending"])
      expect(fake.refunds()).toEqual([])
      // The request is made, the answer never recorded.
      store.faults.arm("commit", "before")
      yield* Effect.exit(refund)
      expect((yield* stored(session.id)).collection.refunds.map((r) => r.status)).toEqual(["pending"])
      expect(fake.refunds().map((r) => r.amountPence)).toEqual([400])
      // The repeat sends the same key (the provider answers its first refund) and records it.
      const done = yield* refund
      expect([done.refundedPence, done.totalRefundedPence, done.repeated]).toEqual([400, 400, false])
      expect(fake.refunds().map((r) => r.amountPence)).toEqual([400])
      const again = yield* refund
      expect([again.refundedPence, again.repeated]).toEqual([0, true])
      yield* drainWork()
      expect((yield* refundNotices).map((n) => n.amountPence)).toEqual([400])
    })
  )

  refundTest(
    "a refund the provider refuses is recorded failed and refused again on a repeat; another reason makes a new one",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* paidSession()
      // A dashboard refund whose event has not arrived: the provider has only 600p left to refund.
      fake.dashboardRefund(paidIntent(session), pence(400))
      const refused = yield* Effect.flip(
        StaffPayments.refundPayment(session.id, { amountPence: none, reason: "late", by })
      )
      expect(refused._tag).toBe("RefundRefused")
      const row = yield* stored(session.id)
      expect(row.collection.refunds.map((r) => [r.amountPence, r.status])).toEqual([[1000, "failed"]])
      const again = yield* Effect.flip(
        StaffPayments.refundPayment(session.id, { amountPence: none, reason: "late", by })
      )
      expect(again._tag).toBe("RefundRefused")
      expect(again.message).toContain("give another reason")
      // The event arrives; what is left can be refunded under another reason.
      yield* handlePaymentEvent(
        new ChargeRefunded({ sessionId: Option.some(session.id), paymentIntentId: paidIntent(session) })
      )
      const rest = yield* StaffPayments.refundPayment(session.id, { amountPence: none, reason: "late again", by })
      expect([rest.refundedPence, rest.totalRefundedPence]).toEqual([600, 1000])
      expect(fake.netReceivedFor(session.id)).toBe(0)
      const audit = (yield* MemoryStaff).audit().filter((a) => a.action === "payments.refund")
      expect(audit.map((a) => (a.after as { refused?: string }).refused !== undefined)).toEqual([true, false, false])
    })
  )

  refundTest(
    "two refunds at once for everything: one refunds, the other finds nothing left",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* paidSession()
      const both = yield* Effect.all(
        [
          Effect.either(StaffPayments.refundPayment(session.id, { amountPence: none, reason: "one", by })),
          Effect.either(StaffPayments.refundPayment(session.id, { amountPence: none, reason: "two", by: "bo" }))
        ],
        { concurrency: 2 }
      )
      expect(both.filter(Either.isRight).map((r) => r.right.refundedPence)).toEqual([1000])
      expect(both.filter(Either.isLeft).map((l) => l.left._tag)).toEqual(["NothingToRefund"])
      expect(fake.refunds().map((r) => r.amountPence)).toEqual([1000])
    })
  )
})

describe("Refunds: finished in the background", () => {
  refundTest(
    "a refund recorded but never sent (a crash) is sent by the worker under its key, once, and the customer told",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const store = yield* MemoryStore
      const session = yield* paidSession()
      store.faults.arm("commit", "after")
      yield* Effect.exit(StaffPayments.refundPayment(session.id, { amountPence: some(400), reason: "crash", by }))
      expect((yield* stored(session.id)).collection.refunds.map((r) => r.status)).toEqual(["pending"])
      expect(fake.refunds()).toEqual([])
      // Nobody repeats the command: the worker's finish-refund work sends it.
      yield* TestClock.adjust(Duration.minutes(5))
      yield* drainWork()
      expect(fake.refunds().map((r) => r.amountPence)).toEqual([400])
      expect((yield* stored(session.id)).collection.refunds.map((r) => r.status)).toEqual(["succeeded"])
      expect((yield* refundNotices).map((n) => n.amountPence)).toEqual([400])
      // Staff repeating it later refunds nothing more.
      const again = yield* StaffPayments.refundPayment(session.id, { amountPence: some(400), reason: "crash", by })
      expect([again.refundedPence, again.repeated]).toEqual([0, true])
      expect(fake.refunds()).toHaveLength(1)
    })
  )

  refundTest(
    "a pending refund the provider refuses meanwhile (a dashboard refund took the money) is recorded failed and staff told",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const store = yield* MemoryStore
      const mailer = yield* FakeMailer
      const session = yield* paidSession()
      store.faults.arm("commit", "after")
      yield* Effect.exit(StaffPayments.refundPayment(session.id, { amountPence: none, reason: "full", by }))
      fake.dashboardRefund(paidIntent(session), pence(1))
      yield* TestClock.adjust(Duration.minutes(5))
      yield* drainWork()
      expect(fake.refunds().map((r) => r.amountPence)).toEqual([1])
      const refunds = (yield* stored(session.id)).collection.refunds
      expect(refunds.map((r) => r.status)).toEqual(["failed"])
      const alerts = mailer.sent().filter((m) => m._tag === "StaffAlert" && m.topic === "refund_failed")
      expect(alerts).toHaveLength(1)
    })
  )
})

describe("Refunds: the provider's refund events", () => {
  refundTest(
    "a dashboard refund is recorded once under provider:<id>, the customer told; staff can refund only the rest",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* paidSession()
      const pi = paidIntent(session)
      const dashboard = fake.dashboardRefund(pi, pence(250))
      const event = new ChargeRefunded({ sessionId: Option.some(session.id), paymentIntentId: pi })
      expect((yield* handlePaymentEvent(event))._tag).toBe("Applied")
      expect((yield* handlePaymentEvent(event))._tag).toBe("Ignored")
      const row = yield* stored(session.id)
      expect(row.collection.refunds.map((r) => [r.key, r.amountPence, r.status, r.by])).toEqual([
        [`provider:${dashboard.refundId}`, 250, "succeeded", "payment provider"]
      ])
      const tooMuch = yield* Effect.flip(
        StaffPayments.refundPayment(session.id, { amountPence: some(751), reason: "x", by })
      )
      expect(tooMuch).toMatchObject({ _tag: "RefundTooLarge", refundablePence: 750 })
      const rest = yield* StaffPayments.refundPayment(session.id, { amountPence: none, reason: "x", by })
      expect(rest.totalRefundedPence).toBe(1000)
      // Our own refund's event changes nothing: it is recorded already.
      expect((yield* handlePaymentEvent(event))._tag).toBe("Ignored")
      yield* drainWork()
      expect((yield* refundNotices).map((n) => [n.key, n.amountPence])).toEqual([
        [`provider:${dashboard.refundId}`, 250],
        [Refunds.refundKeyFor(session.id, none, "x"), 750]
      ])
    })
  )

  refundTest(
    "an event for a payment the session did not record, or no session, changes nothing",
    Effect.gen(function* () {
      const session = yield* paidSession()
      const stranger = new ChargeRefunded({ sessionId: Option.some(session.id), paymentIntentId: "pi_stranger" })
      expect((yield* handlePaymentEvent(stranger))._tag).toBe("Ignored")
      const anonymous = new ChargeRefunded({ sessionId: Option.none(), paymentIntentId: paidIntent(session) })
      expect((yield* handlePaymentEvent(anonymous))._tag).toBe("Ignored")
      expect((yield* stored(session.id)).collection.refunds).toEqual([])
    })
  )

  refundTest(
    "the event settles our own refund left pending by a lost answer",
    Effect.gen(function* () {
      const fake = yield* FakePayments
      const session = yield* paidSession()
      fake.faults.arm("refund", "after", { times: 10 })
      yield* Effect.flip(
        withTimePassing(StaffPayments.refundPayment(session.id, { amountPence: none, reason: "late", by }))
      )
      expect((yield* stored(session.id)).collection.refunds.map((r) => r.status)).toEqual(["pending"])
      fake.faults.clear()
      const event = new ChargeRefunded({ sessionId: Option.some(session.id), paymentIntentId: paidIntent(session) })
      expect((yield* handlePaymentEvent(event))._tag).toBe("Applied")
      const row = yield* stored(session.id)
      expect(row.collection.refunds.map((r) => [r.status, Option.isSome(r.refundId)])).toEqual([["succeeded", true]])
      // Staff's repeat now finds it done.
      const again = yield* StaffPayments.refundPayment(session.id, { amountPence: none, reason: "late", by })
      expect([again.repeated, again.refundedPence]).toEqual([true, 0])
      expect(fake.refunds()).toHaveLength(1)
    })
  )
})

describe("Refunds: pure rules", () => {
  it("slugs reasons for keys", () => {
    expect(Refunds.reasonSlug("  Door jammed -- customer waited 10 min!  ")).toBe("door-jammed-customer-waited-10-min")
    expect(Refunds.reasonSlug("¡¿")).toBe("no-reason")
    expect(Refunds.refundKeyFor("s1" as SessionId, Option.some(pence(250)), "Cold")).toBe("qwip-refund-s1-250-cold")
  })
})
