/**
 * The background worker under `TestClock`: a slow outside service holds up nobody else, a
 * lease outlives the work it covers, and one deadline bounds a provisioning.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  LockAccess,
  Mailer,
  Payments,
  type PodId,
  type PolicyShape,
  SessionEnd,
  type SessionId,
  SessionStore,
  StaffAlert,
  sendMail,
  Viewing,
  Worker
} from "@qwip/core"
import { demoPod, FakeLock, FakeMailer, FakeStaticCodes, layer, MemoryStore } from "@qwip/core/testing"
import { Clock, Deferred, Duration, Effect, Exit, Fiber, Option, TestClock } from "effect"
import { activeSession, book } from "./kit.js"

// Every wake-up under TestClock waits for the fibers to settle in real time, so these tests
// keep wake-ups few: coarse steps where precision is not the point, and slower polls.
const kit = (policy: Partial<PolicyShape> = {}) =>
  layer({
    pods: [
      demoPod({ id: "pod-A", mode: "lock-provider", deviceId: "dev-A" }),
      demoPod({ id: "pod-B", mode: "lock-provider", deviceId: "dev-B" }),
      demoPod({ id: "pod-C" })
    ],
    policy: { provisioningDeadline: Duration.seconds(90), ...policy }
  })

/** Lock dev-A takes codes but never confirms one. */
const lockANeverConfirms = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.updateService(self, LockAccess, (lock) => ({
    ...lock,
    readCode: (deviceId, ref) =>
      deviceId === "dev-A"
        ? Effect.map(
            lock.readCode(deviceId, ref),
            Option.map((code) => ({ ...code, status: "setting" as const }))
          )
        : lock.readCode(deviceId, ref)
  }))

/** Every charge request hangs: the provider never answers. */
const chargesHang = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.updateService(self, Payments, (payments) => ({ ...payments, chargeSession: () => Effect.never }))

/** Counts the codes asked of the lock, so a test knows when provisioning has begun. */
const countCreates = () => {
  let calls = 0
  const wrap = <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.updateService(self, LockAccess, (lock) => ({
      ...lock,
      createCode: (request) =>
        Effect.suspend(() => {
          calls++
          return lock.createCode(request)
        })
    }))
  return { wrap, calls: () => calls }
}

/** Waits (no time passing) until `worker` holds claimed work: it started before the clock moves. */
const claimedBy = (worker: string) =>
  Effect.gen(function* () {
    const store = yield* MemoryStore
    while (!store.work().some((w) => w.status === "pending" && w.item.leasedBy === worker)) yield* Effect.yieldNow()
  })

const stateOf = (id: SessionId) =>
  Effect.map(MemoryStore, (store) => store.sessions().find((s) => s.id === id)?.state._tag)

/** TestClock time from now until the session is active, moving the clock by `step`; none within `limit`. */
const timeUntilActive = (id: SessionId, limit: Duration.DurationInput, step: Duration.DurationInput = "100 millis") =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    while ((yield* Clock.currentTimeMillis) - start <= Duration.toMillis(limit)) {
      if ((yield* stateOf(id)) === "Active") return Option.some((yield* Clock.currentTimeMillis) - start)
      yield* TestClock.adjust(step)
    }
    return Option.none<number>()
  })

/** A session on pod-C whose end crashed after it was fixed: its close (and charge) is due now. */
const closeDue = Effect.gen(function* () {
  const codes = yield* FakeStaticCodes
  const store = yield* MemoryStore
  codes.setCodes("pod-C" as PodId, ["04726"])
  const session = yield* activeSession("pod-C")
  yield* TestClock.adjust(Duration.minutes(20))
  store.faults.arm("commit", "after")
  yield* Effect.exit(SessionEnd.endSession(session.id))
  yield* TestClock.adjust(Duration.minutes(3))
  return session
})

/**
 * Pod C's close is due (first in line), then pods A and B are booked; the service's loop runs
 * with `concurrency`. How long pod B's customer waits for a code, if within a minute.
 */
const podBWait = (options: {
  readonly slow: boolean
  readonly concurrency: number
  readonly step?: Duration.DurationInput
}) =>
  Effect.gen(function* () {
    ;(yield* FakeLock).setActivation(3)
    yield* closeDue
    yield* book("pod-A")
    const b = yield* book("pod-B")
    const stop = yield* Deferred.make<void>()
    const loop = Worker.runWorkLoop({ worker: "w1", concurrency: options.concurrency, idle: "1 second", stop })
    const fiber = yield* Effect.fork(options.slow ? chargesHang(lockANeverConfirms(loop)) : loop)
    yield* claimedBy("w1")
    const waited = yield* timeUntilActive(b.id, Duration.minutes(1), options.step)
    yield* Fiber.interrupt(fiber)
    return waited
  }).pipe(Effect.provide(kit()))

describe("one slow outside service holds up nobody else", () => {
  it.effect(
    "with a lock that never confirms and a hanging charge, another pod's code is ready as fast as when healthy",
    () =>
      Effect.gen(function* () {
        const healthy = yield* podBWait({ slow: false, concurrency: 8 })
        const slow = yield* podBWait({ slow: true, concurrency: 8 })
        expect(Option.isSome(healthy)).toBe(true)
        expect(slow).toEqual(healthy)
        // One item at a time, pod B's code waits behind the hanging charge's retry chain (each
        // attempt abandoned at the outside-call deadline): the bound is real.
        const serial = yield* podBWait({ slow: true, concurrency: 1, step: "1 second" })
        expect(Option.getOrElse(serial, () => Number.POSITIVE_INFINITY)).toBeGreaterThan(10_000)
      })
  )

  it.effect("a run past the policy's time limit is stopped and tried again later", () =>
    Effect.gen(function* () {
      const store = yield* MemoryStore
      const session = yield* closeDue
      // Outside calls are bounded by their deadline; a store that never answers is not.
      const storeHangs = <A, E, R>(self: Effect.Effect<A, E, R>) =>
        Effect.updateService(self, SessionStore, (s) => ({ ...s, sessionWithPod: () => Effect.never }))
      const run = yield* Effect.fork(storeHangs(Worker.runDueWork("w1")))
      yield* claimedBy("w1")
      yield* TestClock.adjust(Duration.minutes(5))
      expect(yield* Fiber.join(run)).toMatchObject({ claimed: 1, deferred: 1 })
      const close = store.work().find((w) => w.item.sessionId === session.id && w.item.kind === "close-session")
      expect(close?.status).toBe("pending")
      expect(Option.getOrNull(close?.item.lastError ?? Option.none())).toBe(
        "still running after 5m; stopped to try again later"
      )
    }).pipe(Effect.provide(kit()))
  )
})

describe("a session's own work", () => {
  it.effect("runs in turn on a worker, while other sessions' work goes ahead", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const mailer = yield* FakeMailer
      const s1 = "00000000-0000-4000-8000-000000000001" as SessionId
      const s2 = "00000000-0000-4000-8000-000000000002" as SessionId
      const alert = (sessionId: SessionId, topic: StaffAlert["topic"]) =>
        new StaffAlert({ topic, sessionId, podId: "pod-C", detail: topic })
      const at = new Date(yield* Clock.currentTimeMillis)
      yield* store.enqueue([
        sendMail(alert(s1, "overdue"), at),
        sendMail(alert(s1, "work_parked"), at),
        sendMail(alert(s2, "overdue"), at)
      ])
      // Session 1's first email hangs; its second waits for it; session 2's does not.
      const hangFirst = <A, E, R>(self: Effect.Effect<A, E, R>) =>
        Effect.updateService(self, Mailer, (m) => ({
          send: (message) =>
            message.sessionId === s1 && message._tag === "StaffAlert" && message.topic === "overdue"
              ? Effect.never
              : m.send(message)
        }))
      const run = yield* Effect.fork(hangFirst(Worker.runDueWork("w1")))
      yield* claimedBy("w1")
      yield* TestClock.adjust(Duration.seconds(1))
      const sent = () => mailer.sent().map((m) => [m.sessionId, m._tag === "StaffAlert" ? m.topic : m._tag])
      expect(sent()).toEqual([[s2, "overdue"]])
      yield* TestClock.adjust(Duration.minutes(5)) // the hanging send is stopped; the next one goes
      expect(yield* Fiber.join(run)).toMatchObject({ claimed: 3, done: 2, deferred: 1 })
      expect(sent()).toEqual([
        [s2, "overdue"],
        [s1, "work_parked"]
      ])
    }).pipe(Effect.provide(kit()))
  )
})

describe("leases", () => {
  it.effect("a provisioning longer than its lease is renewed: a second worker never takes it", () =>
    Effect.gen(function* () {
      const lock = yield* FakeLock
      const store = yield* MemoryStore
      lock.setActivation(60) // about a minute of checks: twice the 30 s lease
      const creates = countCreates()
      const session = yield* book("pod-A")
      // The first worker claims the provisioning; a second polls every second from then on.
      const first = yield* Effect.fork(creates.wrap(Worker.runDueWork("w1")))
      yield* claimedBy("w1")
      const stop = yield* Deferred.make<void>()
      const second = yield* Effect.fork(
        creates.wrap(Worker.runWorkLoop({ worker: "w2", concurrency: 4, idle: "1 second", stop }))
      )
      const waited = yield* timeUntilActive(session.id, Duration.minutes(2), "1 second")
      expect(Option.getOrThrow(waited)).toBeGreaterThan(Duration.toMillis(Duration.seconds(30)))
      expect(yield* Fiber.join(first)).toMatchObject({ claimed: 1, done: 1, lost: 0 })
      yield* TestClock.adjust(Duration.seconds(1)) // the second worker sends the access email
      yield* Deferred.succeed(stop, undefined)
      yield* Fiber.join(second)

      expect(creates.calls()).toBe(1)
      expect(lock.codesOn("dev-A")).toHaveLength(1)
      const provisioning = store.work().filter((w) => w.item.kind === "provision-access")
      expect(provisioning.map((w) => [w.status, w.item.attempts])).toEqual([["done", 1]])
      const view = yield* Viewing.viewSession(session.id)
      expect(view.provisioning).toBe("ready")
      expect(Option.getOrThrow(view.accessCode)).toBe(lock.codesOn("dev-A")[0]?.code)
      expect((yield* FakeMailer).sent().filter((m) => m._tag === "AccessReady")).toHaveLength(1)
    }).pipe(Effect.provide(kit()))
  )
})

describe("one deadline per provisioning", () => {
  it.effect("a code never active: retries inside 90 s, then the code removed, the pod freed, everyone told", () =>
    Effect.gen(function* () {
      const lock = yield* FakeLock
      const store = yield* MemoryStore
      lock.setActivation("never")
      lock.faults.arm("createCode", "before", { times: 2 }) // two attempts fail, the third makes the code
      const session = yield* book("pod-A")
      const creates = countCreates()
      const run = yield* Effect.fork(creates.wrap(Worker.runDueWork("w1")))
      while (creates.calls() === 0) yield* Effect.yieldNow() // the deadline is set: the clock may move
      yield* TestClock.adjust(Duration.millis(89_900))
      expect(yield* stateOf(session.id)).toBe("Provisioning")
      // Past the deadline the run still has steps of its own (giving up, the commit): move the
      // clock on in small steps until it ends, rather than once, which can land before a step's sleep.
      let result: Option.Option<Exit.Exit<{ readonly claimed: number; readonly done: number }, unknown>> = Option.none()
      for (let i = 0; Option.isNone(result) && i < 100; i++) {
        yield* TestClock.adjust(Duration.millis(100))
        result = yield* Fiber.poll(run)
      }
      expect(Exit.getOrElse(Option.getOrThrow(result), () => undefined)).toMatchObject({ claimed: 1, done: 1 })

      const failed = store.sessions().find((s) => s.id === session.id)
      // It gave up at the deadline, 90 s after the provisioning began, not a step later.
      expect(
        failed?.state._tag === "ProvisioningFailed" && failed.state.failedAt.getTime() - session.startedAt.getTime()
      ).toBeLessThanOrEqual(90_000)
      const said = "no door code was active within 1m 30s after 3 attempts (the lock never confirmed the code)"
      expect(failed?.state._tag === "ProvisioningFailed" && failed.state.reason).toBe(`lock dev-A unavailable: ${said}`)
      // The unconfirmed code could still become active: the pod stays held until it is removed.
      expect(store.podInUse(session.podId)).toBe(true)
      // The staff alert says the same; the customer is told and the unconfirmed code removed.
      yield* Worker.runDueWork("w1")
      expect(store.podInUse(session.podId)).toBe(false)
      const sent = (yield* FakeMailer).sent()
      const alert = sent.find((m): m is StaffAlert => m._tag === "StaffAlert")
      expect(alert?.detail).toBe(`lock dev-A unavailable: ${said}`)
      expect(sent.map((m) => m._tag)).toContain("ProvisioningFailedNotice")
      expect(lock.codesOn("dev-A")).toHaveLength(0)
    }).pipe(Effect.provide(kit({ activationPoll: Duration.seconds(5), workLease: Duration.minutes(2) })))
  )

  it.effect(
    "a lock that never answers: each call abandoned at the outside-call deadline, then given up, the pod freed",
    () =>
      Effect.gen(function* () {
        const store = yield* MemoryStore
        const session = yield* book("pod-A")
        const hangs = <A, E, R>(self: Effect.Effect<A, E, R>) =>
          Effect.updateService(self, LockAccess, (lock) => ({ ...lock, createCode: () => Effect.never }))
        const creates = countCreates()
        const run = yield* Effect.fork(hangs(creates.wrap(Worker.runDueWork("w1"))))
        while (creates.calls() === 0) yield* Effect.yieldNow()
        // The first call is abandoned at the outside-call deadline (5 s here), then tried again.
        yield* TestClock.adjust(Duration.millis(4_900))
        expect(creates.calls()).toBe(1)
        yield* TestClock.adjust(Duration.seconds(5))
        expect(creates.calls()).toBe(2)
        // Every attempt (with backoff) fits inside the provisioning deadline.
        yield* TestClock.adjust(Duration.seconds(80))
        expect(yield* Fiber.join(run)).toMatchObject({ claimed: 1, done: 1 })
        expect(creates.calls()).toBe(5)
        const failed = store.sessions().find((s) => s.id === session.id)
        expect(failed?.state._tag === "ProvisioningFailed" && failed.state.reason).toBe(
          "lock dev-A unavailable: no door code could be made after 5 attempts (last: no answer within 5s)"
        )
        expect(store.podInUse(session.podId)).toBe(false)
      }).pipe(Effect.provide(kit({ workLease: Duration.minutes(2) })))
  )
})
