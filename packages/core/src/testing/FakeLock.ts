/**
 * An in-memory smart lock provider. Codes are found again by name (as Seam's are), become
 * `set` after a configurable number of checks (or never), and can be made to fail.
 */
import { Context, Effect, Layer, Option, Random } from "effect"
import { type AccessCode, accessCode } from "../doorcodes/AccessCode.js"
import {
  LockAccess,
  type LockAccessShape,
  type LockCode,
  type LockCodeStatus,
  LockRejected,
  LockUnavailable
} from "../ports/LockAccess.js"
import { type Faults, makeFaults } from "./Faults.js"

export type LockOperation = "createCode" | "readCode" | "revokeCode" | "lockStatus"

interface StoredCode {
  readonly ref: string
  readonly deviceId: string
  readonly name: string
  readonly code: AccessCode
  status: LockCodeStatus
  checks: number
}

export interface FakeLockControl {
  /** "before"/"after" failures are `LockUnavailable` (retryable). */
  readonly faults: Faults<LockOperation>
  /** Checks before a new code reports `set`; `"never"` keeps it `setting`; `"fail"` makes it fail. */
  readonly setActivation: (mode: number | "never" | "fail") => void
  /** A device that cannot program codes at all. */
  readonly rejectDevice: (deviceId: string) => void
  /** Codes currently on the lock (not revoked). */
  readonly codesOn: (deviceId: string) => ReadonlyArray<LockCode & { readonly name: string }>
  readonly revokedRefs: () => ReadonlyArray<string>
}

export class FakeLock extends Context.Tag("@qwip/core/testing/FakeLock")<FakeLock, FakeLockControl>() {}

export const makeFakeLock = () => {
  const faults = makeFaults<LockOperation>()
  const codes = new Map<string, StoredCode>()
  const rejected = new Set<string>()
  const revoked: Array<string> = []
  let activation: number | "never" | "fail" = 0
  let seq = 0

  const guarded = <A, E>(op: LockOperation, deviceId: string, body: () => Effect.Effect<A, E>) =>
    Effect.suspend((): Effect.Effect<A, E | LockUnavailable> => {
      if (faults.take(op, "before")) return Effect.fail(new LockUnavailable({ deviceId, reason: `${op} timed out` }))
      return body().pipe(
        Effect.flatMap((a) =>
          faults.take(op, "after")
            ? Effect.fail(new LockUnavailable({ deviceId, reason: `${op} timed out` }))
            : Effect.succeed(a)
        )
      )
    })

  const view = (c: StoredCode): LockCode => ({ ref: c.ref, code: c.code, status: c.status })

  const lock: LockAccessShape = {
    createCode: ({ deviceId, name }) =>
      guarded("createCode", deviceId, () =>
        Effect.gen(function* () {
          if (rejected.has(deviceId)) {
            return yield* new LockRejected({ deviceId, reason: "device cannot program access codes" })
          }
          const existing = [...codes.values()].find((c) => c.deviceId === deviceId && c.name === name)
          if (existing !== undefined) return view(existing)
          const digits = yield* Random.nextIntBetween(0, 10_000)
          const stored: StoredCode = {
            ref: `ac_${++seq}`,
            deviceId,
            name,
            code: accessCode(digits.toString().padStart(4, "0")),
            status: activation === 0 ? "set" : "setting",
            checks: 0
          }
          codes.set(stored.ref, stored)
          return view(stored)
        })
      ),
    readCode: (deviceId, ref) =>
      guarded("readCode", deviceId, () =>
        Effect.sync(() => {
          const c = codes.get(ref)
          if (c === undefined) return Option.none()
          c.checks++
          if (c.status === "setting") {
            if (activation === "fail") c.status = "failed"
            else if (activation !== "never" && c.checks >= activation) c.status = "set"
          }
          return Option.some(view(c))
        })
      ),
    revokeCode: (deviceId, ref) =>
      guarded("revokeCode", deviceId, () =>
        Effect.sync(() => {
          if (codes.delete(ref)) revoked.push(ref)
        })
      ),
    lockStatus: (deviceId) => guarded("lockStatus", deviceId, () => Effect.succeed({ isLocked: true }))
  }

  const control: FakeLockControl = {
    faults,
    setActivation: (mode) => {
      activation = mode
    },
    rejectDevice: (deviceId) => rejected.add(deviceId),
    codesOn: (deviceId) =>
      [...codes.values()].filter((c) => c.deviceId === deviceId).map((c) => ({ ...view(c), name: c.name })),
    revokedRefs: () => [...revoked]
  }
  return { lock, control }
}

export const layerFakeLock = Layer.effectContext(
  Effect.sync(() => {
    const { lock, control } = makeFakeLock()
    return Context.make(LockAccess, lock).pipe(Context.add(FakeLock, control))
  })
)
