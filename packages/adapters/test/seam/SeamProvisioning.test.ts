/**
 * The core's provisioning and revocation (`CodeProvisioning`, `CodeRevocation`) running on the Seam adapter against Seam's
 * fake: the core owns the waiting policy, the adapter reports what Seam says. Other ports are
 * the core's in-memory doubles. Live clock with a tight policy: the HTTP calls take real time.
 */
import { expect, layer } from "@effect/vitest"
import {
  Checkout,
  CodeProvisioning,
  CodeRevocation,
  type PodId,
  Policy,
  type PolicyShape,
  type Session,
  SessionEnd,
  StaticCodes,
  Worker
} from "@qwip/core"
import {
  demoPod,
  FakePayments,
  layerFakeMailer,
  layerFakePayments,
  layerFakeStaticCodes,
  layerMemoryStore,
  MemoryStore,
  testPolicy
} from "@qwip/core/testing"
import { SeamFake, type SeamFakeShape } from "@qwip/test-support/SeamFake"
import { Deferred, Duration, Effect, Fiber, Layer, Option } from "effect"
import { SeamLockAccess } from "../../src/seam/index.js"

const POD = "pod-1" as PodId

// Quick, bounded waits: the whole provisioning gives up after a second; two attempts at most.
const quickPolicy: Partial<PolicyShape> = {
  ...testPolicy,
  activationPoll: Duration.millis(20),
  provisioningDeadline: Duration.seconds(1),
  provisioningBackoff: Duration.millis(10),
  provisioningAttempts: 2
}

const kit = (fake: SeamFakeShape, deviceId: string, policy: Partial<PolicyShape> = quickPolicy) =>
  Layer.mergeAll(
    layerMemoryStore([demoPod({ id: POD, mode: "lock-provider", deviceId })]),
    layerFakePayments,
    layerFakeStaticCodes,
    layerFakeMailer,
    Policy.layer(policy),
    SeamLockAccess.layer({ apiKey: fake.apiKey, endpoint: fake.endpoint })
  )

/** Checkout, card confirmed, finalize: a session waiting for its door code. */
const book = Effect.gen(function* () {
  const payments = yield* FakePayments
  const started = yield* Checkout.startCheckout(POD)
  payments.confirmCard(started.setupIntentId, { email: "ada@example.com" })
  return yield* Checkout.finalizeBooking(started)
})

const stored = (id: Session["id"]) =>
  Effect.map(MemoryStore, (store) => Option.fromNullable(store.sessions().find((s) => s.id === id)))

/** Waits (real time, bounded) until the fake holds a code on the lock. */
const firstCodeOn = (fake: SeamFakeShape, deviceId: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 200; i++) {
      const codes = yield* fake.codesOn(deviceId)
      if (codes[0] !== undefined) return codes[0]
      yield* Effect.sleep(Duration.millis(10))
    }
    return yield* Effect.dieMessage("no code appeared on the lock")
  })

/** Books and provisions, the lock confirming the code: an active session and its code. */
const activeOn = (fake: SeamFakeShape, deviceId: string) =>
  Effect.gen(function* () {
    const session = yield* book
    const provisioning = yield* Effect.fork(CodeProvisioning.provisionAccess(session.id))
    const code = yield* firstCodeOn(fake, deviceId)
    yield* fake.setCodeState(code.ref, { status: "set" })
    yield* Fiber.join(provisioning)
    return { session, code }
  })

// Without test services: the policy's waits run on the real clock, as the HTTP calls do.
layer(SeamFake.layer, { excludeTestServices: true })("provisioning on Seam", (it) => {
  it.effect("waits for the lock to confirm the code, then the session is active with it", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const deviceId = yield* fake.addLock()
      yield* Effect.gen(function* () {
        const { session, code } = yield* activeOn(fake, deviceId)

        const active = Option.getOrThrow(yield* stored(session.id))
        expect(active.state._tag).toBe("Active")
        const grant = Option.getOrThrow(active.access)
        expect(grant.ref).toBe(code.ref)
        expect(yield* (yield* StaticCodes).open(grant.sealedCode)).toBe(code.code)
        expect(yield* fake.codesOn(deviceId)).toHaveLength(1)

        // Ending the session revokes the code: removed from the lock, confirmed by Seam.
        yield* SessionEnd.endSession(session.id)
        yield* CodeRevocation.revokeAccess(session.id)
        expect(yield* fake.codesOn(deviceId)).toHaveLength(0)
        expect(Option.isSome(Option.getOrThrow(yield* stored(session.id)).accessRevokedAt)).toBe(true)
      }).pipe(Effect.provide(kit(fake, deviceId)))
    })
  )

  it.effect("a code never set: the provisioning deadline ends the wait, one code only, provisioning fails", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const deviceId = yield* fake.addLock()
      yield* Effect.gen(function* () {
        const session = yield* book
        yield* CodeProvisioning.provisionAccess(session.id)

        const failed = Option.getOrThrow(yield* stored(session.id))
        expect(failed.state._tag).toBe("ProvisioningFailed")
        // The code left on the lock could still become active: the pod stays held until it is gone.
        expect((yield* MemoryStore).podInUse(POD)).toBe(true)
        expect(failed.state._tag === "ProvisioningFailed" ? failed.state.reason : "").toContain(
          "no door code was active within 1s after 1 attempt (the lock never confirmed the code)"
        )

        // One code, made once; Seam still reports it as not set.
        const codes = yield* fake.codesOn(deviceId)
        expect(codes).toHaveLength(1)
        const lock = yield* SeamLockAccess.makeSeamLockAccess({ apiKey: fake.apiKey, endpoint: fake.endpoint })
        const read = yield* lock.readCode(deviceId, codes[0]?.ref ?? "")
        expect(Option.map(read, (c) => c.status)).toEqual(Option.some("setting"))

        // Its removal, confirmed by Seam, frees the pod.
        yield* CodeRevocation.revokeAccess(session.id)
        expect(yield* fake.codesOn(deviceId)).toHaveLength(0)
        expect((yield* MemoryStore).podInUse(POD)).toBe(false)
      }).pipe(Effect.provide(kit(fake, deviceId)))
    })
  )

  it.effect("a create outage: provisioning fails with no code on the lock, so the pod is free at once", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const deviceId = yield* fake.addLock()
      yield* Effect.gen(function* () {
        const session = yield* book
        yield* fake.outage(["/access_codes/create"])
        yield* CodeProvisioning.provisionAccess(session.id).pipe(Effect.ensuring(fake.recover))
        const failed = Option.getOrThrow(yield* stored(session.id))
        expect(failed.state._tag).toBe("ProvisioningFailed")
        expect(failed.access).toEqual(Option.none())
        expect(yield* fake.codesOn(deviceId)).toEqual([])
        expect((yield* MemoryStore).podInUse(POD)).toBe(false)
      }).pipe(Effect.provide(kit(fake, deviceId)))
    })
  )

  it.effect("a delete outage: the pod stays held, staff are alerted, and it is freed once Seam removes the code", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const deviceId = yield* fake.addLock()
      // The policy alerts at the first failure (no wait past the end), so this runs on the real clock.
      yield* Effect.gen(function* () {
        const { session, code } = yield* activeOn(fake, deviceId)
        const memory = yield* MemoryStore

        yield* fake.outage(["/access_codes/delete"])
        yield* SessionEnd.endSession(session.id)
        const failed = yield* Effect.flip(CodeRevocation.revokeAccess(session.id))
        expect(failed._tag).toBe("LockUnavailable")
        // The previous customer's code still opens the door: nobody can book the pod.
        expect((yield* fake.codesOn(deviceId)).map((c) => c.ref)).toEqual([code.ref])
        expect(memory.podInUse(POD)).toBe(true)
        expect((yield* Effect.flip(Checkout.startCheckout(POD)))._tag).toBe("PodInUse")
        expect(Option.getOrThrow(yield* stored(session.id)).accessRevokedAt).toEqual(Option.none())
        const alert = memory.work().find((w) => w.item.key === `send-mail:StaffAlert:${session.id}:code_not_removed`)
        expect(Option.map(alert?.item.message ?? Option.none(), (m) => m._tag === "StaffAlert" && m.detail)).toEqual(
          Option.some(expect.stringContaining(`qwip pods release ${POD} --force`))
        )

        yield* fake.recover
        yield* CodeRevocation.revokeAccess(session.id)
        expect(yield* fake.codesOn(deviceId)).toEqual([])
        expect(Option.isSome(Option.getOrThrow(yield* stored(session.id)).accessRevokedAt)).toBe(true)
        expect(memory.podInUse(POD)).toBe(false)
        const next = yield* book
        expect(next.podId).toBe(POD)
      }).pipe(Effect.provide(kit(fake, deviceId, { ...quickPolicy, codeRemovalAlertAfter: Duration.zero })))
    })
  )

  it.effect("a lock that cannot take codes fails provisioning at once, without a code", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const deviceId = yield* fake.addLock({ canProgramOnlineCodes: false })
      yield* Effect.gen(function* () {
        const session = yield* book
        yield* CodeProvisioning.provisionAccess(session.id)
        const failed = Option.getOrThrow(yield* stored(session.id))
        expect(failed.state._tag).toBe("ProvisioningFailed")
        expect(failed.state._tag === "ProvisioningFailed" ? failed.state.reason : "").toContain(
          "cannot program access codes"
        )
        expect(yield* fake.codesOn(deviceId)).toHaveLength(0)
      }).pipe(Effect.provide(kit(fake, deviceId)))
    })
  )

  it.effect("two workers, a lock slower than the lease: one code on the lock, one provisioning", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const deviceId = yield* fake.addLock()
      // A 1 s lease (renewed every third) and a lock that confirms only after 3 s.
      // A 1 s lease only fits a charge chain (checked by the policy) of short calls.
      const policy = {
        ...quickPolicy,
        workLease: Duration.seconds(1),
        provisioningDeadline: Duration.seconds(20),
        chargeAttempts: 1,
        outsideCallDeadline: Duration.millis(400)
      }
      yield* Effect.gen(function* () {
        const store = yield* MemoryStore
        const session = yield* book
        const first = yield* Effect.fork(Worker.runDueWork("w1"))
        while (store.work().every((w) => w.item.leasedBy !== "w1")) yield* Effect.sleep(Duration.millis(5))
        const stop = yield* Deferred.make<void>()
        const second = yield* Effect.fork(
          Worker.runWorkLoop({ worker: "w2", concurrency: 4, idle: Duration.millis(20), stop })
        )
        const code = yield* firstCodeOn(fake, deviceId)
        yield* Effect.sleep(Duration.seconds(3))
        yield* fake.setCodeState(code.ref, { status: "set" })
        expect(yield* Fiber.join(first)).toMatchObject({ claimed: 1, done: 1, lost: 0 })
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(second)

        const active = Option.getOrThrow(yield* stored(session.id))
        expect(active.state._tag).toBe("Active")
        expect(Option.getOrThrow(active.access).ref).toBe(code.ref)
        expect((yield* fake.codesOn(deviceId)).map((c) => c.ref)).toEqual([code.ref])
        const provisioning = store.work().filter((w) => w.item.kind === "provision-access")
        expect(provisioning.map((w) => [w.status, w.item.leasedBy, w.item.attempts])).toEqual([["done", "w1", 1]])
      }).pipe(Effect.provide(kit(fake, deviceId, policy)))
    })
  )
})
