/**
 * Shared steps for use-case tests: drive a booking through the test kit under `TestClock`.
 */

import { Checkout, type Pod, type PodId, Policy, type PolicyShape, type Session, Worker } from "@qwip/core"
import {
  type CardBehaviour,
  FakePayments,
  layerFakeLock,
  layerFakeMailer,
  layerFakePayments,
  layerKeyedStaticCodes,
  layerMemoryStaffStore,
  layerMemoryStore,
  testPolicy
} from "@qwip/core/testing"
import { Duration, Effect, Fiber, Layer, Option, TestClock } from "effect"

/** Every port in memory, staff's included, over `pods`: what staff-action tests run on. */
export const staffKit = (pods: ReadonlyArray<Pod>, policy: Partial<PolicyShape> = {}) =>
  layerMemoryStaffStore.pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        layerMemoryStore(pods),
        layerFakePayments,
        layerFakeLock,
        layerKeyedStaticCodes,
        layerFakeMailer,
        Policy.layer({ ...testPolicy, ...policy })
      )
    )
  )

/** Runs `self` while moving the test clock forward in steps, so its sleeps and retries finish. */
export const withTimePassing = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  step = Duration.millis(100),
  maxSteps = 10_000
) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(self)
    for (let i = 0; i < maxSteps; i++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) break
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })

/** Books `podId`: checkout, the customer confirms a card, finalize. */
export const book = (podId = "pod-1", behaviour: CardBehaviour = "succeeds") =>
  Effect.gen(function* () {
    const payments = yield* FakePayments
    const started = yield* Checkout.startCheckout(podId as PodId)
    payments.confirmCard(started.setupIntentId, { behaviour, email: "ada@example.com" })
    return yield* Checkout.finalizeBooking(started)
  })

/** Runs due background work until none is left due now (time passing for retries). */
export const drainWork = (worker = "worker-1") =>
  withTimePassing(
    Effect.gen(function* () {
      for (let i = 0; i < 100; i++) {
        const r = yield* Worker.runDueWork(worker, 50)
        if (r.claimed === 0) return
      }
    })
  )

/** Books and provisions: an active session. */
export const activeSession = (podId = "pod-1", behaviour: CardBehaviour = "succeeds") =>
  Effect.gen(function* () {
    const session = yield* book(podId, behaviour)
    yield* drainWork()
    return session as Session
  })

/** Drains work repeatedly while `total` time passes, so deferred retries come due and run. */
export const drainWorkFor = (total: Duration.DurationInput, step: Duration.DurationInput = Duration.seconds(5)) =>
  Effect.gen(function* () {
    const steps = Math.ceil(Duration.toMillis(total) / Duration.toMillis(step))
    for (let i = 0; i < steps; i++) {
      yield* drainWork()
      yield* TestClock.adjust(step)
    }
    yield* drainWork()
  })
