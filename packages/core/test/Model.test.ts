/**
 * Model-based test: random interleavings of start, finalize, provision, end, retry, dunning
 * (days passing), refunds (staff's and the dashboard's), reconciliation, failure and restart
 * steps against the use cases and the test kit, half the runs with a card check hold at
 * booking. After every step the platform's invariants must hold:
 * - at most one live session per pod;
 * - at most one successful charge per session (and per key), one hold, one capture;
 * - a pod is in use exactly when a live session holds it;
 * - every ended session has exactly one recorded outcome, and charges only exist for sessions that ended;
 * - money, with the fake provider's records as the truth: captured + charged − refunded never
 *   exceeds what the session owes, and once its outcome is known (and no refund or refund event
 *   is in flight) equals what the session recorded: paid (`Paid.amountPence`, or what the hold
 *   captured) less refunded.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  ChargeRefunded,
  Checkout,
  handlePaymentEvent,
  hasCodeOnLock,
  isLive,
  type PodId,
  pence,
  Reconciliation,
  refundedPence,
  type Session,
  SessionEnd,
  type SessionId,
  Staff,
  StaffPayments,
  Worker
} from "@qwip/core"
import {
  demoPod,
  FakeLock,
  FakePayments,
  FakeStaticCodes,
  layer,
  layerMemoryStaffStore,
  MemoryStore,
  type PaymentsOperation,
  type StoreOperation
} from "@qwip/core/testing"
import {
  Duration,
  Effect,
  Exit,
  Layer,
  Logger,
  LogLevel,
  ManagedRuntime,
  Option,
  TestClock,
  TestContext,
  type TestServices
} from "effect"
import * as fc from "fast-check"
import { withTimePassing } from "./kit.js"

const PODS = ["pod-s", "pod-l"] as const
type KitServices = Layer.Layer.Success<ReturnType<typeof kitLayer>> | TestServices.TestServices
type Kit = ManagedRuntime.ManagedRuntime<KitServices, never>

/** A card check hold below a 10-minute session's price, so ends both capture all and charge a remainder. */
const HOLD_PENCE = 300

const kitLayer = (withHold = false) =>
  layerMemoryStaffStore.pipe(
    Layer.provideMerge(
      layer({
        pods: [demoPod({ id: "pod-s" }), demoPod({ id: "pod-l", mode: "lock-provider", deviceId: "dev-l" })],
        policy: withHold ? { bookingHoldPence: HOLD_PENCE } : {}
      })
    )
  )

type Card = "succeeds" | "declines" | "declines_hard" | "declines_everything" | "needs_authentication"

interface Model {
  /** What the model believes: pod → the session holding it (live, or by its code still on the lock), if any. */
  readonly holder: Map<string, SessionId | undefined>
  readonly sessions: Array<SessionId>
  /** Set when a fault may have left the real system ahead of the model. */
  uncertain: boolean
  /** Dashboard refunds whose event has not been applied yet (the provider delivers it again). */
  readonly undelivered: Array<{ readonly sessionId: SessionId; readonly paymentIntentId: string }>
}

interface Real {
  readonly kit: Kit
  worker: number
}

const run = <A, E>(real: Real, effect: Effect.Effect<A, E, KitServices>) => real.kit.runPromiseExit(effect)

/** An ended session whose door code is not yet confirmed gone from its pod's lock. */
const heldByCode = (s: Session, pod: string) => s.podId === pod && !isLive(s.state) && hasCodeOnLock(s)

/** What a session owes: nothing while live, waived or below the minimum; else its quote. */
const owedBy = (s: Session): number => {
  const state = s.state
  if (state._tag === "Ending") return Option.isSome(state.waiver) ? 0 : state.quote.chargePence
  if (state._tag !== "Ended") return 0
  return state.outcome._tag === "Waived" || state.outcome._tag === "NotBilled" ? 0 : state.quote.chargePence
}

/** What the session recorded it was paid: the total when paid, else what its hold captured. */
const recordedPaid = (s: Session): number => {
  if (s.state._tag === "Ended" && s.state.outcome._tag === "Paid") return s.state.outcome.amountPence
  return Option.match(
    Option.filter(s.collection.hold, (h) => h.status === "captured"),
    { onNone: () => 0, onSome: (h) => h.capturedPence }
  )
}

const checkInvariants = (real: Real, model?: Model) =>
  real.kit.runPromise(
    Effect.gen(function* () {
      const store = yield* MemoryStore
      const payments = yield* FakePayments
      const sessions = store.sessions()
      for (const pod of PODS) {
        const live = sessions.filter((s) => s.podId === pod && isLive(s.state))
        expect(live.length).toBeLessThanOrEqual(1)
        // A pod is in use while a session holds it, or an ended one's code may still open its door.
        expect(store.podInUse(pod as PodId)).toBe(live.length === 1 || sessions.some((s) => heldByCode(s, pod)))
      }
      const intents = payments.paymentIntents()
      // Never two successful charges under one key.
      const keys = new Set(intents.map((pi) => pi.idempotencyKey))
      for (const key of keys)
        expect(
          intents.filter((pi) => pi.idempotencyKey === key && pi.status === "succeeded").length
        ).toBeLessThanOrEqual(1)
      for (const s of sessions) {
        const charges = payments.charges().filter((c) => c.sessionId === s.id)
        expect(payments.succeededChargesFor(s.id), `successful charges of ${s.id}`).toBeLessThanOrEqual(1)
        expect(payments.holds().filter((h) => h.sessionId === s.id).length).toBeLessThanOrEqual(1)
        expect(payments.captures().filter((c) => c.sessionId === s.id).length).toBeLessThanOrEqual(1)
        if (charges.length > 0) expect(["Ending", "Ended"]).toContain(s.state._tag)
        if (s.state._tag === "Ended")
          expect(s.state.outcome._tag).toMatch(
            /^(Paid|NotBilled|Waived|PaymentFailed|NeedsAuthentication|PaymentUnknown)$/
          )
        // Money: the provider never holds more of the customer's money than the session owes.
        const net = payments.netReceivedFor(s.id)
        expect(net, `provider's net for ${s.id} (${s.state._tag})`).toBeLessThanOrEqual(owedBy(s))
        // Refunds that landed never exceed what was paid. Pending ones may not all land: a
        // dashboard refund can take what one of ours still waiting to be sent would have, and
        // the provider then refuses ours (finish-refund work records it failed).
        const landed = s.collection.refunds.filter((r) => r.status === "succeeded")
        expect(landed.reduce((sum, r) => sum + r.amountPence, 0)).toBeLessThanOrEqual(recordedPaid(s))
        const refunded = refundedPence(s.collection)
        if (s.collection.refunds.every((r) => r.status !== "pending")) {
          expect(refunded).toBeLessThanOrEqual(recordedPaid(s))
        }
        const settled =
          s.state._tag === "Ended" &&
          s.state.outcome._tag !== "PaymentUnknown" &&
          s.collection.refunds.every((r) => r.status !== "pending") &&
          !(model?.undelivered.some((e) => e.sessionId === s.id) ?? false)
        if (settled)
          expect(net, `captured + charged − refunded for ${s.id} (${JSON.stringify(s.state)})`).toBe(
            recordedPaid(s) - refunded
          )
      }
      return sessions
    })
  )

/**
 * The model re-reads what actually happened, as a restarted service would: after a fault
 * (the caller cannot know whether its step landed) and after background work.
 */
const resync = async (model: Model, real: Real) => {
  const sessions = await checkInvariants(real, model)
  for (const pod of PODS)
    model.holder.set(pod, sessions.find((s) => s.podId === pod && (isLive(s.state) || heldByCode(s, pod)))?.id)
  model.sessions.splice(0, model.sessions.length, ...sessions.map((s) => s.id))
}

class StartCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pod: string,
    readonly card: Card
  ) {}
  check = () => true
  async run(model: Model, real: Real) {
    const { pod, card } = this
    const exit = await run(
      real,
      // Time passes: the card check hold's retries wait on the clock.
      withTimePassing(
        Effect.gen(function* () {
          const payments = yield* FakePayments
          const started = yield* Checkout.startCheckout(pod as PodId)
          payments.confirmCard(started.setupIntentId, { behaviour: card })
          return yield* Checkout.finalizeBooking(started)
        })
      )
    )
    if (model.uncertain) return resync(model, real)
    const wasFree = model.holder.get(this.pod) === undefined
    if (Exit.isSuccess(exit)) {
      expect(wasFree).toBe(true)
      model.holder.set(this.pod, exit.value.id)
      model.sessions.push(exit.value.id)
    } else if (
      Exit.isFailure(exit) &&
      Option.exists(Exit.causeOption(exit), (c) => String(c).includes("CardDeclined"))
    ) {
      // The card check hold was declined: the booking is refused and the pod stays free.
      expect(wasFree).toBe(true)
      expect(["declines_everything", "needs_authentication"]).toContain(this.card)
      return resync(model, real)
    } else {
      const failure = Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap((c) => Option.fromNullable(c))))
      expect(wasFree, String(failure)).toBe(false)
    }
    await checkInvariants(real, model)
  }
  toString = () => `start(${this.pod}, ${this.card})`
}

/** The worker runs what is due, time passing for its retries. */
const runWorker = (real: Real) =>
  withTimePassing(
    Effect.gen(function* () {
      for (let i = 0; i < 20; i++) {
        const r = yield* Worker.runDueWork(`worker-${real.worker}`, 20)
        if (r.claimed === 0) break
      }
    })
  )

class WorkCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly minutes: number) {}
  check = () => true
  async run(model: Model, real: Real) {
    await run(
      real,
      withTimePassing(
        Effect.gen(function* () {
          for (let i = 0; i < 20; i++) {
            const r = yield* Worker.runDueWork(`worker-${real.worker}`, 20)
            if (r.claimed === 0) break
          }
        })
      ).pipe(Effect.zipRight(TestClock.adjust(Duration.minutes(this.minutes))))
    )
    await resync(model, real) // provisioning may fail and release pods: learn it
  }
  toString = () => `work(+${this.minutes}m)`
}

class EndCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly waive: boolean,
    readonly afterMinutes = 0
  ) {}
  check = (model: Readonly<Model>) => model.sessions.length > 0
  async run(model: Model, real: Real) {
    const id = model.sessions[this.pick % model.sessions.length] as SessionId
    const exit = await run(
      real,
      // With minutes to pass, the worker runs first (the door code is made, billing starts).
      (this.afterMinutes > 0 ? runWorker(real) : Effect.void).pipe(
        Effect.zipRight(TestClock.adjust(Duration.minutes(this.afterMinutes))),
        Effect.zipRight(
          withTimePassing(
            this.waive
              ? SessionEnd.endSession(id, { by: Staff("sam"), waiveReason: "test" })
              : SessionEnd.endSession(id)
          )
        )
      )
    )
    if (!model.uncertain && Exit.isSuccess(exit)) {
      expect(exit.value.state._tag).toBe("Ended")
      // A lock code not yet confirmed removed keeps the pod held until its revocation.
      for (const [pod, holder] of model.holder)
        if (holder === id && !hasCodeOnLock(exit.value)) model.holder.set(pod, undefined)
    }
    await resync(model, real)
  }
  toString = () => `end(#${this.pick} +${this.afterMinutes}m${this.waive ? ", waived" : ""})`
}

class FaultCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly target: "store" | "payments" | "lock",
    readonly op: string,
    readonly timing: "before" | "after"
  ) {}
  check = () => true
  async run(model: Model, real: Real) {
    const { target, op, timing } = this
    await real.kit.runPromise(
      Effect.gen(function* () {
        if (target === "store") (yield* MemoryStore).faults.arm(op as StoreOperation, timing)
        if (target === "payments") (yield* FakePayments).faults.arm(op as PaymentsOperation, timing)
        if (target === "lock") (yield* FakeLock).faults.arm("createCode", timing)
      })
    )
    model.uncertain = true
  }
  toString = () => `fault(${this.target}.${this.op} ${this.timing})`
}

/** Days pass (dunning's schedule comes due) and the worker runs. */
class DaysCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly days: number) {}
  check = () => true
  async run(model: Model, real: Real) {
    for (let d = 0; d < this.days; d++) {
      await run(
        real,
        TestClock.adjust(Duration.days(1)).pipe(
          Effect.zipRight(
            withTimePassing(
              Effect.gen(function* () {
                for (let i = 0; i < 20; i++) {
                  const r = yield* Worker.runDueWork(`worker-${real.worker}`, 20)
                  if (r.claimed === 0) break
                }
              })
            )
          )
        )
      )
    }
    await resync(model, real)
  }
  toString = () => `days(+${this.days})`
}

/** Staff refund part or all of a session's payment. */
class RefundCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly amount: number | undefined,
    readonly reason: string
  ) {}
  check = (model: Readonly<Model>) => model.sessions.length > 0
  async run(model: Model, real: Real) {
    // Mostly a session that was paid something (refunds of others are refused, also checked).
    const paid = await real.kit.runPromise(
      Effect.map(MemoryStore, (store) =>
        store
          .sessions()
          .filter((s) => recordedPaid(s) > 0)
          .map((s) => s.id)
      )
    )
    const pool = this.pick % 4 === 0 || paid.length === 0 ? model.sessions : paid
    const id = pool[this.pick % pool.length] as SessionId
    const amount = this.amount === undefined ? Option.none() : Option.some(pence(this.amount))
    const exit = await run(
      real,
      withTimePassing(StaffPayments.refundPayment(id, { amountPence: amount, reason: this.reason, by: "sam" }))
    )
    if (Exit.isSuccess(exit)) {
      const r = exit.value
      expect(r.totalRefundedPence).toBeLessThanOrEqual(recordedPaid(r.session))
      if (r.repeated) expect(r.refundedPence).toBe(0)
    } else {
      const tag = Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.map((c) => String(c))))
      // Refusals are typed; a fault leaves the refund pending for the repeat.
      expect(tag).toMatch(/NothingToRefund|RefundTooLarge|PaymentsUnavailable|RefundRefused|StaleSession|injected|Die/)
    }
    await resync(model, real)
  }
  toString = () => `refund(#${this.pick}, ${this.amount ?? "full"}, ${this.reason})`
}

/** Someone refunds in the provider's dashboard; its event arrives (or waits for a redelivery). */
class DashboardRefundCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly amount: number
  ) {}
  check = () => true
  async run(model: Model, real: Real) {
    const { pick, amount } = this
    const target = await real.kit.runPromise(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const refundedOf = (id: string) =>
          payments
            .refunds()
            .filter((r) => r.paymentIntentId === id && r.status !== "failed" && r.status !== "canceled")
            .reduce((sum, r) => sum + r.amountPence, 0)
        const paid = payments
          .paymentIntents()
          .filter((pi) => pi.status === "succeeded" && pi.receivedPence - refundedOf(pi.paymentIntentId) > 0)
        const pi = paid[pick % Math.max(1, paid.length)]
        if (pi === undefined) return undefined
        const left = pi.receivedPence - refundedOf(pi.paymentIntentId)
        payments.dashboardRefund(pi.paymentIntentId, pence(Math.min(left, amount)))
        return { sessionId: pi.sessionId, paymentIntentId: pi.paymentIntentId }
      })
    )
    if (target !== undefined) model.undelivered.push(target)
    await deliverRefundEvents(model, real)
    await resync(model, real)
  }
  toString = () => `dashboardRefund(#${this.pick}, ${this.amount})`
}

/** Delivers the refund events still waiting; one that fails stays for the next delivery. */
const deliverRefundEvents = async (model: Model, real: Real) => {
  const waiting = model.undelivered.splice(0, model.undelivered.length)
  for (const e of waiting) {
    const exit = await run(
      real,
      handlePaymentEvent(
        new ChargeRefunded({ sessionId: Option.some(e.sessionId), paymentIntentId: e.paymentIntentId })
      )
    )
    if (Exit.isFailure(exit)) model.undelivered.push(e)
  }
}

/** Reconciliation over everything so far: it may settle, record and release, never charge. */
class ReconcileCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true
  async run(model: Model, real: Real) {
    const before = await real.kit.runPromise(
      Effect.map(FakePayments, (p) => ({ intents: p.paymentIntents().length, captures: p.captures().length }))
    )
    await run(
      real,
      Effect.gen(function* () {
        const at = yield* TestClock.currentTimeMillis
        return yield* Reconciliation.reconcilePayments({ since: new Date(0), until: new Date(at + 1) })
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))
    )
    const after = await real.kit.runPromise(
      Effect.map(FakePayments, (p) => ({ intents: p.paymentIntents().length, captures: p.captures().length }))
    )
    expect(after).toEqual(before)
    await resync(model, real)
  }
  toString = () => "reconcile"
}

/** A crash and restart: faults vanish with the process; a new worker takes over once leases expire. */
class RestartCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true
  async run(model: Model, real: Real) {
    await real.kit.runPromise(
      Effect.gen(function* () {
        ;(yield* MemoryStore).faults.clear()
        ;(yield* FakePayments).faults.clear()
        ;(yield* FakeLock).faults.clear()
        yield* TestClock.adjust(Duration.minutes(3))
      })
    )
    real.worker++
    model.uncertain = false
    await deliverRefundEvents(model, real)
    await resync(model, real)
  }
  toString = () => "restart"
}

const start = fc
  .tuple(
    fc.constantFrom(...PODS),
    fc.constantFrom<Card>(
      "succeeds",
      "succeeds",
      "succeeds",
      "declines",
      "declines",
      "declines_hard",
      "declines_everything",
      "needs_authentication"
    )
  )
  .map(([pod, card]) => new StartCommand(pod, card))
const end = fc
  .tuple(fc.nat(), fc.boolean(), fc.integer({ min: 0, max: 20 }))
  .map(([i, w, m]) => new EndCommand(i, w, m))

// Starts and ends weigh more, so most runs have sessions to charge, dun and refund.
const commands = [
  start,
  start,
  start,
  fc.integer({ min: 0, max: 30 }).map((m) => new WorkCommand(m)),
  end,
  end,
  end,
  fc.oneof(
    fc
      .tuple(
        fc.constantFrom("store", "lock") as fc.Arbitrary<"store" | "lock">,
        fc.constantFrom("openSession", "commit", "claimWork", "finishWork"),
        fc.constantFrom("before", "after") as fc.Arbitrary<"before" | "after">
      )
      .map(([t, op, timing]) => new FaultCommand(t, op, timing)),
    fc
      .tuple(
        fc.constantFrom<PaymentsOperation>("chargeSession", "placeHold", "captureHold", "releaseHold", "refund"),
        fc.constantFrom("before", "after") as fc.Arbitrary<"before" | "after">
      )
      .map(([op, timing]) => new FaultCommand("payments", op, timing))
  ),
  fc.constant(new RestartCommand()),
  fc.integer({ min: 1, max: 8 }).map((d) => new DaysCommand(d)),
  fc
    .tuple(
      fc.nat(),
      fc.option(fc.integer({ min: 0, max: 1200 }), { nil: undefined }),
      fc.constantFrom("late", "noisy", "goodwill")
    )
    .map(([i, a, r]) => new RefundCommand(i, a, r)),
  fc.integer({ min: 1, max: 8 }).map((d) => new DaysCommand(d)),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 600 })).map(([i, a]) => new DashboardRefundCommand(i, a)),
  fc.constant(new ReconcileCommand())
]

/** How often the runs ended in each money state (so the test is known not to be vacuous). */
const seen = { paid: 0, captured: 0, dunned: 0, refunded: 0 }

/**
 * 400 runs of up to 30 steps (medium-sized: long enough to charge, dun and refund) by default;
 * `QWIP_MODEL_RUNS` runs fewer (or more) while working on it.
 */
const RUNS = Number(process.env.QWIP_MODEL_RUNS ?? 400)

describe("model-based: the platform's invariants under random interleavings", () => {
  it(`holds for ${RUNS} random runs`, { timeout: 900_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commands, { maxCommands: 30, size: "medium" }),
        fc.boolean(),
        async (cmds, withHold) => {
          const kit = ManagedRuntime.make(Layer.merge(kitLayer(withHold), TestContext.TestContext)) as Kit
          try {
            await kit.runPromise(
              Effect.gen(function* () {
                const codes = yield* FakeStaticCodes
                codes.setCodes("pod-s" as PodId, ["04726", "12345", "99999"])
              })
            )
            const model: Model = {
              holder: new Map(PODS.map((p) => [p, undefined])),
              sessions: [],
              uncertain: false,
              undelivered: []
            }
            await fc.asyncModelRun(() => ({ model, real: { kit, worker: 1 } }), cmds)
            // Finally: with faults gone and time passing, every end finishes and every pod is consistent.
            await kit.runPromise(
              Effect.gen(function* () {
                ;(yield* MemoryStore).faults.clear()
                ;(yield* FakePayments).faults.clear()
                ;(yield* FakeLock).faults.clear()
              })
            )
            const last = { kit, worker: 99 }
            // The leases of a stopped worker lapse and the work left (a refund still to send,
            // say) runs: nothing of ours stays pending.
            await kit.runPromise(TestClock.adjust(Duration.minutes(5)))
            await run(last, runWorker(last))
            await deliverRefundEvents(model, last)
            const sessions = await checkInvariants(last, model)
            for (const s of sessions) {
              const waiting = s.collection.refunds.filter(
                (r) => r.status === "pending" && !r.key.startsWith("provider:")
              )
              expect(waiting, `refunds of ${s.id} still pending`).toEqual([])
            }
            for (const s of sessions) {
              if (s.state._tag === "Ended" && s.state.outcome._tag === "Paid") seen.paid++
              if (Option.exists(s.collection.hold, (h) => h.status === "captured")) seen.captured++
              if (Option.exists(s.collection.dunning, (d) => d.attempts.length > 0)) seen.dunned++
              if (s.collection.refunds.some((r) => r.status === "succeeded")) seen.refunded++
            }
          } finally {
            await kit.dispose()
          }
        }
      ),
      { numRuns: RUNS }
    )
    // The runs reached what the invariants are about: holds captured, dunning attempts, refunds.
    if (RUNS >= 200) {
      expect(seen.paid).toBeGreaterThan(0)
      expect(seen.captured).toBeGreaterThan(0)
      expect(seen.dunned).toBeGreaterThan(0)
      expect(seen.refunded).toBeGreaterThan(0)
    }
  })
})
