/**
 * Dunning: a declined charge is tried again on the policy's schedule, counted from the
 * decline, each attempt with its own key and a pay link email after each failure; a hard
 * decline is not retried; an exhausted schedule tells staff once; paying stops it.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  ChargeSucceeded,
  handlePaymentEvent,
  type Message,
  makePolicy,
  type PaymentRequest,
  PayPage,
  type PodId,
  pence,
  type Session,
  SessionEnd,
  type SessionId,
  type StaffAlert
} from "@qwip/core"
import {
  type CardBehaviour,
  demoPod,
  FakeMailer,
  FakePayLinks,
  FakePayments,
  FakeStaticCodes,
  layer,
  MemoryStore
} from "@qwip/core/testing"
import { Duration, Effect, Option, TestClock } from "effect"
import { activeSession, drainWork } from "./kit.js"

const kit = () => layer({ pods: [demoPod({ id: "pod-1" })] })

const withCodes = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const codes = yield* FakeStaticCodes
    codes.setCodes("pod-1" as PodId, ["04726"])
    return yield* self
  })

const stored = (id: SessionId) =>
  Effect.map(MemoryStore, (store) => {
    const session = store.sessions().find((s) => s.id === id)
    if (session === undefined) throw new Error(`no session ${id}`)
    return session
  })

const sentFor = <T extends Message["_tag"]>(tag: T, id: SessionId) =>
  Effect.map(FakeMailer, (m) =>
    m.sent().filter((x): x is Extract<Message, { _tag: T }> => x._tag === tag && x.sessionId === id)
  )

/** A session ended after 20 minutes (1000p) with its card behaving as `behaviour`. */
const ended = (behaviour: CardBehaviour) =>
  Effect.gen(function* () {
    const session = yield* activeSession("pod-1", behaviour)
    yield* TestClock.adjust(Duration.minutes(20))
    const done = yield* SessionEnd.endSession(session.id)
    yield* drainWork()
    return done
  })

const dunningOf = (s: Session) => Option.getOrThrow(s.collection.dunning)

const day = Duration.toMillis(Duration.days(1))

/** Moves the clock to `days` after `from` and runs what is due. */
const advanceTo = (from: Date, days: number) =>
  Effect.gen(function* () {
    const nowMs = Number(yield* TestClock.currentTimeMillis)
    const target = from.getTime() + days * day
    if (target > nowMs) yield* TestClock.adjust(Duration.millis(target - nowMs))
    yield* drainWork()
  })

const closedAt = (s: Session) => {
  if (s.state._tag !== "Ended") throw new Error("not ended")
  return s.state.closedAt
}

describe("Dunning", () => {
  it.effect("a soft decline is retried after 1, 3 and 7 days, emailed each time, then staff are told once", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("declines")
        const declinedAt = closedAt(session)
        const first = yield* stored(session.id)
        expect(first.state._tag === "Ended" && first.state.outcome._tag).toBe("PaymentFailed")
        expect(dunningOf(first).status).toBe("scheduled")
        expect(dunningOf(first).nextAttemptAt).toEqual(Option.some(new Date(declinedAt.getTime() + day)))
        expect((yield* sentFor("PaymentRequest", session.id)).map((m) => [m.attempt, m.reason, m.amountPence])).toEqual(
          [[0, "declined", 1000]]
        )

        // Not before it is due.
        yield* advanceTo(declinedAt, 0.99)
        expect(payments.charges()).toHaveLength(1)

        yield* advanceTo(declinedAt, 1)
        const afterFirst = yield* stored(session.id)
        expect(dunningOf(afterFirst).attempts.map((a) => [a.attempt, a.status, a.idempotencyKey])).toEqual([
          [1, "declined", `qwip-session-charge-${session.id}-collect-1`]
        ])
        expect(dunningOf(afterFirst).nextAttemptAt).toEqual(Option.some(new Date(declinedAt.getTime() + 3 * day)))

        yield* advanceTo(declinedAt, 2.9)
        expect(payments.charges()).toHaveLength(2)
        yield* advanceTo(declinedAt, 3)
        yield* advanceTo(declinedAt, 7)
        const last = yield* stored(session.id)
        expect(dunningOf(last).status).toBe("exhausted")
        expect(dunningOf(last).nextAttemptAt).toEqual(Option.none())
        expect(payments.charges().map((c) => [c.idempotencyKey, c.amountPence])).toEqual([
          [`qwip-session-charge-${session.id}`, 1000],
          [`qwip-session-charge-${session.id}-collect-1`, 1000],
          [`qwip-session-charge-${session.id}-collect-2`, 1000],
          [`qwip-session-charge-${session.id}-collect-3`, 1000]
        ])
        // Each attempt ran when it was due, counted from the decline.
        expect(dunningOf(last).attempts.map((a) => (a.at.getTime() - declinedAt.getTime()) / day)).toEqual([1, 3, 7])
        expect((yield* sentFor("PaymentRequest", session.id)).map((m) => m.attempt)).toEqual([0, 1, 2, 3])
        const alerts = (yield* sentFor("StaffAlert", session.id)).filter(
          (a: StaffAlert) => a.topic === "unpaid_after_collection"
        )
        expect(alerts).toHaveLength(1)

        // Nothing more, ever.
        yield* advanceTo(declinedAt, 30)
        expect(payments.charges()).toHaveLength(4)
        expect(
          (yield* sentFor("StaffAlert", session.id)).filter((a) => a.topic === "unpaid_after_collection")
        ).toHaveLength(1)
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("a hard decline is not retried; the customer still gets the pay link", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("declines_hard")
        const after = yield* stored(session.id)
        expect(dunningOf(after).status).toBe("stopped")
        expect(dunningOf(after).nextAttemptAt).toEqual(Option.none())
        yield* advanceTo(closedAt(session), 10)
        expect(payments.charges()).toHaveLength(1)
        expect((yield* sentFor("PaymentRequest", session.id)).map((m) => m.attempt)).toEqual([0])
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("a charge needing authentication is tried again on the schedule, each time asking the customer", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("needs_authentication")
        yield* advanceTo(closedAt(session), 1)
        const after = yield* stored(session.id)
        expect(dunningOf(after).attempts.map((a) => [a.attempt, a.status])).toEqual([[1, "needs_authentication"]])
        expect(after.state._tag === "Ended" && after.state.outcome).toMatchObject({
          _tag: "NeedsAuthentication",
          paymentIntentId: payments.charges()[1]?.paymentIntentId
        })
        expect((yield* sentFor("PaymentRequest", session.id)).map((m) => [m.attempt, m.reason])).toEqual([
          [0, "needs_authentication"],
          [1, "needs_authentication"]
        ])
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("an attempt that pays ends dunning: paid, a receipt, no later attempt", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("declines")
        payments.setBehaviour(session.setupIntentId, "succeeds")
        yield* advanceTo(closedAt(session), 1)
        const paid = yield* stored(session.id)
        expect(paid.state._tag === "Ended" && paid.state.outcome).toMatchObject({ _tag: "Paid", amountPence: 1000 })
        expect(dunningOf(paid).status).toBe("paid")
        expect((yield* sentFor("Receipt", session.id)).map((r) => r.amountPence)).toEqual([1000])
        yield* advanceTo(closedAt(session), 10)
        expect(payments.charges()).toHaveLength(2)
        expect(payments.succeededChargesFor(session.id)).toBe(1)
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("paying by the link stops the schedule", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const links = yield* FakePayLinks
        const session = yield* ended("declines")
        const [request] = yield* sentFor("PaymentRequest", session.id)
        const token = links.tokenOf((request as PaymentRequest).link)
        const page = yield* PayPage.openPayPage(token)
        payments.completeAuthentication(page.payment.paymentIntentId, "succeeds")
        const result = yield* PayPage.confirmPayPage(token, page.payment.paymentIntentId)
        expect(result._tag).toBe("Paid")
        yield* advanceTo(closedAt(session), 10)
        const after = yield* stored(session.id)
        expect(dunningOf(after).status).toBe("paid")
        expect(dunningOf(after).attempts).toEqual([])
        expect(payments.charges()).toHaveLength(1)
        expect(payments.succeededChargesFor(session.id)).toBe(1)
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("an attempt interrupted after it was sent is resent with the same key: one charge", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("declines")
        payments.setBehaviour(session.setupIntentId, "succeeds")
        payments.faults.arm("chargeSession", "after", { times: 3 })
        yield* advanceTo(closedAt(session), 1)
        yield* advanceTo(closedAt(session), 1.01)
        const paid = yield* stored(session.id)
        expect(paid.state._tag === "Ended" && paid.state.outcome._tag).toBe("Paid")
        expect(payments.charges().map((c) => c.idempotencyKey)).toEqual([
          `qwip-session-charge-${session.id}`,
          `qwip-session-charge-${session.id}-collect-1`
        ])
        expect(payments.succeededChargesFor(session.id)).toBe(1)
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("a webhook saying an attempt paid marks dunning paid; the attempt's own answer then changes nothing", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("declines")
        payments.setBehaviour(session.setupIntentId, "succeeds")
        // The attempt charges, its answer is lost; the webhook arrives first.
        payments.faults.arm("chargeSession", "after", { times: 3 })
        yield* advanceTo(closedAt(session), 1)
        const attempt = payments.charges()[1]
        if (attempt === undefined) throw new Error("no attempt charged")
        const applied = yield* handlePaymentEvent(
          new ChargeSucceeded({
            sessionId: Option.some(session.id),
            paymentIntentId: attempt.paymentIntentId,
            customerId: Option.some(session.card.customerId),
            amountPence: pence(1000),
            currency: "gbp"
          })
        )
        expect(applied._tag).toBe("Applied")
        expect(dunningOf(yield* stored(session.id)).status).toBe("paid")
        yield* advanceTo(closedAt(session), 10)
        expect(payments.charges()).toHaveLength(2)
        const alerts = yield* sentFor("StaffAlert", session.id)
        expect(alerts.filter((a) => a.topic === "reconciliation")).toEqual([])
      })
    ).pipe(Effect.provide(kit()))
  )

  it("the schedule must grow, and reconciliation runs must overlap", () => {
    expect(makePolicy({ dunningSchedule: [Duration.days(1), Duration.days(3)] })._tag).toBe("Right")
    expect(makePolicy({ dunningSchedule: [] })._tag).toBe("Right")
    expect(makePolicy({ dunningSchedule: [Duration.days(3), Duration.days(1)] })._tag).toBe("Left")
    expect(makePolicy({ dunningSchedule: [Duration.zero] })._tag).toBe("Left")
    expect(makePolicy({ payLinkValidity: Duration.zero })._tag).toBe("Left")
    expect(makePolicy({ reconcileEvery: Duration.hours(24), reconcileWindow: Duration.hours(12) })._tag).toBe("Left")
  })
})
