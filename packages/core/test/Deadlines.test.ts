/**
 * Deadlines under `TestClock`: every outside call is bounded, a customer waits at most the
 * policy's `customerWait`, and a policy whose charge chain would outlast its lease or the close
 * safety net cannot start.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Checkout,
  CheckoutPhotos,
  CustomerEnd,
  chargeChainLimit,
  defaultPolicy,
  makePolicy,
  Payments,
  type PodId,
  Policy,
  type PolicyShape,
  SessionEnd,
  type SessionId,
  Staff
} from "@qwip/core"
import { demoPod, FakeMailer, FakePayments, FakeStaticCodes, layer, MemoryStore } from "@qwip/core/testing"
import { Duration, Effect, Either, Exit, Fiber, Layer, Logger, Option, TestClock } from "effect"
import { activeSession, drainWork } from "./kit.js"

/** Photos are not required here, so the customer's end never asks for one. */
const noPhotos = Layer.succeed(CheckoutPhotos, {
  save: () => Effect.dieMessage("CheckoutPhotos.save is not used here"),
  find: () => Effect.dieMessage("CheckoutPhotos.find is not used here"),
  signedUrl: () => Effect.dieMessage("CheckoutPhotos.signedUrl is not used here")
})

const kit = (policy: Partial<PolicyShape> = {}) =>
  Layer.merge(layer({ pods: [demoPod({ id: "pod-1" })], policy }), noPhotos)

/** Warnings logged while `self` runs, as `message {annotations}` lines. */
const makeWarnings = () => {
  const lines: Array<{ readonly message: string; readonly annotations: Record<string, unknown> }> = []
  const logger = Logger.make(({ logLevel, message, annotations }) => {
    if (logLevel._tag !== "Warning") return
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    lines.push({ message: text, annotations: Object.fromEntries(annotations) })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** Every charge request hangs: the provider stored nothing and never answers. */
const chargesHang = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.updateService(self, Payments, (payments) => ({ ...payments, chargeSession: () => Effect.never }))

/** An active session on pod-1, 20 minutes in (a real charge is due). */
const runningSession = Effect.gen(function* () {
  const codes = yield* FakeStaticCodes
  codes.setCodes("pod-1" as PodId, ["04726"])
  const session = yield* activeSession("pod-1")
  yield* TestClock.adjust(Duration.minutes(20))
  return session
})

const stateOf = (id: SessionId) => Effect.map(MemoryStore, (store) => store.sessions().find((s) => s.id === id)?.state)

describe("the policy's timings", () => {
  it("the defaults fit: a charge chain ends well inside the lease and before the close safety net", () => {
    expect(Either.isRight(makePolicy({}))).toBe(true)
    expect(Duration.toMillis(chargeChainLimit(defaultPolicy))).toBe(3 * 10_000 + 1.2 * 3_000)
  })

  it("refuses a charge chain that could outlast the close safety net", () => {
    const result = makePolicy({ chargeAttempts: 5, outsideCallDeadline: Duration.seconds(30) })
    expect(Either.isLeft(result) && result.left.message).toMatch(
      /^inconsistent policy: 5 charge attempts of up to 30s with backoff \(2m 48s\) must end before the close safety net \(2m\)$/
    )
  })

  it("refuses settling that could outlast its work lease, and a settle delay shorter than one call", () => {
    const lease = makePolicy({ workLease: Duration.seconds(30) })
    expect(Either.isLeft(lease) && lease.left.reason).toMatch(/must fit inside workLease \(30s\)$/)
    const settle = makePolicy({ settleDelay: Duration.seconds(5) })
    expect(Either.isLeft(settle) && settle.left.reason).toMatch(/^settleDelay \(5s\) must be longer than/)
    const zero = makePolicy({ customerWait: Duration.zero })
    expect(Either.isLeft(zero) && zero.left.reason).toBe("customerWait must be longer than 0")
  })

  it.effect("an inconsistent policy stops the layer: nothing runs with it", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.provide(Policy, Policy.layer({ workLease: Duration.seconds(20), workTimeout: Duration.minutes(5) }))
      )
      expect(Exit.isFailure(exit) && String(Exit.causeOption(exit).pipe(Option.getOrThrow))).toMatch(
        /inconsistent policy: .* must fit inside workLease \(20s\)/
      )
    })
  )
})

describe("the customer's end waits at most customerWait", () => {
  it.effect(
    "a charge that never answers: ended after 5 s with the outcome unknown and the pod free; settled later, one charge, one receipt",
    () => {
      const warnings = makeWarnings()
      return Effect.gen(function* () {
        const store = yield* MemoryStore
        const payments = yield* FakePayments
        const mailer = yield* FakeMailer
        const session = yield* runningSession

        const end = yield* Effect.fork(chargesHang(CustomerEnd.endAsCustomer(session.id)))
        yield* TestClock.adjust(Duration.millis(4_900))
        expect(Option.isNone(yield* Fiber.poll(end))).toBe(true)
        yield* TestClock.adjust(Duration.millis(100))
        const ended = yield* Fiber.join(end)

        expect(ended.state._tag === "Ended" && ended.state.outcome).toMatchObject({
          _tag: "PaymentUnknown",
          detail: "the payment provider had not answered within 5s; settled in the background"
        })
        expect(store.podInUse(session.podId)).toBe(false)
        const settle = store.work().find((w) => w.item.kind === "settle-charge" && w.item.sessionId === session.id)
        expect(settle?.item.runAt.getTime()).toBe(
          ended.updatedAt.getTime() + Duration.toMillis(defaultPolicy.settleDelay)
        )
        expect(warnings.lines).toContainEqual({
          message: "charge outcome unknown; settled later by reading it back",
          annotations: expect.objectContaining({ sessionId: session.id })
        })

        // The provider answers again: settling reads back (nothing), charges under the same key.
        yield* TestClock.adjust(defaultPolicy.settleDelay)
        yield* drainWork()
        const settled = yield* stateOf(session.id)
        expect(settled?._tag === "Ended" && settled.outcome._tag).toBe("Paid")
        expect(payments.charges().filter((c) => c.sessionId === session.id)).toHaveLength(1)
        expect(mailer.sent().filter((m) => m._tag === "Receipt" && m.sessionId === session.id)).toHaveLength(1)
      }).pipe(Effect.provide(Layer.merge(kit(), warnings.layer)))
    }
  )

  it.effect("a charge that answers in time is recorded as usual", () =>
    Effect.gen(function* () {
      const session = yield* runningSession
      const ended = yield* CustomerEnd.endAsCustomer(session.id)
      expect(ended.state._tag === "Ended" && ended.state.outcome._tag).toBe("Paid")
    }).pipe(Effect.provide(kit()))
  )
})

describe("every outside call has a deadline", () => {
  it.effect(
    "a staff end (no customer bound): each charge attempt is abandoned at the deadline, the chain ends before the safety net",
    () => {
      const warnings = makeWarnings()
      return Effect.gen(function* () {
        const session = yield* runningSession
        const policy = yield* Policy
        const end = yield* Effect.fork(chargesHang(SessionEnd.endSession(session.id, { by: Staff("sam") })))
        // testPolicy: 3 attempts of 5 s, backoff from 100 ms with jitter: at most 15.36 s.
        yield* TestClock.adjust(Duration.millis(14_900))
        expect(Option.isNone(yield* Fiber.poll(end))).toBe(true)
        yield* TestClock.adjust(Duration.millis(500))
        const ended = yield* Fiber.join(end)
        expect(ended.state._tag === "Ended" && ended.state.outcome).toMatchObject({
          _tag: "PaymentUnknown",
          detail: "no answer within 5s"
        })
        expect(Duration.lessThan(chargeChainLimit(policy), policy.closeSafetyNet)).toBe(true)
        const missed = warnings.lines.filter((l) => l.message === "outside call missed its deadline")
        expect(missed).toHaveLength(3)
        expect(missed[0]?.annotations).toMatchObject({ operation: "chargeSession", sessionId: session.id })
      }).pipe(Effect.provide(Layer.merge(kit(), warnings.layer)))
    }
  )

  it.effect("finalize waiting on the card set-up past customerWait fails with PaymentsUnavailable (try again)", () =>
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const started = yield* Checkout.startCheckout("pod-1" as PodId)
      payments.confirmCard(started.setupIntentId)
      const finalize = yield* Effect.fork(
        Effect.updateService(Checkout.finalizeBooking(started), Payments, (p) => ({
          ...p,
          readCardSetUp: () => Effect.never
        })).pipe(Effect.flip)
      )
      yield* TestClock.adjust(Duration.seconds(5))
      const error = yield* Fiber.join(finalize)
      expect(error).toMatchObject({ _tag: "PaymentsUnavailable", operation: "readCardSetUp" })
      // (Here the outside-call deadline is the same 5 s, so either bound may say so.)
      expect(error.message).toMatch(/^payment provider unavailable during readCardSetUp: no answer within 5s/)
      // Asked again once the provider answers, the booking is made.
      expect((yield* Checkout.finalizeBooking(started)).podId).toBe("pod-1")
    }).pipe(Effect.provide(kit()))
  )
})
