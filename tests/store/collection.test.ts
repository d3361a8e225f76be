/**
 * Issue 13's payment paths on every store ([memory], [pglite], [postgres] when
 * QWIP_TEST_DATABASE_URL is set): each card behaviour end to end, a crash between each pair of
 * steps of the hold, capture, dunning and refund paths then recovery, and reconciliation
 * settling a charge left unknown. Each scenario checks what the store recorded (outcome,
 * collection, the charge row) against the fake provider's truth (one capture, one charge per
 * key, the net received).
 */
import { expect } from "@effect/vitest"
import {
  Checkout,
  chargeKeyFor,
  chargeOf,
  type Message,
  PayPage,
  type PodId,
  type pence,
  Reconciliation,
  type Session,
  SessionEnd,
  type SessionId,
  SessionStore,
  StaffPayments
} from "@qwip/core"
import { demoPod, FakeMailer, FakePayLinks, FakePayments, FakeStaticCodes } from "@qwip/core/testing"
import { Cause, Duration, Effect, Exit, Option } from "effect"
import {
  activeSession,
  advance,
  book,
  drainWork,
  drainWorkFor,
  forEachScenarioStore,
  onSql,
  type PaymentScenarioServices,
  paymentScenario,
  ScenarioClock,
  ScenarioKit,
  StoreFaults
} from "../support/Scenarios.js"

const HOLD = 1500
const withHold = { bookingHoldPence: HOLD }
const DAY = Duration.toMillis(Duration.days(1))

/** One static-code pod with a code, then `body`, with the hold policy or not. */
const run = <A, E>(body: Effect.Effect<A, E, PaymentScenarioServices>, hold: boolean) =>
  paymentScenario(
    Effect.gen(function* () {
      yield* (yield* ScenarioKit).addPod(demoPod({ id: "pod-1" }))
      ;(yield* FakeStaticCodes).setCodes("pod-1" as PodId, ["04726"])
      return yield* body
    }),
    hold ? withHold : {}
  )

const stored = (id: SessionId) => Effect.flatMap(SessionStore, (s) => s.session(id)).pipe(Effect.map(Option.getOrThrow))
const podInUse = Effect.flatMap(SessionStore, (s) => s.podStatus("pod-1" as PodId)).pipe(
  Effect.map((s) => Option.getOrThrow(s).inUse)
)

/** The live sessions on pod-1 (a finalize that failed leaves its session opened there). */
const openSessions = Effect.flatMap(SessionStore, (s) => s.liveSessionsOnPod("pod-1" as PodId))

const outcomeOf = (s: Session) => {
  if (s.state._tag !== "Ended") throw new Error(`not ended: ${s.state._tag}`)
  return s.state.outcome
}
const closedAt = (s: Session) => {
  if (s.state._tag !== "Ended") throw new Error(`not ended: ${s.state._tag}`)
  return s.state.closedAt
}
const dunningOf = (s: Session) => Option.getOrThrow(s.collection.dunning)
const holdOf = (s: Session) => Option.map(s.collection.hold, (h) => [h.status, h.amountPence, h.capturedPence])

const sentFor = <T extends Message["_tag"]>(tag: T, id: SessionId) =>
  Effect.map(FakeMailer, (m) =>
    m.sent().filter((x): x is Extract<Message, { _tag: T }> => x._tag === tag && x.sessionId === id)
  )

/**
 * The charge row as the store keeps it equals what core derives from the stored session (on
 * the SQL stores, read back through today's `session_charges`); returns the derived one.
 */
const chargeRow = (id: SessionId) =>
  Effect.gen(function* () {
    const charge = Option.getOrThrow(chargeOf(yield* stored(id)))
    yield* onSql(({ records }) =>
      Effect.gen(function* () {
        const row = Option.getOrThrow(yield* records.chargeFor(id))
        expect(row).toMatchObject({
          idempotencyKey: chargeKeyFor(id),
          status: charge.status,
          amountPence: charge.amountPence,
          paymentIntentId: Option.getOrNull(charge.paymentIntentId),
          refundedPence: charge.refundedPence,
          collection: Option.getOrNull(charge.collection),
          nextAttemptAt: Option.getOrNull(charge.nextAttemptAt)
        })
      })
    )
    return charge
  })

/** Recovery left nothing for staff to untangle: no background work parked, on any store. */
const noParkedWork = (id: SessionId) =>
  Effect.gen(function* () {
    expect((yield* sentFor("StaffAlert", id)).filter((a) => a.topic === "work_parked")).toEqual([])
    yield* onSql(({ records }) =>
      Effect.map(records.workFor(id), (work) =>
        expect(work.filter((w) => w.status === "parked").map((w) => [w.kind, w.lastError])).toEqual([])
      )
    )
  })

/** Moves the clock to `days` after `from` (if not there yet) and runs what is due. */
const advanceTo = (from: Date, days: number) =>
  Effect.gen(function* () {
    const clock = yield* ScenarioClock
    const target = from.getTime() + days * DAY
    const nowMs = clock.unsafeCurrentTimeMillis()
    if (target > nowMs) yield* advance(Duration.millis(target - nowMs))
    yield* drainWork()
  })

/** A session ended after `minutes` at 50p a minute with its card as `behaviour`, work drained. */
const ended = (behaviour: Parameters<typeof activeSession>[1], minutes = 20) =>
  Effect.gen(function* () {
    const session = yield* activeSession("pod-1", behaviour)
    yield* advance(Duration.minutes(minutes))
    yield* SessionEnd.endSession(session.id)
    yield* drainWork()
    return yield* stored(session.id)
  })

/** Pays the session's latest pay link with a card that succeeds (another card, or the authenticated one). */
const payByLatestLink = (id: SessionId) =>
  Effect.gen(function* () {
    const requests = yield* sentFor("PaymentRequest", id)
    const request = requests[requests.length - 1]
    if (request === undefined) throw new Error("no pay link sent")
    const token = (yield* FakePayLinks).tokenOf(request.link)
    const page = yield* PayPage.openPayPage(token)
    ;(yield* FakePayments).completeAuthentication(page.payment.paymentIntentId, "succeeds")
    const result = yield* PayPage.confirmPayPage(token, page.payment.paymentIntentId)
    expect(result._tag).toBe("Paid")
    yield* drainWork()
    return page
  })

const unpaidAlerts = (id: SessionId) =>
  Effect.map(sentFor("StaffAlert", id), (alerts) => alerts.filter((a) => a.topic === "unpaid_after_collection"))

forEachScenarioStore("payments: each card behaviour", (it) => {
  it.scoped("succeeds with the hold: held at booking, captured at the end, remainder charged, receipt", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* activeSession("pod-1", "succeeds")
        expect(holdOf(yield* stored(session.id))).toEqual(Option.some(["held", HOLD, 0]))
        expect(payments.holds().map((h) => [h.amountPence, h.idempotencyKey])).toEqual([
          [HOLD, `qwip-booking-hold-${session.id}`]
        ])
        yield* advance(Duration.minutes(50))
        const done = yield* SessionEnd.endSession(session.id)
        expect(outcomeOf(done)).toMatchObject({ _tag: "Paid", amountPence: 2500 })
        yield* drainWork()
        const after = yield* stored(session.id)
        expect(holdOf(after)).toEqual(Option.some(["captured", HOLD, HOLD]))
        expect(payments.captures().map((c) => c.amountPence)).toEqual([HOLD])
        expect(payments.charges().map((c) => [c.amountPence, c.idempotencyKey])).toEqual([
          [1000, chargeKeyFor(session.id)]
        ])
        expect(payments.netReceivedFor(session.id)).toBe(2500)
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", amountPence: 2500 })
        expect((yield* sentFor("Receipt", session.id)).map((r) => [r.amountPence, r.capturedPence])).toEqual([
          [2500, HOLD]
        ])
        expect(yield* podInUse).toBe(false)
      }),
      true
    )
  )

  it.scoped("declines_everything with the hold: booking refused, pod free, nothing charged", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const started = yield* Checkout.startCheckout("pod-1" as PodId)
        payments.confirmCard(started.setupIntentId, { behaviour: "declines_everything" })
        const refused = yield* Effect.flip(Checkout.finalizeBooking(started))
        expect(refused).toMatchObject({ _tag: "CardDeclined", code: "card_declined" })
        // A repeat (the client retrying) gets the same answer.
        expect((yield* Effect.flip(Checkout.finalizeBooking(started)))._tag).toBe("CardDeclined")
        yield* drainWork()
        expect(yield* (yield* ScenarioKit).sessionCount).toBe(1)
        expect(yield* podInUse).toBe(false)
        expect(payments.charges()).toEqual([])
        expect(payments.captures()).toEqual([])
        expect(payments.holds().map((h) => h.status)).toEqual(["requires_payment_method"])
        // The next customer can book the pod.
        const next = yield* book("pod-1", "succeeds")
        expect(next.state._tag).toBe("Provisioning")
      }),
      true
    )
  )

  it.scoped("declines (no hold): dunning on days 1, 3 and 7, exhausted, staff told once; then paid by the link", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("declines")
        expect(outcomeOf(session)._tag).toBe("PaymentFailed")
        const declinedAt = closedAt(session)
        expect(dunningOf(session)).toMatchObject({
          status: "scheduled",
          nextAttemptAt: Option.some(new Date(declinedAt.getTime() + DAY))
        })
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "failed", collection: Option.some("scheduled") })

        yield* advanceTo(declinedAt, 0.99)
        expect(payments.charges()).toHaveLength(1)
        for (const day of [1, 3, 7]) yield* advanceTo(declinedAt, day)
        const exhausted = yield* stored(session.id)
        expect(dunningOf(exhausted).status).toBe("exhausted")
        expect(dunningOf(exhausted).attempts.map((a) => [a.attempt, a.status, a.idempotencyKey])).toEqual(
          [1, 2, 3].map((n) => [n, "declined", `${chargeKeyFor(session.id)}-collect-${n}`])
        )
        // Each attempt ran when due, counted from the decline.
        expect(dunningOf(exhausted).attempts.map((a) => (a.at.getTime() - declinedAt.getTime()) / DAY)).toEqual([
          1, 3, 7
        ])
        expect(payments.charges().map((c) => c.idempotencyKey)).toEqual([
          chargeKeyFor(session.id),
          ...[1, 2, 3].map((n) => `${chargeKeyFor(session.id)}-collect-${n}`)
        ])
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "failed", collection: Option.some("exhausted") })
        expect((yield* sentFor("PaymentRequest", session.id)).map((m) => m.attempt)).toEqual([0, 1, 2, 3])
        expect(yield* unpaidAlerts(session.id)).toHaveLength(1)
        yield* advanceTo(declinedAt, 20)
        expect(payments.charges()).toHaveLength(4)
        expect(yield* unpaidAlerts(session.id)).toHaveLength(1)

        // The customer pays by the last link with another card.
        const page = yield* payByLatestLink(session.id)
        const paid = yield* stored(session.id)
        expect(outcomeOf(paid)).toMatchObject({
          _tag: "Paid",
          amountPence: 1000,
          paymentIntentId: page.payment.paymentIntentId
        })
        expect(dunningOf(paid).status).toBe("paid")
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", collection: Option.some("paid") })
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(payments.netReceivedFor(session.id)).toBe(1000)
        expect((yield* sentFor("Receipt", session.id)).map((r) => r.amountPence)).toEqual([1000])
      }),
      false
    )
  )

  it.scoped("declines_hard: no dunning retry; paid by the link with another card", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("declines_hard")
        expect(outcomeOf(session)).toMatchObject({ _tag: "PaymentFailed", declineCode: "lost_card" })
        expect(dunningOf(session)).toMatchObject({ status: "stopped", nextAttemptAt: Option.none() })
        yield* advanceTo(closedAt(session), 10)
        expect(payments.charges()).toHaveLength(1)
        expect((yield* sentFor("PaymentRequest", session.id)).map((m) => [m.attempt, m.reason])).toEqual([
          [0, "declined"]
        ])
        yield* payByLatestLink(session.id)
        expect(outcomeOf(yield* stored(session.id))).toMatchObject({ _tag: "Paid", amountPence: 1000 })
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", amountPence: 1000 })
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(payments.netReceivedFor(session.id)).toBe(1000)
        expect((yield* sentFor("Receipt", session.id)).map((r) => r.amountPence)).toEqual([1000])
      }),
      false
    )
  )

  it.scoped("needs_authentication: pay link, authenticate, confirm: paid, receipt, dunning stops", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("needs_authentication")
        const recorded = outcomeOf(session)
        if (recorded._tag !== "NeedsAuthentication") throw new Error(`unexpected ${recorded._tag}`)
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "requires_action" })
        expect((yield* sentFor("PaymentRequest", session.id)).map((m) => m.reason)).toEqual(["needs_authentication"])
        const page = yield* payByLatestLink(session.id)
        // The charge that asked for authentication is the one completed.
        expect(page.payment.paymentIntentId).toBe(recorded.paymentIntentId)
        const paid = yield* stored(session.id)
        expect(outcomeOf(paid)).toMatchObject({ _tag: "Paid", amountPence: 1000 })
        expect(dunningOf(paid).status).toBe("paid")
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", collection: Option.some("paid") })
        yield* advanceTo(closedAt(session), 10)
        expect(payments.charges()).toHaveLength(1)
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(payments.netReceivedFor(session.id)).toBe(1000)
        expect((yield* sentFor("Receipt", session.id)).map((r) => r.amountPence)).toEqual([1000])
      }),
      false
    )
  )
})

forEachScenarioStore("payments: with the hold, a card needing authentication and staff's retry", (it) => {
  it.scoped("needs_authentication with the hold: booking refused, its PaymentIntent cancelled, nothing held", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const refused = yield* Effect.flip(book("pod-1", "needs_authentication"))
        expect(refused).toMatchObject({ _tag: "CardDeclined", code: "authentication_required" })
        yield* drainWork()
        const [session] = payments.holds()
        expect(payments.holds().map((h) => h.status)).toEqual(["canceled"])
        const failed = yield* stored(session?.sessionId as SessionId)
        expect(failed.state._tag).toBe("ProvisioningFailed")
        expect(Option.map(failed.collection.hold, (h) => h.status)).toEqual(Option.some("released"))
        expect(yield* podInUse).toBe(false)
        expect(payments.charges()).toEqual([])
        expect(payments.captures()).toEqual([])
      }),
      true
    )
  )

  /**
   * The hold is captured (1500p) and the 1000p remainder declined; staff retry once the card
   * pays, `lost` times losing the answer first: only the remainder is charged, under staff's key.
   */
  const staffRetry = (lost: boolean) =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("declines", 50)
        expect(outcomeOf(session)._tag).toBe("PaymentFailed")
        expect(holdOf(session)).toEqual(Option.some(["captured", HOLD, HOLD]))
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "failed", amountPence: 2500 })
        payments.setBehaviour(session.setupIntentId, "succeeds")
        const key = `${chargeKeyFor(session.id)}-retry-1`
        if (lost) {
          payments.faults.arm("chargeSession", "after", { times: 10 })
          const unknown = yield* StaffPayments.retryPayment(session.id, { by: "ada" })
          expect([unknown.result, unknown.idempotencyKey]).toEqual(["unknown", Option.some(key)])
          expect(outcomeOf(yield* stored(session.id))._tag).toBe("PaymentFailed")
          payments.faults.clear()
        }
        const retried = yield* StaffPayments.retryPayment(session.id, { by: "ada" })
        expect([retried.result, retried.attempt, retried.idempotencyKey]).toEqual(["paid", 1, Option.some(key)])
        const paid = yield* stored(session.id)
        expect(outcomeOf(paid)).toMatchObject({ _tag: "Paid", amountPence: 2500 })
        expect(dunningOf(paid).status).toBe("paid")
        expect(payments.captures().map((c) => c.amountPence)).toEqual([HOLD])
        expect(payments.charges().map((c) => [c.idempotencyKey, c.amountPence])).toEqual([
          [chargeKeyFor(session.id), 1000],
          [key, 1000]
        ])
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(payments.netReceivedFor(session.id)).toBe(2500)
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", amountPence: 2500 })
        // Dunning charges nothing more; a further retry has nothing to do.
        yield* advanceTo(closedAt(session), 10)
        expect(payments.charges()).toHaveLength(2)
        expect((yield* Effect.flip(StaffPayments.retryPayment(session.id, { by: "ada" })))._tag).toBe("NothingToRetry")
        expect((yield* sentFor("Receipt", session.id)).map((r) => [r.amountPence, r.capturedPence])).toEqual([
          [2500, HOLD]
        ])
        yield* noParkedWork(session.id)
      }),
      true
    )

  it.scoped("staff retry a declined remainder: only what the hold did not cover is charged", () => staffRetry(false))
  it.scoped("staff retry whose answer is lost: the repeat uses the same attempt's key, one charge", () =>
    staffRetry(true)
  )

  it.scoped("a full refund of a hold-paid session gives back both parts, once", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("succeeds", 50)
        expect(payments.netReceivedFor(session.id)).toBe(2500)
        const request = { amountPence: Option.none<ReturnType<typeof pence>>(), reason: "door jammed", by: "ada" }
        payments.faults.arm("refund", "after", { times: 10 })
        expect(Exit.isFailure(yield* Effect.exit(StaffPayments.refundPayment(session.id, request)))).toBe(true)
        payments.faults.clear()
        const refund = yield* StaffPayments.refundPayment(session.id, request)
        expect(refund.totalRefundedPence).toBe(2500)
        expect(refund.refunds.map((r) => [r.amountPence, r.status]).sort()).toEqual([
          [1000, "succeeded"],
          [HOLD, "succeeded"]
        ])
        expect(
          payments
            .refunds()
            .map((r) => r.amountPence)
            .sort()
        ).toEqual([1000, HOLD])
        expect(payments.netReceivedFor(session.id)).toBe(0)
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", refundedPence: 2500 })
        yield* drainWork()
        expect(yield* sentFor("RefundNotice", session.id)).toHaveLength(1)
      }),
      true
    )
  )
})

forEachScenarioStore("payments: a crash in the hold, then recovery", (it) => {
  /**
   * Books with `arm` armed first; finalize stops where `left` says (the store's hold, the
   * provider's holds), and the worker finishes it: one hold.
   */
  const holdCrash = (
    arm: Effect.Effect<void, never, PaymentScenarioServices>,
    left: { readonly recorded: boolean; readonly error?: string }
  ) =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        yield* arm
        const started = yield* Checkout.startCheckout("pod-1" as PodId)
        payments.confirmCard(started.setupIntentId, { behaviour: "succeeds", email: "ada@example.com" })
        const first = yield* Effect.exit(Checkout.finalizeBooking(started))
        expect(Exit.isFailure(first)).toBe(true)
        if (left.error !== undefined)
          expect(Exit.isFailure(first) && Cause.failureOption(first.cause)).toEqual(
            Option.some(expect.objectContaining({ _tag: left.error }))
          )
        const [opened] = yield* openSessions
        expect(Option.isSome(opened?.collection.hold ?? Option.none())).toBe(left.recorded)
        expect(payments.holds()).toHaveLength(1)
        payments.faults.clear()
        ;(yield* StoreFaults).clear()
        yield* drainWork()
        // The client's repeat answers the same session.
        const session = yield* Checkout.finalizeBooking(started)
        if (Exit.isSuccess(first)) expect(first.value.id).toBe(session.id)
        const active = yield* stored(session.id)
        expect(active.state._tag).toBe("Active")
        expect(holdOf(active)).toEqual(Option.some(["held", HOLD, 0]))
        expect(payments.holds().map((h) => [h.paymentIntentId, h.idempotencyKey])).toEqual([
          [Option.getOrThrow(active.collection.hold).paymentIntentId, `qwip-booking-hold-${session.id}`]
        ])
        yield* advance(Duration.minutes(50))
        yield* SessionEnd.endSession(session.id)
        expect(payments.captures().map((c) => c.amountPence)).toEqual([HOLD])
        expect(payments.netReceivedFor(session.id)).toBe(2500)
        yield* drainWork()
        yield* noParkedWork(session.id)
      }),
      true
    )

  it.scoped("the hold is placed, its answer lost every time", () =>
    holdCrash(
      Effect.map(FakePayments, (p) => p.faults.arm("placeHold", "after", { times: 10 })),
      {
        recorded: false,
        error: "PaymentsUnavailable"
      }
    )
  )
  it.scoped("crash between placing the hold and recording it", () =>
    holdCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "before")),
      { recorded: false }
    )
  )
  it.scoped("crash after recording the hold", () =>
    holdCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "after")),
      { recorded: true }
    )
  )
})

forEachScenarioStore("payments: a crash in the capture, then recovery", (it) => {
  /**
   * Ends a 50-minute session (2500p: 1500 captured, 1000 charged) with `arm` armed first; the
   * end stops where `left` says (what the store recorded, what the provider did).
   */
  const captureCrash = (
    arm: Effect.Effect<void, never, PaymentScenarioServices>,
    left: {
      readonly ended: boolean
      readonly hold: "held" | "captured"
      readonly outcome?: string
      readonly charges: number
    }
  ) =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* activeSession("pod-1", "succeeds")
        yield* advance(Duration.minutes(50))
        yield* arm
        const first = yield* Effect.exit(SessionEnd.endSession(session.id))
        expect(Exit.isSuccess(first)).toBe(left.outcome !== undefined)
        const between = yield* stored(session.id)
        expect(between.state._tag === "Ended").toBe(left.ended)
        if (left.outcome !== undefined) expect(outcomeOf(between)._tag).toBe(left.outcome)
        expect(Option.map(between.collection.hold, (h) => h.status)).toEqual(Option.some(left.hold))
        expect(payments.captures()).toHaveLength(1)
        expect(payments.charges()).toHaveLength(left.charges)
        payments.faults.clear()
        // The safety net and the settling work finish whatever the crash left.
        yield* drainWorkFor(Duration.minutes(5), Duration.seconds(30))
        const after = yield* stored(session.id)
        expect(outcomeOf(after)).toMatchObject({ _tag: "Paid", amountPence: 2500 })
        expect(holdOf(after)).toEqual(Option.some(["captured", HOLD, HOLD]))
        expect(payments.captures().map((c) => [c.amountPence, c.idempotencyKey])).toEqual([
          [HOLD, `qwip-hold-capture-${session.id}`]
        ])
        expect(payments.charges().map((c) => [c.amountPence, c.idempotencyKey])).toEqual([
          [1000, chargeKeyFor(session.id)]
        ])
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(payments.netReceivedFor(session.id)).toBe(2500)
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", amountPence: 2500 })
        expect((yield* sentFor("Receipt", session.id)).map((r) => [r.amountPence, r.capturedPence])).toEqual([
          [2500, HOLD]
        ])
        expect(yield* podInUse).toBe(false)
        yield* noParkedWork(session.id)
      }),
      true
    )

  it.scoped("the capture lands, its answer lost every time", () =>
    captureCrash(
      Effect.map(FakePayments, (p) => p.faults.arm("captureHold", "after", { times: 10 })),
      // Recorded unknown: the settling work reads the capture back and charges the remainder.
      { ended: true, hold: "held", outcome: "PaymentUnknown", charges: 0 }
    )
  )
  it.scoped("crash after the capture, before it is recorded", () =>
    captureCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "before", { skip: 1 })),
      {
        ended: false,
        hold: "held",
        charges: 0
      }
    )
  )
  it.scoped("crash after recording the capture, before the remainder", () =>
    captureCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "after", { skip: 1 })),
      {
        ended: false,
        hold: "captured",
        charges: 0
      }
    )
  )
  it.scoped("the remainder charge lands, its answer lost every time", () =>
    captureCrash(
      Effect.map(FakePayments, (p) => p.faults.arm("chargeSession", "after", { times: 10 })),
      {
        ended: true,
        hold: "captured",
        outcome: "PaymentUnknown",
        charges: 1
      }
    )
  )
  it.scoped("crash after the remainder, before the close", () =>
    captureCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "before", { skip: 2 })),
      {
        ended: false,
        hold: "captured",
        charges: 1
      }
    )
  )
  it.scoped("crash after the close (the end is repeated)", () =>
    captureCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "after", { skip: 2 })),
      {
        ended: true,
        hold: "captured",
        charges: 1
      }
    )
  )
})

forEachScenarioStore("payments: a crash in a dunning attempt, then recovery", (it) => {
  /**
   * A declined session whose first dunning attempt (day 1, the card now paying) runs with
   * `arm` armed; the worker tries the attempt again: one charge under its key, paid.
   */
  const attemptCrash = (
    arm: Effect.Effect<void, never, PaymentScenarioServices>,
    left: { readonly pending: boolean; readonly charged: boolean }
  ) =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("declines")
        const declinedAt = closedAt(session)
        // Everything due before the attempt runs first, so the fault meets the attempt alone.
        yield* advanceTo(declinedAt, 0.99)
        payments.setBehaviour(session.setupIntentId, "succeeds")
        yield* arm
        yield* advanceTo(declinedAt, 1)
        // The attempt stopped where the crash was: unpaid, recorded pending or not, sent or not.
        const between = yield* stored(session.id)
        expect(outcomeOf(between)._tag).toBe("PaymentFailed")
        expect(dunningOf(between).attempts.map((a) => [a.attempt, a.status])).toEqual(
          left.pending ? [[1, "pending"]] : []
        )
        expect(payments.charges()).toHaveLength(left.charged ? 2 : 1)
        payments.faults.clear()
        ;(yield* StoreFaults).clear()
        yield* advanceTo(declinedAt, 1.01)
        const paid = yield* stored(session.id)
        expect(outcomeOf(paid)).toMatchObject({ _tag: "Paid", amountPence: 1000 })
        expect(dunningOf(paid).status).toBe("paid")
        const key = `${chargeKeyFor(session.id)}-collect-1`
        expect(dunningOf(paid).attempts.map((a) => [a.attempt, a.idempotencyKey])).toEqual([[1, key]])
        expect(payments.charges().map((c) => c.idempotencyKey)).toEqual([chargeKeyFor(session.id), key])
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(payments.netReceivedFor(session.id)).toBe(1000)
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", collection: Option.some("paid") })
        expect((yield* sentFor("Receipt", session.id)).map((r) => r.amountPence)).toEqual([1000])
        // No later attempt.
        yield* advanceTo(declinedAt, 10)
        expect(payments.charges()).toHaveLength(2)
        yield* noParkedWork(session.id)
      }),
      false
    )

  it.scoped("crash before the attempt is recorded", () =>
    attemptCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "before")),
      { pending: false, charged: false }
    )
  )
  it.scoped("crash after recording the attempt, before it is sent", () =>
    attemptCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "after")),
      { pending: true, charged: false }
    )
  )
  it.scoped("the attempt is charged, its answer lost every time", () =>
    attemptCrash(
      Effect.map(FakePayments, (p) => p.faults.arm("chargeSession", "after", { times: 10 })),
      {
        pending: true,
        charged: true
      }
    )
  )
  it.scoped("crash after the charge, before its answer is recorded", () =>
    attemptCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "before", { skip: 1 })),
      {
        pending: true,
        charged: true
      }
    )
  )
})

forEachScenarioStore("payments: a crash in a refund, then recovery", (it) => {
  const request = { amountPence: Option.none<ReturnType<typeof pence>>(), reason: "door jammed", by: "ada" }
  /** A paid 1000p session refunded in full with `arm` armed; staff repeat it: refunded once. */
  const refundCrash = (
    arm: Effect.Effect<void, never, PaymentScenarioServices>,
    left: { readonly pending: boolean; readonly refunded: boolean }
  ) =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* ended("succeeds")
        expect(payments.netReceivedFor(session.id)).toBe(1000)
        yield* arm
        const first = yield* Effect.exit(StaffPayments.refundPayment(session.id, request))
        expect(Exit.isFailure(first)).toBe(true)
        expect((yield* stored(session.id)).collection.refunds.map((r) => r.status)).toEqual(
          left.pending ? ["pending"] : []
        )
        expect(payments.refunds()).toHaveLength(left.refunded ? 1 : 0)
        payments.faults.clear()
        ;(yield* StoreFaults).clear()
        const repeat = yield* StaffPayments.refundPayment(session.id, request)
        expect(repeat.totalRefundedPence).toBe(1000)
        expect(repeat.refunds.map((r) => [r.amountPence, r.status])).toEqual([[1000, "succeeded"]])
        // A further repeat refunds nothing more.
        const again = yield* StaffPayments.refundPayment(session.id, request)
        expect([again.repeated, again.refundedPence]).toEqual([true, 0])
        yield* drainWork()
        expect(payments.refunds().map((r) => r.amountPence)).toEqual([1000])
        expect(payments.netReceivedFor(session.id)).toBe(0)
        const after = yield* stored(session.id)
        expect(after.collection.refunds.map((r) => [r.amountPence, r.status])).toEqual([[1000, "succeeded"]])
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", refundedPence: 1000 })
        expect(yield* sentFor("RefundNotice", session.id)).toHaveLength(1)
        yield* noParkedWork(session.id)
      }),
      false
    )

  it.scoped("crash before the refund is recorded pending", () =>
    refundCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "before")),
      { pending: false, refunded: false }
    )
  )
  it.scoped("crash after recording it pending, before the request", () =>
    refundCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "after")),
      { pending: true, refunded: false }
    )
  )
  it.scoped("the refund is made, its answer lost every time", () =>
    refundCrash(
      Effect.map(FakePayments, (p) => p.faults.arm("refund", "after", { times: 10 })),
      {
        pending: true,
        refunded: true
      }
    )
  )
  it.scoped("crash after the refund, before its answer is recorded", () =>
    refundCrash(
      Effect.map(StoreFaults, (f) => f.arm("commit", "before", { skip: 1 })),
      {
        pending: true,
        refunded: true
      }
    )
  )
})

forEachScenarioStore("payments: reconciliation", (it) => {
  it.scoped("a charge left unknown is settled without charging, once; a second run finds nothing", () =>
    run(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* activeSession("pod-1", "succeeds")
        yield* advance(Duration.minutes(20))
        // The provider charges; no answer comes back, and the settle-charge work has not run.
        payments.faults.arm("chargeSession", "after", { times: 10 })
        const unknown = yield* SessionEnd.endSession(session.id)
        payments.faults.clear()
        expect(outcomeOf(unknown)._tag).toBe("PaymentUnknown")
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "unknown" })

        const until = new Date((yield* ScenarioClock).unsafeCurrentTimeMillis() + 1)
        const report = yield* Reconciliation.reconcilePayments({ since: new Date(0), until })
        expect(report.findings).toEqual([
          expect.objectContaining({
            sessionId: session.id,
            action: "settled",
            detail: expect.stringContaining("1000p")
          })
        ])
        expect(outcomeOf(yield* stored(session.id))).toMatchObject({ _tag: "Paid", amountPence: 1000 })
        expect(yield* chargeRow(session.id)).toMatchObject({ status: "succeeded", amountPence: 1000 })

        const again = yield* Reconciliation.reconcilePayments({ since: new Date(0), until })
        expect(again.findings).toEqual([])
        // The settling work left queued finds it settled: nothing charged again.
        yield* drainWorkFor(Duration.minutes(5), Duration.seconds(30))
        expect(payments.charges()).toHaveLength(1)
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(payments.netReceivedFor(session.id)).toBe(1000)
        expect((yield* sentFor("Receipt", session.id)).map((r) => r.amountPence)).toEqual([1000])
      }),
      false
    )
  )
})
