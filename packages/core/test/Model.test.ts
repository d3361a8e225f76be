/**
 * Model-based test: random interleavings of start, finalize, provision, end, retry,
 * failure and restart steps against the use cases and the test kit. After every step the
 * platform's invariants must hold:
 * - at most one live session per pod;
 * - at most one charge per session;
 * - a pod is in use exactly when a live session holds it;
 * - every ended session has exactly one recorded outcome, and charges only exist for sessions that ended.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Checkout,
  hasCodeOnLock,
  isLive,
  type PodId,
  type Session,
  SessionEnd,
  type SessionId,
  Staff,
  Worker
} from "@qwip/core"
import {
  demoPod,
  FakeLock,
  FakePayments,
  FakeStaticCodes,
  layer,
  MemoryStore,
  type StoreOperation
} from "@qwip/core/testing"
import {
  Duration,
  Effect,
  Exit,
  Layer,
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

const kitLayer = () =>
  layer({ pods: [demoPod({ id: "pod-s" }), demoPod({ id: "pod-l", mode: "lock-provider", deviceId: "dev-l" })] })

interface Model {
  /** What the model believes: pod → the session holding it (live, or by its code still on the lock), if any. */
  readonly holder: Map<string, SessionId | undefined>
  readonly sessions: Array<SessionId>
  /** Set when a fault may have left the real system ahead of the model. */
  uncertain: boolean
}

interface Real {
  readonly kit: Kit
  worker: number
}

const run = <A, E>(real: Real, effect: Effect.Effect<A, E, KitServices>) => real.kit.runPromiseExit(effect)

/** An ended session whose door code is not yet confirmed gone from its pod's lock. */
const heldByCode = (s: Session, pod: string) => s.podId === pod && !isLive(s.state) && hasCodeOnLock(s)

const checkInvariants = (real: Real) =>
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
      for (const s of sessions) {
        const charges = payments.charges().filter((c) => c.sessionId === s.id)
        expect(charges.length).toBeLessThanOrEqual(1)
        if (charges.length > 0) expect(["Ending", "Ended"]).toContain(s.state._tag)
        if (s.state._tag === "Ended")
          expect(s.state.outcome._tag).toMatch(
            /^(Paid|NotBilled|Waived|PaymentFailed|NeedsAuthentication|PaymentUnknown)$/
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
  const sessions = await checkInvariants(real)
  for (const pod of PODS)
    model.holder.set(pod, sessions.find((s) => s.podId === pod && (isLive(s.state) || heldByCode(s, pod)))?.id)
  model.sessions.splice(0, model.sessions.length, ...sessions.map((s) => s.id))
}

class StartCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pod: string,
    readonly card: "succeeds" | "declines" | "needs_authentication"
  ) {}
  check = () => true
  async run(model: Model, real: Real) {
    const { pod, card } = this
    const exit = await run(
      real,
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const started = yield* Checkout.startCheckout(pod as PodId)
        payments.confirmCard(started.setupIntentId, { behaviour: card })
        return yield* Checkout.finalizeBooking(started)
      })
    )
    if (model.uncertain) return resync(model, real)
    const wasFree = model.holder.get(this.pod) === undefined
    if (Exit.isSuccess(exit)) {
      expect(wasFree).toBe(true)
      model.holder.set(this.pod, exit.value.id)
      model.sessions.push(exit.value.id)
    } else {
      const failure = Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap((c) => Option.fromNullable(c))))
      expect(wasFree, String(failure)).toBe(false)
    }
    await checkInvariants(real)
  }
  toString = () => `start(${this.pod}, ${this.card})`
}

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
    readonly waive: boolean
  ) {}
  check = (model: Readonly<Model>) => model.sessions.length > 0
  async run(model: Model, real: Real) {
    const id = model.sessions[this.pick % model.sessions.length] as SessionId
    const exit = await run(
      real,
      withTimePassing(
        this.waive ? SessionEnd.endSession(id, { by: Staff("sam"), waiveReason: "test" }) : SessionEnd.endSession(id)
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
  toString = () => `end(#${this.pick}${this.waive ? ", waived" : ""})`
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
        if (target === "payments") (yield* FakePayments).faults.arm("chargeSession", timing)
        if (target === "lock") (yield* FakeLock).faults.arm("createCode", timing)
      })
    )
    model.uncertain = true
  }
  toString = () => `fault(${this.target}.${this.op} ${this.timing})`
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
    await resync(model, real)
  }
  toString = () => "restart"
}

const commands = [
  fc
    .tuple(
      fc.constantFrom(...PODS),
      fc.constantFrom("succeeds", "declines", "needs_authentication") as fc.Arbitrary<
        "succeeds" | "declines" | "needs_authentication"
      >
    )
    .map(([pod, card]) => new StartCommand(pod, card)),
  fc.integer({ min: 0, max: 30 }).map((m) => new WorkCommand(m)),
  fc.tuple(fc.nat(), fc.boolean()).map(([i, w]) => new EndCommand(i, w)),
  fc
    .tuple(
      fc.constantFrom("store", "payments", "lock") as fc.Arbitrary<"store" | "payments" | "lock">,
      fc.constantFrom("openSession", "commit", "claimWork", "finishWork"),
      fc.constantFrom("before", "after") as fc.Arbitrary<"before" | "after">
    )
    .map(([t, op, timing]) => new FaultCommand(t, op, timing)),
  fc.constant(new RestartCommand())
]

describe("model-based: the platform's invariants under random interleavings", () => {
  it("holds for 1,000 random runs", { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 25 }), async (cmds) => {
        const kit = ManagedRuntime.make(Layer.merge(kitLayer(), TestContext.TestContext)) as Kit
        try {
          await kit.runPromise(
            Effect.gen(function* () {
              const codes = yield* FakeStaticCodes
              codes.setCodes("pod-s" as PodId, ["04726", "12345", "99999"])
            })
          )
          const model: Model = { holder: new Map(PODS.map((p) => [p, undefined])), sessions: [], uncertain: false }
          await fc.asyncModelRun(() => ({ model, real: { kit, worker: 1 } }), cmds)
          // Finally: with faults gone and time passing, every end finishes and every pod is consistent.
          await kit.runPromise(
            Effect.gen(function* () {
              ;(yield* MemoryStore).faults.clear()
              ;(yield* FakePayments).faults.clear()
              ;(yield* FakeLock).faults.clear()
            })
          )
          await checkInvariants({ kit, worker: 99 })
        } finally {
          await kit.dispose()
        }
      }),
      { numRuns: 1000 }
    )
  })
})
