/**
 * The Seam adapter through the real `seam` SDK against Seam's official fake (see SeamFake).
 * One fake server is shared per block; every test seeds its own lock, so tests stay apart.
 */
import { randomUUID } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { LockAccess, type LockAccessShape, lockCodeNameFor } from "@qwip/core"
import { SeamFake } from "@qwip/test-support/SeamFake"
import { Cause, ConfigProvider, Effect, Exit, Option, Redacted } from "effect"
import { SeamLockAccess } from "../../src/seam/index.js"

const lockAccess: Effect.Effect<LockAccessShape, never, SeamFake> = Effect.flatMap(SeamFake, (fake) =>
  SeamLockAccess.makeSeamLockAccess({ apiKey: fake.apiKey, endpoint: fake.endpoint })
)

/** A request as provisioning makes it: named after a fresh session, for the next 180 minutes. */
const codeFor = (deviceId: string, name = lockCodeNameFor(randomUUID())) => {
  const startsAt = new Date(Date.now() - 1_000)
  return { deviceId, name, startsAt, endsAt: new Date(startsAt.getTime() + 180 * 60_000) }
}

layer(SeamFake.layer)("SeamLockAccess against Seam's fake", (it) => {
  it.effect("creates a time-bound code, which reads as set once the lock confirms it", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock()
      const request = codeFor(deviceId)

      const created = yield* lock.createCode(request)
      expect(created.code).toMatch(/^\d{4}$/)
      expect(created.status).toBe("setting")

      const onLock = yield* fake.codesOn(deviceId)
      expect(onLock).toHaveLength(1)
      expect(onLock[0]).toMatchObject({
        ref: created.ref,
        name: request.name,
        code: created.code,
        startsAt: request.startsAt.toISOString(),
        endsAt: request.endsAt.toISOString()
      })
      expect(Option.map(yield* lock.readCode(deviceId, created.ref), (c) => c.status)).toEqual(Option.some("setting"))

      yield* fake.setCodeState(created.ref, { status: "set" })
      expect(yield* lock.readCode(deviceId, created.ref)).toEqual(Option.some({ ...created, status: "set" }))
    })
  )

  it.effect("a retried creation with the same name returns the same code: never a second one", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock()
      const request = codeFor(deviceId)

      const first = yield* lock.createCode(request)
      const again = yield* lock.createCode(request)
      yield* fake.setCodeState(first.ref, { status: "set" })
      const afterSet = yield* lock.createCode(request)

      expect(again).toEqual(first)
      expect(afterSet).toEqual({ ...first, status: "set" })
      expect(yield* fake.codesOn(deviceId)).toHaveLength(1)
    })
  )

  it.effect("a creation Seam could not answer (503) fails as unavailable, and the retry makes one code", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock()
      const request = codeFor(deviceId)

      yield* fake.outage(["/access_codes/create"])
      const error = yield* Effect.flip(lock.createCode(request))
      yield* fake.recover
      expect(error).toMatchObject({ _tag: "LockUnavailable", deviceId })

      yield* lock.createCode(request)
      expect(yield* fake.codesOn(deviceId)).toHaveLength(1)
    })
  )

  it.effect("generated codes fit the lock's reported lengths and constraints, and its name rule", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock({
        supportedCodeLengths: [5, 6, 8],
        codeConstraints: [
          { constraint_type: "no_zeros" },
          { constraint_type: "cannot_start_with_12" },
          { constraint_type: "no_triple_consecutive_ints" },
          { constraint_type: "at_least_three_unique_digits" },
          { constraint_type: "name_length", max_length: 20 }
        ]
      })
      const codes: Array<string> = []
      for (let i = 0; i < 25; i++) codes.push((yield* lock.createCode(codeFor(deviceId))).code)

      for (const code of codes) {
        expect(code).toMatch(/^[1-9]{5}$/)
        expect(code.startsWith("12")).toBe(false)
        expect(new Set(code).size).toBeGreaterThanOrEqual(3)
        for (let i = 0; i + 2 < code.length; i++) {
          const [a, b, c] = [Number(code[i]), Number(code[i + 1]), Number(code[i + 2])]
          expect(b - a === 1 && c - b === 1).toBe(false)
          expect(a - b === 1 && b - c === 1).toBe(false)
        }
      }
      expect(new Set(codes).size).toBe(codes.length)
      const onLock = yield* fake.codesOn(deviceId)
      expect(onLock.every((c) => c.name.length <= 20)).toBe(true)

      // The cut name is found again, so a retry with a long name still makes no second code.
      const request = codeFor(deviceId)
      const first = yield* lock.createCode(request)
      expect(yield* lock.createCode(request)).toEqual(first)
      expect(yield* fake.codesOn(deviceId)).toHaveLength(26)
    })
  )

  it.effect("a lock that picks its own digits gets no code from us, and its code is reported", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock({ codeConstraints: [{ constraint_type: "cannot_specify_pin_code" }] })
      const created = yield* lock.createCode(codeFor(deviceId))
      expect(created.code).toMatch(/^\d{4}$/)
      expect((yield* fake.codesOn(deviceId))[0]?.code).toBe(created.code)
    })
  )

  it.effect("an offline lock is unavailable (try later); one that cannot take codes is rejected", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const offline = yield* fake.addLock({ online: false })
      const noCodes = yield* fake.addLock({ canProgramOnlineCodes: false })

      const unavailable = yield* Effect.flip(lock.createCode(codeFor(offline)))
      expect(unavailable).toMatchObject({ _tag: "LockUnavailable", deviceId: offline })
      expect(unavailable.reason).toContain("offline")

      const rejected = yield* Effect.flip(lock.createCode(codeFor(noCodes)))
      expect(rejected).toMatchObject({ _tag: "LockRejected", deviceId: noCodes })
      expect(rejected.reason).toContain("cannot program access codes")

      expect(yield* fake.codesOn(offline)).toHaveLength(0)
      expect(yield* fake.codesOn(noCodes)).toHaveLength(0)

      // Back online, the same request goes through.
      yield* fake.updateLock(offline, { online: true })
      yield* lock.createCode(codeFor(offline))
      expect(yield* fake.codesOn(offline)).toHaveLength(1)
    })
  )

  it.effect("a lock with only offline codes gets one while it is offline", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock({
        online: false,
        canProgramOnlineCodes: false,
        canProgramOfflineCodes: true
      })
      const created = yield* lock.createCode(codeFor(deviceId))
      expect((yield* fake.codesOn(deviceId)).map((c) => c.ref)).toEqual([created.ref])
    })
  )

  it.effect("an unknown device and a wrong API key are rejected with what to fix", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const unknown = yield* Effect.flip(lock.createCode(codeFor("no-such-device")))
      expect(unknown).toMatchObject({ _tag: "LockRejected", deviceId: "no-such-device" })
      expect(unknown.reason).toContain("lock device id")

      const deviceId = yield* fake.addLock()
      const wrongKey = yield* SeamLockAccess.makeSeamLockAccess({
        apiKey: Redacted.make("seam_wrong_key"),
        endpoint: fake.endpoint
      })
      const refused = yield* Effect.flip(wrongKey.lockStatus(deviceId))
      expect(refused).toMatchObject({ _tag: "LockRejected", deviceId })
      expect(refused.reason).toContain("SEAM_API_KEY")
      expect(refused.reason).not.toContain("seam_wrong_key")

      // A key the SDK cannot even use stops start-up, without printing the key.
      const malformed = yield* Effect.exit(SeamLockAccess.makeSeamLockAccess({ apiKey: Redacted.make("sk_live_123") }))
      expect(Exit.isFailure(malformed) && Cause.isDie(malformed.cause)).toBe(true)
      expect(Exit.isFailure(malformed) ? Cause.pretty(malformed.cause) : "").not.toContain("sk_live_123")
    })
  )

  it.effect("layerFromConfig reads SEAM_API_KEY and SEAM_ENDPOINT, and refuses a key that is not Seam's", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const deviceId = yield* fake.addLock({ locked: true })
      const withEnv = (env: Record<string, string>) =>
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

      const status = yield* Effect.flatMap(LockAccess, (lock) => lock.lockStatus(deviceId)).pipe(
        Effect.provide(SeamLockAccess.layerFromConfig),
        withEnv({ SEAM_API_KEY: Redacted.value(fake.apiKey), SEAM_ENDPOINT: fake.endpoint })
      )
      expect(status).toEqual({ isLocked: true })

      const missing = yield* Effect.flip(
        Effect.provide(LockAccess, SeamLockAccess.layerFromConfig).pipe(withEnv({ SEAM_ENDPOINT: fake.endpoint }))
      )
      expect(String(missing)).toContain("SEAM_API_KEY")

      const wrong = yield* Effect.flip(
        Effect.provide(LockAccess, SeamLockAccess.layerFromConfig).pipe(withEnv({ SEAM_API_KEY: "sk_live_123" }))
      )
      expect(String(wrong)).toContain("SEAM_API_KEY is not a Seam API key")
      expect(String(wrong)).not.toContain("sk_live_123")
    })
  )

  it.effect("a code Seam failed to set reads as failed", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock()
      const created = yield* lock.createCode(codeFor(deviceId))
      yield* fake.setCodeState(created.ref, {
        errors: [{ error_code: "failed_to_set_on_device", message: "keypad refused the code" }]
      })
      expect(Option.map(yield* lock.readCode(deviceId, created.ref), (c) => c.status)).toEqual(Option.some("failed"))
    })
  )

  it.effect("a code that never becomes set keeps reading as not set", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock()
      const created = yield* lock.createCode(codeFor(deviceId))
      for (let i = 0; i < 5; i++) {
        const read = yield* lock.readCode(deviceId, created.ref)
        expect(Option.map(read, (c) => c.status)).toEqual(Option.some("setting"))
      }
    })
  )

  it.effect("reading: a deleted code is none; a code from another lock is rejected", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock()
      const other = yield* fake.addLock()
      const created = yield* lock.createCode(codeFor(deviceId))

      const mismatch = yield* Effect.flip(lock.readCode(other, created.ref))
      expect(mismatch).toMatchObject({ _tag: "LockRejected", deviceId: other })

      yield* lock.revokeCode(deviceId, created.ref)
      expect(yield* lock.readCode(deviceId, created.ref)).toEqual(Option.none())
    })
  )

  it.effect("revoking removes the code; revoking it again is success", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock()
      const kept = yield* lock.createCode(codeFor(deviceId))
      const created = yield* lock.createCode(codeFor(deviceId))

      yield* lock.revokeCode(deviceId, created.ref)
      expect((yield* fake.codesOn(deviceId)).map((c) => c.ref)).toEqual([kept.ref])
      yield* lock.revokeCode(deviceId, created.ref)
      expect((yield* fake.codesOn(deviceId)).map((c) => c.ref)).toEqual([kept.ref])
    })
  )

  it.effect("a deletion Seam fails is an error, never revoked; it succeeds once Seam recovers", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock()
      const created = yield* lock.createCode(codeFor(deviceId))

      yield* fake.outage(["/access_codes/delete"])
      const failed = yield* Effect.flip(lock.revokeCode(deviceId, created.ref))
      yield* fake.recover
      expect(failed).toMatchObject({ _tag: "LockUnavailable", deviceId })
      expect(yield* fake.codesOn(deviceId)).toHaveLength(1)

      yield* lock.revokeCode(deviceId, created.ref)
      expect(yield* fake.codesOn(deviceId)).toHaveLength(0)
    })
  )

  it.effect("a deletion that cannot be confirmed is an error, not counted as revoked", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock()
      const created = yield* lock.createCode(codeFor(deviceId))

      yield* fake.outage(["/access_codes/get"])
      const unconfirmed = yield* Effect.flip(lock.revokeCode(deviceId, created.ref))
      yield* fake.recover
      expect(unconfirmed).toMatchObject({ _tag: "LockUnavailable", deviceId })
      expect(unconfirmed.reason).toContain("confirm")

      // The retry finds it gone and confirms it.
      yield* lock.revokeCode(deviceId, created.ref)
    })
  )

  it.effect("lock status follows the lock, and a Seam outage is unavailable", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      const deviceId = yield* fake.addLock({ locked: true })
      expect(yield* lock.lockStatus(deviceId)).toEqual({ isLocked: true })
      yield* fake.updateLock(deviceId, { locked: false })
      expect(yield* lock.lockStatus(deviceId)).toEqual({ isLocked: false })

      yield* fake.outage(["/devices/get"])
      const error = yield* Effect.flip(lock.lockStatus(deviceId))
      yield* fake.recover
      expect(error).toMatchObject({ _tag: "LockUnavailable", deviceId })
    })
  )
})

// Its own fake: this test fills a lock with over a thousand codes.
layer(SeamFake.layer)("SeamLockAccess on a nearly full lock", (it) => {
  it.effect("avoids every code already on the lock, then says the lock is full", () =>
    Effect.gen(function* () {
      const fake = yield* SeamFake
      const lock = yield* lockAccess
      // Digits 1-6 only: 1,296 four-digit codes. All but three are taken by others.
      const deviceId = yield* fake.addLock({
        supportedCodeLengths: [4],
        codeConstraints: [{ constraint_type: "cannot_contain_0789" }]
      })
      const free = ["1526", "3141", "6215"]
      for (let n = 0; n < 6 ** 4; n++) {
        const code = [...n.toString(6).padStart(4, "0")].map((d) => String(Number(d) + 1)).join("")
        if (!free.includes(code)) yield* fake.addCodeOnLock(deviceId, code, `other-${code}`)
      }

      const made: Array<string> = []
      for (let i = 0; i < free.length; i++) made.push((yield* lock.createCode(codeFor(deviceId))).code)
      expect(made.sort()).toEqual(free)

      const full = yield* Effect.flip(lock.createCode(codeFor(deviceId)))
      expect(full).toMatchObject({ _tag: "LockRejected", deviceId })
      expect(full.reason).toContain("no free 4-digit code")
    })
  )
})
