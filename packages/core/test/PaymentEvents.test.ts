/**
 * Charge events settle a session only when they are about the charge it asked for: its recorded
 * PaymentIntent (or, with none recorded, one for its own customer), for the quoted amount in
 * pounds. Anything else leaves the session as it was and tells staff once per PaymentIntent.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  ChargeFailed,
  ChargeSucceeded,
  handlePaymentEvent,
  type PaymentProblem,
  type PodId,
  pence,
  type Session,
  SessionEnd,
  type SessionId,
  Staff
} from "@qwip/core"
import { demoPod, FakeMailer, FakePayments, FakeStaticCodes, layer, MemoryStore } from "@qwip/core/testing"
import { Duration, Effect, Option, TestClock } from "effect"
import { activeSession, drainWork, withTimePassing } from "./kit.js"

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

/** A session ended after 20 minutes at 50p a minute (1000p), its card behaving as `behaviour`. */
const endedSession = (behaviour: "succeeds" | "declines" | "needs_authentication") =>
  Effect.gen(function* () {
    const session = yield* activeSession("pod-1", behaviour)
    yield* TestClock.adjust(Duration.minutes(20))
    const ended = yield* SessionEnd.endSession(session.id)
    if (ended.state._tag !== "Ended") throw new Error(`unexpected ${ended.state._tag}`)
    expect(ended.state.quote.chargePence).toBe(1000)
    return ended
  })

const recordedIntent = (session: Session): string => {
  if (session.state._tag !== "Ended") throw new Error("not ended")
  const outcome = session.state.outcome
  if (outcome._tag === "NeedsAuthentication" || outcome._tag === "Paid") return outcome.paymentIntentId
  if (outcome._tag === "PaymentFailed") return Option.getOrThrow(outcome.paymentIntentId)
  throw new Error(`no PaymentIntent in ${outcome._tag}`)
}

const succeeded = (
  session: Session,
  overrides: Partial<{ paymentIntentId: string; amountPence: number; currency: string; customerId: string }> = {}
) =>
  new ChargeSucceeded({
    sessionId: Option.some(session.id),
    paymentIntentId: overrides.paymentIntentId ?? recordedIntent(session),
    customerId: Option.some(overrides.customerId ?? session.card.customerId),
    amountPence: pence(overrides.amountPence ?? 1000),
    currency: overrides.currency ?? "gbp"
  })

const unexpectedPayments = Effect.gen(function* () {
  yield* drainWork()
  return (yield* FakeMailer)
    .sent()
    .filter((m): m is PaymentProblem => m._tag === "PaymentProblem" && m.problem === "unexpected_payment")
})

describe("payment events are checked against the charge the session asked for", () => {
  it.effect("the session's own PaymentIntent for the quoted amount settles it as paid", () =>
    withCodes(
      Effect.gen(function* () {
        const ended = yield* endedSession("needs_authentication")
        const result = yield* handlePaymentEvent(succeeded(ended))
        expect(result).toEqual({ _tag: "Applied", sessionId: ended.id })
        const after = yield* stored(ended.id)
        expect(after.state._tag === "Ended" && after.state.outcome._tag).toBe("Paid")
        expect(yield* unexpectedPayments).toEqual([])
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("another PaymentIntent is not the session's charge: unchanged, staff told once per PaymentIntent", () =>
    withCodes(
      Effect.gen(function* () {
        const ended = yield* endedSession("needs_authentication")
        const stranger = succeeded(ended, { paymentIntentId: "pi_not_ours" })
        const first = yield* handlePaymentEvent(stranger)
        expect(first._tag).toBe("Unexpected")
        expect(first._tag === "Unexpected" && first.reason).toBe(
          `PaymentIntent pi_not_ours is not the session's charge (${recordedIntent(ended)})`
        )
        yield* handlePaymentEvent(stranger) // Stripe delivers again
        yield* handlePaymentEvent(succeeded(ended, { paymentIntentId: "pi_another" }))

        const after = yield* stored(ended.id)
        expect(after.version).toBe(ended.version)
        expect(after.state._tag === "Ended" && after.state.outcome._tag).toBe("NeedsAuthentication")
        const told = yield* unexpectedPayments
        expect(told.map((m) => m.paymentIntentId).sort()).toEqual(["pi_another", "pi_not_ours"])
        expect(told[0]).toMatchObject({ sessionId: ended.id, amountPence: 1000, customerEmail: ended.card.email })
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("the session's PaymentIntent for another amount or currency does not mark it paid", () =>
    withCodes(
      Effect.gen(function* () {
        const ended = yield* endedSession("declines")
        const less = yield* handlePaymentEvent(succeeded(ended, { amountPence: 999 }))
        expect(less._tag === "Unexpected" && less.reason).toMatch(/received 999 pence; the session was charged 1000/)
        const dollars = yield* handlePaymentEvent(succeeded(ended, { currency: "usd" }))
        expect(dollars._tag === "Unexpected" && dollars.reason).toMatch(/is in usd, not gbp/)
        const after = yield* stored(ended.id)
        expect(after.version).toBe(ended.version)
        expect(after.state._tag === "Ended" && after.state.outcome._tag).toBe("PaymentFailed")
        // Same PaymentIntent both times: one email.
        expect(yield* unexpectedPayments).toHaveLength(1)
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("after a decline, a new PaymentIntent for the session's own customer (a staff retry) settles it", () =>
    withCodes(
      Effect.gen(function* () {
        const ended = yield* endedSession("declines")
        const retried = succeeded(ended, { paymentIntentId: "pi_staff_retry" })
        expect(yield* handlePaymentEvent(retried)).toEqual({ _tag: "Applied", sessionId: ended.id })
        const after = yield* stored(ended.id)
        expect(after.state._tag === "Ended" && after.state.outcome).toMatchObject({
          _tag: "Paid",
          paymentIntentId: "pi_staff_retry"
        })
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("with the outcome unknown, a PaymentIntent for the session's own customer settles it; another's not", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(20))
        payments.faults.arm("chargeSession", "after", { times: 3 }) // charged, every answer lost
        const ended = yield* withTimePassing(SessionEnd.endSession(session.id))
        expect(ended.state._tag === "Ended" && ended.state.outcome._tag).toBe("PaymentUnknown")
        const ours = payments.charges()[0]?.paymentIntentId ?? "(no charge)"

        const foreign = yield* handlePaymentEvent(
          succeeded(ended, { paymentIntentId: "pi_foreign", customerId: "cus_someone_else" })
        )
        expect(foreign._tag === "Unexpected" && foreign.reason).toBe(
          `PaymentIntent pi_foreign is for cus_someone_else, not the session's customer ${ended.card.customerId}`
        )
        // A failure of a stranger's charge must not record its PaymentIntent as the session's.
        const failed = yield* handlePaymentEvent(
          new ChargeFailed({
            sessionId: Option.some(ended.id),
            paymentIntentId: "pi_foreign",
            customerId: Option.none(),
            code: "card_declined",
            message: "declined"
          })
        )
        expect(failed._tag).toBe("Ignored")
        expect((yield* stored(ended.id)).version).toBe(ended.version)

        const applied = yield* handlePaymentEvent(succeeded(ended, { paymentIntentId: ours }))
        expect(applied._tag).toBe("Applied")
        const after = yield* stored(ended.id)
        expect(after.state._tag === "Ended" && after.state.outcome).toMatchObject({
          _tag: "Paid",
          paymentIntentId: ours
        })
      })
    ).pipe(Effect.provide(kit()))
  )

  it.effect("a session that asked for no charge (waived) is never marked paid by an event", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(20))
        const waived = yield* SessionEnd.endSession(session.id, { by: Staff("Sam"), waiveReason: "pod was noisy" })
        const result = yield* handlePaymentEvent(succeeded(waived, { paymentIntentId: "pi_x" }))
        expect(result._tag === "Unexpected" && result.reason).toBe(
          "PaymentIntent pi_x: the session asked for no charge (waived)"
        )
        const after = yield* stored(session.id)
        expect(after.state._tag === "Ended" && after.state.outcome._tag).toBe("Waived")
        expect(yield* unexpectedPayments).toHaveLength(1)
      })
    ).pipe(Effect.provide(kit()))
  )
})
