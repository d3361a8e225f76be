/**
 * Business metrics recorded by the metered store (`QwipMetrics.meteredSessionStore`) from what
 * it persists: a booking counts once however often finalize is retried; provisioning records
 * its time to ready; an end counts by who ended it, and its charge by outcome and amount; a
 * later settlement counts its new outcome, but the session does not end twice. Metrics are
 * process-wide, so each test compares before and after.
 */
import { describe, expect, it } from "@effect/vitest"
import { Checkout, Ended, PaymentUnknown, type PodId, QwipMetrics, Session, SessionEnd, SessionStore } from "@qwip/core"
import { demoPod, FakePayments, FakeStaticCodes, layer } from "@qwip/core/testing"
import { Effect, Layer, Metric, TestClock } from "effect"
import { drainWork } from "./kit.js"

const kit = () =>
  Layer.effect(SessionStore, Effect.map(SessionStore, QwipMetrics.meteredSessionStore)).pipe(
    Layer.provideMerge(layer({ pods: [demoPod({ id: "pod-1" })] }))
  )

/** Books pod-1 (a card that succeeds), with a static code to give. */
const startBooking = Effect.gen(function* () {
  ;(yield* FakeStaticCodes).setCodes("pod-1" as PodId, ["04726"])
  const payments = yield* FakePayments
  const checkout = yield* Checkout.startCheckout("pod-1" as PodId)
  payments.confirmCard(checkout.setupIntentId, { behaviour: "succeeds", email: "ada@example.com" })
  return checkout
})

const count = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (s) => s.count)
const charged = (outcome: string) => count(Metric.tagged(QwipMetrics.charges, "outcome", outcome))
const pence = (outcome: string) => count(Metric.tagged(QwipMetrics.chargedPence, "outcome", outcome))
const ended = (by: string) => count(Metric.tagged(QwipMetrics.sessionsEnded, "by", by))
const readyCount = Effect.map(Metric.value(QwipMetrics.timeToReady), (s) => s.count)

describe("business metrics from the metered store", () => {
  it.effect("counts a booking once, its time to ready, its end and its charge", () =>
    Effect.gen(function* () {
      const started0 = yield* count(QwipMetrics.sessionsStarted)
      const ready0 = yield* readyCount
      const paid0 = yield* charged("paid")
      const pence0 = yield* pence("paid")

      const checkout = yield* startBooking
      const session = yield* Checkout.finalizeBooking(checkout)
      // The customer's app retries finalize: the same session, not a second start.
      yield* Checkout.finalizeBooking(checkout)
      expect((yield* count(QwipMetrics.sessionsStarted)) - started0).toBe(1)

      yield* drainWork()
      expect((yield* readyCount) - ready0).toBe(1)

      yield* TestClock.adjust("10 minutes")
      const before = yield* Effect.all({ customer: ended("customer"), system: ended("system") })
      const end = yield* SessionEnd.endSession(session.id)
      if (end.state._tag !== "Ended" || end.state.outcome._tag !== "Paid") throw new Error("expected a paid end")
      const by = end.state.by._tag.toLowerCase() as "customer" | "system"
      expect((yield* ended(by)) - before[by]).toBe(1)
      expect((yield* charged("paid")) - paid0).toBe(1)
      expect((yield* pence("paid")) - pence0).toBe(end.state.outcome.amountPence)
    }).pipe(Effect.provide(kit()))
  )

  it.effect("a settlement counts its new outcome, not a second end; an unchanged outcome counts nothing", () =>
    Effect.gen(function* () {
      const checkout = yield* startBooking
      const session = yield* Checkout.finalizeBooking(checkout)
      yield* drainWork()
      yield* TestClock.adjust("5 minutes")
      const paid = yield* SessionEnd.endSession(session.id)
      if (paid.state._tag !== "Ended") throw new Error("expected an end")
      const unknown = new Session({
        ...paid,
        state: new Ended({ ...paid.state, outcome: new PaymentUnknown({ detail: "timed out" }) })
      })
      const by = paid.state.by._tag.toLowerCase()

      const before = yield* Effect.all([charged("paid"), ended(by)])
      yield* QwipMetrics.recordChange({ before: unknown, after: paid })
      expect(yield* Effect.all([charged("paid"), ended(by)])).toEqual([before[0] + 1, before[1]])

      yield* QwipMetrics.recordChange({ before: paid, after: paid })
      expect(yield* Effect.all([charged("paid"), ended(by)])).toEqual([before[0] + 1, before[1]])
    }).pipe(Effect.provide(kit()))
  )
})
