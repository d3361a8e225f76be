/**
 * The card check hold at booking: placed before the door code (a declined one refuses the
 * booking and frees the pod), captured at the end up to what is owed with the remainder
 * charged, released when nothing is owed; and a crash between any two steps re-runs to the
 * right total, one capture and one charge.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  ChargeSucceeded,
  Checkout,
  handlePaymentEvent,
  makePolicy,
  type PodId,
  pence,
  type Receipt,
  type Session,
  SessionEnd,
  type SessionId,
  Staff
} from "@qwip/core"
import {
  type CardBehaviour,
  demoPod,
  FakeMailer,
  FakePayments,
  FakeStaticCodes,
  layer,
  MemoryStore
} from "@qwip/core/testing"
import { Duration, Effect, Option, TestClock } from "effect"
import { book, drainWork, drainWorkFor, withTimePassing } from "./kit.js"

const HOLD = 1500
const kit = () => layer({ pods: [demoPod({ id: "pod-1" })], policy: { bookingHoldPence: HOLD } })

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

/** Books and provisions with the hold policy on. */
const active = (behaviour: CardBehaviour = "succeeds") =>
  Effect.gen(function* () {
    const session = yield* book("pod-1", behaviour)
    yield* drainWork()
    return yield* stored(session.id)
  })

const receipts = (id: SessionId) =>
  Effect.map(FakeMailer, (m) => m.sent().filter((x): x is Receipt => x._tag === "Receipt" && x.sessionId === id))

const outcomeOf = (s: Session) => {
  if (s.state._tag !== "Ended") throw new Error(`not ended: ${s.state._tag}`)
  return s.state.outcome
}

describe("CardHolds: booking", () => {
  it.effect(
    "a declined hold refuses the booking: CardDeclined, no code, pod free, nothing charged, same answer again",
    () =>
      withCodes(
        Effect.gen(function* () {
          const payments = yield* FakePayments
          const started = yield* Checkout.startCheckout("pod-1" as PodId)
          payments.confirmCard(started.setupIntentId, { behaviour: "declines_everything" })
          const refused = yield* Effect.flip(Checkout.finalizeBooking(started))
          expect(refused._tag).toBe("CardDeclined")
          expect(refused).toMatchObject({ code: "card_declined", setupIntentId: started.setupIntentId })
          const again = yield* Effect.flip(Checkout.finalizeBooking(started))
          expect(again._tag).toBe("CardDeclined")
          yield* drainWork()
          const store = yield* MemoryStore
          const [session] = store.sessions()
          expect(session?.state._tag).toBe("ProvisioningFailed")
          expect(session?.state._tag === "ProvisioningFailed" && session.state.reason).toMatch(/^card declined/)
          expect(session?.access).toEqual(Option.none())
          expect(store.podInUse("pod-1" as PodId)).toBe(false)
          expect(payments.charges()).toEqual([])
          expect(payments.holds().map((h) => h.status)).toEqual(["requires_payment_method"])
          // The pod can be booked by the next customer.
          const next = yield* book("pod-1", "succeeds")
          expect(next.state._tag).toBe("Provisioning")
        })
      ).pipe(Effect.provide(kit()))
  )

  it.effect("a hold needing authentication refuses the booking and its PaymentIntent is cancelled", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const refused = yield* Effect.flip(book("pod-1", "needs_authentication"))
        expect(refused).toMatchObject({ _tag: "CardDeclined", code: "authentication_required" })
        yield* drainWork()
        expect(payments.holds().map((h) => h.status)).toEqual(["canceled"])
        const session = (yield* MemoryStore).sessions()[0]
        expect(Option.map(session?.collection.hold ?? Option.none(), (h) => h.status)).toEqual(Option.some("released"))
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("the hold is recorded before the code; a finalize lost after opening is finished by the worker", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const started = yield* Checkout.startCheckout("pod-1" as PodId)
        payments.confirmCard(started.setupIntentId, { behaviour: "succeeds" })
        // The hold request fails every time: finalize gives up, the session is open without it.
        payments.faults.arm("placeHold", "before", { times: 3 })
        const failed = yield* withTimePassing(Effect.flip(Checkout.finalizeBooking(started)))
        expect(failed._tag).toBe("PaymentsUnavailable")
        const [opened] = (yield* MemoryStore).sessions()
        expect(opened?.state._tag).toBe("Provisioning")
        expect(opened?.collection.hold).toEqual(Option.none())
        yield* drainWork()
        const session = yield* stored(opened?.id as SessionId)
        expect(session.state._tag).toBe("Active")
        expect(Option.map(session.collection.hold, (h) => [h.status, h.amountPence])).toEqual(
          Option.some(["held", HOLD])
        )
        expect(payments.holds()).toHaveLength(1)
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("a booking whose door code cannot be made releases its hold", () =>
    Effect.gen(function* () {
      const payments = yield* FakePayments
      // The pod has no static codes: provisioning fails for good.
      const session = yield* book("pod-1", "succeeds")
      yield* drainWork()
      const failed = yield* stored(session.id)
      expect(failed.state._tag).toBe("ProvisioningFailed")
      expect(Option.map(failed.collection.hold, (h) => h.status)).toEqual(Option.some("released"))
      expect(payments.holds().map((h) => h.status)).toEqual(["canceled"])
      expect(payments.captures()).toEqual([])
    }).pipe(Effect.provide(kit()))
  )

  it.effect("without the policy nothing is held", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* active()
        expect(session.state._tag).toBe("Active")
        expect((yield* FakePayments).holds()).toEqual([])
      })
    ).pipe(Effect.provide(layer({ pods: [demoPod({ id: "pod-1" })] })))
  )
})

describe("CardHolds: the end", () => {
  it.effect("owing less than the hold: captures what is owed, charges nothing more", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* active()
        yield* TestClock.adjust(Duration.minutes(20))
        const ended = yield* SessionEnd.endSession(session.id)
        expect(outcomeOf(ended)).toMatchObject({ _tag: "Paid", amountPence: 1000 })
        expect(payments.captures().map((c) => c.amountPence)).toEqual([1000])
        expect(payments.charges()).toEqual([])
        expect(Option.map(ended.collection.hold, (h) => [h.status, h.capturedPence])).toEqual(
          Option.some(["captured", 1000])
        )
        yield* drainWork()
        expect((yield* receipts(session.id)).map((r) => [r.amountPence, r.capturedPence])).toEqual([[1000, 1000]])
        expect(payments.netReceivedFor(session.id)).toBe(1000)
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("owing exactly the hold: captures it all, no remainder", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* active()
        yield* TestClock.adjust(Duration.minutes(30))
        const ended = yield* SessionEnd.endSession(session.id)
        expect(outcomeOf(ended)).toMatchObject({ _tag: "Paid", amountPence: HOLD })
        expect(payments.captures().map((c) => c.amountPence)).toEqual([HOLD])
        expect(payments.charges()).toEqual([])
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("owing more than the hold: captures the hold and charges the remainder with the session's key", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* active()
        yield* TestClock.adjust(Duration.minutes(50))
        const ended = yield* SessionEnd.endSession(session.id)
        expect(outcomeOf(ended)).toMatchObject({ _tag: "Paid", amountPence: 2500 })
        expect(payments.captures().map((c) => c.amountPence)).toEqual([HOLD])
        expect(payments.charges().map((c) => [c.amountPence, c.idempotencyKey])).toEqual([
          [1000, `qwip-session-charge-${session.id}`]
        ])
        yield* drainWork()
        expect((yield* receipts(session.id)).map((r) => [r.amountPence, r.capturedPence])).toEqual([[2500, HOLD]])
        expect(payments.netReceivedFor(session.id)).toBe(2500)
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("owing nothing (waived): the hold is released by background work", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* active()
        yield* TestClock.adjust(Duration.minutes(20))
        const ended = yield* SessionEnd.endSession(session.id, { by: Staff("Ada"), waiveReason: "broken heater" })
        expect(outcomeOf(ended)._tag).toBe("Waived")
        yield* drainWork()
        expect(payments.holds().map((h) => h.status)).toEqual(["canceled"])
        expect(payments.captures()).toEqual([])
        expect(payments.charges()).toEqual([])
        const after = yield* stored(session.id)
        expect(Option.map(after.collection.hold, (h) => h.status)).toEqual(Option.some("released"))
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("a hold that expired before the end: the whole amount is charged instead", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* active()
        const hold = Option.getOrThrow(session.collection.hold)
        payments.expireHold(hold.paymentIntentId)
        yield* TestClock.adjust(Duration.minutes(20))
        const ended = yield* SessionEnd.endSession(session.id)
        expect(outcomeOf(ended)).toMatchObject({ _tag: "Paid", amountPence: 1000 })
        expect(payments.charges().map((c) => c.amountPence)).toEqual([1000])
        expect(Option.map(ended.collection.hold, (h) => h.status)).toEqual(Option.some("released"))
      })
    ).pipe(Effect.provide(kit()))
  )
})

describe("CardHolds: crashes", () => {
  /** Ends a 50-minute session (2500p: 1500 captured, 1000 charged) with a fault armed first. */
  const crashThenRecover = (arm: Effect.Effect<void, never, FakePayments | MemoryStore>) =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* active()
        yield* TestClock.adjust(Duration.minutes(50))
        yield* arm
        yield* withTimePassing(Effect.exit(SessionEnd.endSession(session.id)))
        // The safety net and the settling work finish whatever the crash left.
        yield* drainWorkFor(Duration.minutes(5), Duration.seconds(30))
        const after = yield* stored(session.id)
        expect(outcomeOf(after)).toMatchObject({ _tag: "Paid", amountPence: 2500 })
        expect(payments.captures().map((c) => c.amountPence)).toEqual([HOLD])
        expect(payments.charges().map((c) => c.amountPence)).toEqual([1000])
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(payments.netReceivedFor(session.id)).toBe(2500)
        expect((yield* receipts(session.id)).map((r) => [r.amountPence, r.capturedPence])).toEqual([[2500, HOLD]])
      })
    ).pipe(Effect.provide(kit()))

  it.effect("the capture lands but its answer is lost every time", () =>
    crashThenRecover(Effect.map(FakePayments, (p) => p.faults.arm("captureHold", "after", { times: 3 })))
  )

  it.effect("crash after the capture, before it is recorded", () =>
    crashThenRecover(Effect.map(MemoryStore, (s) => s.faults.arm("commit", "before", { skip: 1 })))
  )

  it.effect("crash after recording the capture (the remainder is charged on the re-run)", () =>
    crashThenRecover(Effect.map(MemoryStore, (s) => s.faults.arm("commit", "after", { skip: 1 })))
  )

  it.effect("crash between recording the capture and the remainder charge's answer", () =>
    crashThenRecover(Effect.map(FakePayments, (p) => p.faults.arm("chargeSession", "after", { times: 3 })))
  )

  it.effect("crash before the close", () =>
    crashThenRecover(Effect.map(MemoryStore, (s) => s.faults.arm("commit", "before", { skip: 2 })))
  )

  it.effect("crash after the close (the end is repeated)", () =>
    crashThenRecover(Effect.map(MemoryStore, (s) => s.faults.arm("commit", "after", { skip: 2 })))
  )
})

describe("CardHolds: payment events", () => {
  const succeeded = (session: Session, paymentIntentId: string, amountPence: number, purpose: "hold" | "charge") =>
    new ChargeSucceeded({
      sessionId: Option.some(session.id),
      paymentIntentId,
      customerId: Option.some(session.card.customerId),
      amountPence: pence(amountPence),
      currency: "gbp",
      purpose
    })

  it.effect("a hold's event never settles a session; the remainder's event must match what was left", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* active()
        const hold = Option.getOrThrow(session.collection.hold)
        yield* TestClock.adjust(Duration.minutes(50))
        // The remainder's answer is lost: the session ends with its outcome unknown.
        payments.faults.arm("chargeSession", "after", { times: 3 })
        const ended = yield* withTimePassing(SessionEnd.endSession(session.id))
        expect(outcomeOf(ended)._tag).toBe("PaymentUnknown")

        const holdEvent = yield* handlePaymentEvent(succeeded(ended, hold.paymentIntentId, HOLD, "hold"))
        expect(holdEvent._tag).toBe("Ignored")
        const remainder = payments.charges()[0]?.paymentIntentId ?? "(none)"
        // The whole quote is not what the remainder charge asked for.
        const wrong = yield* handlePaymentEvent(succeeded(ended, remainder, 2500, "charge"))
        expect(wrong._tag).toBe("Unexpected")
        const right = yield* handlePaymentEvent(succeeded(ended, remainder, 1000, "charge"))
        expect(right._tag).toBe("Applied")
        expect(outcomeOf(yield* stored(session.id))).toMatchObject({
          _tag: "Paid",
          paymentIntentId: remainder,
          amountPence: 2500
        })
      })
    ).pipe(Effect.provide(kit()))
  )
})

describe("CardHolds: policy", () => {
  it("the hold is whole pence, at least 1, or unset", () => {
    expect(makePolicy({ bookingHoldPence: 1500 })._tag).toBe("Right")
    expect(makePolicy({ bookingHoldPence: undefined })._tag).toBe("Right")
    expect(makePolicy({ bookingHoldPence: 0 })._tag).toBe("Left")
    expect(makePolicy({ bookingHoldPence: 12.5 })._tag).toBe("Left")
    expect(makePolicy({ strayHoldAge: Duration.zero })._tag).toBe("Left")
  })
})
