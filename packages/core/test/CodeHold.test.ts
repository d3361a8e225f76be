/**
 * A pod is bookable again only once its previous door code is confirmed gone from the lock
 * (issue 10, part 4), under `TestClock`: a lock that cannot remove codes keeps the pod held,
 * staff hear of it once after the policy's bound, and the pod frees itself once the lock
 * confirms; a staff release overrides, and a late confirmation never frees a pod rebooked since.
 */
import { describe, expect, it } from "@effect/vitest"
import { Checkout, type PodId, type Session, SessionEnd, SessionStore, type StaffAlert, StaffPods } from "@qwip/core"
import { demoPod, FakeLock, FakeMailer, FakeStaticCodes, MemoryStaff, MemoryStore } from "@qwip/core/testing"
import { Duration, Effect, type Layer, Option } from "effect"
import { activeSession, book, drainWorkFor, staffKit } from "./kit.js"

const kit = () =>
  staffKit([demoPod({ id: "pod-s" }), demoPod({ id: "pod-l", mode: "lock-provider", deviceId: "dev-1" })], {
    codeRemovalAlertAfter: Duration.minutes(5),
    workAttempts: 3
  })

const test = <A, E>(name: string, body: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof kit>>>) =>
  it.effect(name, () =>
    Effect.gen(function* () {
      ;(yield* FakeStaticCodes).setCodes("pod-s" as PodId, ["04726", "12345"])
      return yield* body
    }).pipe(Effect.provide(kit()))
  )

const podL = "pod-l" as PodId

const podStatus = (id: PodId) =>
  Effect.flatMap(SessionStore, (store) => store.podStatus(id)).pipe(Effect.map(Option.getOrThrow))

const codeAlerts = Effect.map(FakeMailer, (mailer) =>
  mailer.sent().filter((m): m is StaffAlert => m._tag === "StaffAlert" && m.topic === "code_not_removed")
)

/** The lock cannot remove codes (a lock-provider outage) until `clear`. */
const revocationsFail = Effect.map(FakeLock, (lock) => lock.faults.arm("revokeCode", "before", { times: 1_000_000 }))

const bookingFails = (podId: string) =>
  Effect.flip(Checkout.startCheckout(podId as PodId)).pipe(Effect.map((e) => e._tag))

const sessionOf = (id: string) =>
  Effect.map(MemoryStore, (store) => store.sessions().find((s) => s.id === id) as Session)

describe("a pod is free only when its last door code is gone", () => {
  test(
    "a failed removal keeps the pod held; staff alerted once after the bound; freed when the lock confirms",
    Effect.gen(function* () {
      const lock = yield* FakeLock
      const memory = yield* MemoryStore
      const session = yield* activeSession("pod-l")
      yield* revocationsFail
      const ended = yield* SessionEnd.endSession(session.id)
      expect(ended.state._tag).toBe("Ended")

      // Closed, charged, but the code may still open the door: the pod is not bookable.
      const held = yield* podStatus(podL)
      expect(held.inUse).toBe(true)
      expect(Option.map(held.codeHold, (h) => h.sessionId)).toEqual(Option.some(session.id))
      expect(yield* bookingFails("pod-l")).toBe("PodInUse")

      // Retries fail for 4 minutes: no alert yet.
      yield* drainWorkFor(Duration.minutes(4), Duration.seconds(30))
      expect(yield* codeAlerts).toEqual([])
      expect(lock.codesOn("dev-1")).toHaveLength(1)

      // Past the 5 minute bound: one alert naming the pod, the session and the command.
      yield* drainWorkFor(Duration.minutes(10), Duration.minutes(1))
      const alerts = yield* codeAlerts
      expect(alerts).toHaveLength(1)
      expect(alerts[0]?.podId).toBe("pod-l")
      expect(alerts[0]?.sessionId).toBe(session.id)
      expect(alerts[0]?.detail).toContain(`qwip pods release pod-l --force --reason`)
      const alertWork = memory.work().filter((w) => w.item.key.endsWith(`${session.id}:code_not_removed`))
      expect(alertWork).toHaveLength(1)

      // An hour on, well past the 3 attempts that park other work: still retried, one alert, still held.
      yield* drainWorkFor(Duration.hours(1), Duration.minutes(10))
      const revoke = memory.work().find((w) => w.item.key === `revoke-access:${session.id}`)
      expect(revoke?.status).toBe("pending")
      expect(revoke?.item.attempts).toBeGreaterThan(3)
      expect(yield* codeAlerts).toHaveLength(1)
      expect((yield* podStatus(podL)).inUse).toBe(true)

      // The lock recovers: the next retry removes the code and frees the pod in the same step.
      lock.faults.clear()
      yield* drainWorkFor(Duration.minutes(11), Duration.minutes(1))
      expect(lock.codesOn("dev-1")).toEqual([])
      expect(Option.isSome((yield* sessionOf(session.id)).accessRevokedAt)).toBe(true)
      const freed = yield* podStatus(podL)
      expect([freed.inUse, freed.codeHold]).toEqual([false, Option.none()])
      const next = yield* book("pod-l")
      expect(next.podId).toBe("pod-l")
    })
  )

  test(
    "removal confirmed at once: the pod is free right after the end's work, and nobody is alerted",
    Effect.gen(function* () {
      const session = yield* activeSession("pod-l")
      yield* SessionEnd.endSession(session.id)
      expect((yield* podStatus(podL)).inUse).toBe(true) // until the revocation runs
      yield* drainWorkFor(Duration.seconds(10))
      expect((yield* podStatus(podL)).inUse).toBe(false)
      expect(yield* codeAlerts).toEqual([])
    })
  )

  test(
    "static codes need no removal: the pod is free at close, as before",
    Effect.gen(function* () {
      yield* revocationsFail
      const session = yield* activeSession("pod-s")
      yield* SessionEnd.endSession(session.id)
      const status = yield* podStatus("pod-s" as PodId)
      expect([status.inUse, status.codeHold]).toEqual([false, Option.none()])
    })
  )

  test(
    "staff: release and device change refused while a code blocks the pod; forced, freed and audited; a late removal leaves the next booking alone",
    Effect.gen(function* () {
      const lock = yield* FakeLock
      const session = yield* activeSession("pod-l")
      yield* revocationsFail
      yield* SessionEnd.endSession(session.id)

      const refused = yield* Effect.flip(StaffPods.releasePod(podL, { by: "ada" }))
      expect(refused._tag).toBe("PodBlockedByCode")
      expect(refused.message).toContain(`session ${session.id}'s door code is not confirmed removed`)
      expect(refused.message).toContain("qwip pods release pod-l --force --reason")
      // Its removal must reach the lock it was made on: the device cannot change meanwhile.
      const moved = yield* Effect.flip(StaffPods.setPodDevice(podL, { deviceId: Option.some("dev-2") }, { by: "ada" }))
      expect(moved.message).toContain("cannot change the lock device of pod pod-l")

      const released = yield* StaffPods.releasePod(podL, { by: "ada", force: { reason: "code removed by hand" } })
      expect(released.after.inUse).toBe(false)
      expect(Option.map(released.codeOverridden, (h) => h.sessionId)).toEqual(Option.some(session.id))
      const audit = (yield* MemoryStaff).audit()
      expect(audit.map((a) => a.action)).toEqual(["pods.release"])
      expect(audit[0]?.before).toMatchObject({ inUse: true, codeHold: { sessionId: session.id } })
      expect(audit[0]?.after).toMatchObject({
        inUse: false,
        codeHold: null,
        reason: "code removed by hand",
        codeMayBeOnLock: { sessionId: session.id }
      })

      // Someone books at once; then the lock recovers and the old code's removal is recorded.
      const next = yield* book("pod-l")
      lock.faults.clear()
      yield* drainWorkFor(Duration.minutes(11), Duration.minutes(1))
      expect(Option.isSome((yield* sessionOf(session.id)).accessRevokedAt)).toBe(true)
      const status = yield* podStatus(podL)
      expect(status.inUse).toBe(true) // the next session's, not freed by the old code's removal
      expect((yield* sessionOf(next.id)).state._tag).toBe("Active")
    })
  )
})
