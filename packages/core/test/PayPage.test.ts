/**
 * The pay page: a charge that needed authentication is completed as the same PaymentIntent; a
 * declined one is paid with a new PaymentIntent for what is owed; the read-back records the
 * payment (the receipt follows); forged, expired or foreign links pay nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Message, PayPage, type PodId, type Session, SessionEnd, type SessionId } from "@qwip/core"
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

const withCodes = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const codes = yield* FakeStaticCodes
    codes.setCodes("pod-1" as PodId, ["04726"])
    return yield* self
  })

const kit = (holdPence?: number) =>
  layer({ pods: [demoPod({ id: "pod-1" })], policy: holdPence === undefined ? {} : { bookingHoldPence: holdPence } })

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

/** Ends a session after `minutes` (50p a minute), its card as `behaviour`; the first pay link's token. */
const endedWithLink = (behaviour: CardBehaviour, minutes = 20) =>
  Effect.gen(function* () {
    const session = yield* activeSession("pod-1", behaviour)
    yield* TestClock.adjust(Duration.minutes(minutes))
    yield* SessionEnd.endSession(session.id)
    yield* drainWork()
    const [request] = yield* sentFor("PaymentRequest", session.id)
    if (request === undefined) throw new Error("no pay link sent")
    return { session: yield* stored(session.id), token: (yield* FakePayLinks).tokenOf(request.link), request }
  })

const outcomeOf = (s: Session) => {
  if (s.state._tag !== "Ended") throw new Error("not ended")
  return s.state.outcome
}

describe("PayPage", () => {
  it.effect("authentication: the recorded PaymentIntent is completed; paid once, receipt sent", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const { session, token, request } = yield* endedWithLink("needs_authentication")
        expect(request.reason).toBe("needs_authentication")
        const recorded = outcomeOf(session)
        if (recorded._tag !== "NeedsAuthentication") throw new Error(`unexpected ${recorded._tag}`)
        const page = yield* PayPage.openPayPage(token)
        expect(page).toMatchObject({ amountPence: 1000, reason: "needs_authentication" })
        expect(page.payment.paymentIntentId).toBe(recorded.paymentIntentId)
        expect(page.payment.status).toBe("requires_action")

        payments.completeAuthentication(page.payment.paymentIntentId, "succeeds")
        const result = yield* PayPage.confirmPayPage(token, page.payment.paymentIntentId)
        expect(result._tag).toBe("Paid")
        const after = yield* stored(session.id)
        expect(outcomeOf(after)).toMatchObject({ _tag: "Paid", amountPence: 1000 })
        yield* drainWork()
        expect((yield* sentFor("Receipt", session.id)).map((r) => r.amountPence)).toEqual([1000])
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        // Paid: the page has nothing more to take.
        expect((yield* Effect.flip(PayPage.openPayPage(token)))._tag).toBe("NothingToPay")
        // A repeated read-back changes nothing.
        expect((yield* PayPage.confirmPayPage(token, page.payment.paymentIntentId))._tag).toBe("Paid")
        // The retries scheduled for the unauthenticated charge do nothing once it is paid.
        expect(Option.map(after.collection.dunning, (d) => d.status)).toEqual(Option.some("paid"))
        yield* TestClock.adjust(Duration.days(10))
        yield* drainWork()
        expect(payments.charges()).toHaveLength(1)
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("decline: a new PaymentIntent for what is owed; a failed try is not paid, a later one is", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const { session, token } = yield* endedWithLink("declines")
        const page = yield* PayPage.openPayPage(token)
        expect(page).toMatchObject({ amountPence: 1000, reason: "declined" })
        const created = payments.paymentIntents().find((p) => p.paymentIntentId === page.payment.paymentIntentId)
        expect(created?.idempotencyKey).toBe(`qwip-session-charge-${session.id}-link-0`)
        // A reload finds the same PaymentIntent.
        expect((yield* PayPage.openPayPage(token)).payment.paymentIntentId).toBe(page.payment.paymentIntentId)

        expect(yield* PayPage.confirmPayPage(token, page.payment.paymentIntentId)).toMatchObject({
          _tag: "NotPaid",
          status: "requires_confirmation"
        })
        payments.completeAuthentication(page.payment.paymentIntentId, "fails")
        expect(yield* PayPage.confirmPayPage(token, page.payment.paymentIntentId)).toMatchObject({ _tag: "NotPaid" })
        expect(outcomeOf(yield* stored(session.id))._tag).toBe("PaymentFailed")

        // Another card on the same page.
        payments.completeAuthentication(page.payment.paymentIntentId, "succeeds")
        expect((yield* PayPage.confirmPayPage(token, page.payment.paymentIntentId))._tag).toBe("Paid")
        const after = yield* stored(session.id)
        expect(outcomeOf(after)).toMatchObject({ _tag: "Paid", paymentIntentId: page.payment.paymentIntentId })
        expect(Option.map(after.collection.dunning, (d) => d.status)).toEqual(Option.some("paid"))
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("with a card check hold, the page asks only for what the capture left", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        // The hold passes, the remainder charge is declined.
        const { session, token } = yield* endedWithLink("declines", 50)
        const page = yield* PayPage.openPayPage(token)
        expect(page.amountPence).toBe(1000)
        payments.completeAuthentication(page.payment.paymentIntentId, "succeeds")
        yield* PayPage.confirmPayPage(token, page.payment.paymentIntentId)
        expect(outcomeOf(yield* stored(session.id))).toMatchObject({ _tag: "Paid", amountPence: 2500 })
        expect(payments.netReceivedFor(session.id)).toBe(2500)
      })
    ).pipe(Effect.provide(kit(1500)))
  )

  it.effect("forged, expired and foreign links pay nothing", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const { token } = yield* endedWithLink("declines")
        expect((yield* Effect.flip(PayPage.openPayPage("forged.99999999999999")))._tag).toBe("PayLinkInvalid")
        expect((yield* Effect.flip(PayPage.confirmPayPage(token, "pi_nope")))._tag).toBe("PayLinkInvalid")
        // Another session's paid PaymentIntent cannot be recorded through this link.
        const second = yield* activeSession("pod-1", "succeeds")
        yield* TestClock.adjust(Duration.minutes(20))
        const paidElsewhere = outcomeOf(yield* SessionEnd.endSession(second.id))
        if (paidElsewhere._tag !== "Paid") throw new Error("the second session should be paid")
        expect((yield* Effect.flip(PayPage.confirmPayPage(token, paidElsewhere.paymentIntentId)))._tag).toBe(
          "PayLinkInvalid"
        )
        expect(payments.succeededChargesFor(second.id)).toBe(1)
        yield* TestClock.adjust(Duration.days(15))
        expect((yield* Effect.flip(PayPage.openPayPage(token)))._tag).toBe("PayLinkInvalid")
      })
    ).pipe(Effect.provide(kit()))
  )
})
