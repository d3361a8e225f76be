/**
 * Door codes from the environment: each pod's static code list, sealed with the platform's
 * cipher, always; a lock provider (Seam) when `SEAM_API_KEY` is set. Without one, a
 * lock-provider pod cannot be provisioned; static pods work.
 */
import { LockAccess, LockRejected, StaticCodes } from "@qwip/core"
import { Duration, Effect, Layer, Option } from "effect"
import * as SeamLockAccess from "../seam/SeamLockAccess.js"
import type { StaticCodeCipher } from "../static-codes/StaticCodeCipher.js"
import { makeStaticCodes } from "../static-codes/StaticCodes.js"
import { StoreRecords } from "../store/Records.js"
import { fromConfigError, optionalSecret, type PlatformStartError } from "./StartError.js"

export interface PlatformLocks {
  readonly kind: "seam" | "none"
  readonly layer: Layer.Layer<LockAccess | StaticCodes, PlatformStartError, StoreRecords>
}

const notConfigured = (deviceId: string) =>
  Effect.fail(new LockRejected({ deviceId, reason: "no lock provider is configured (set SEAM_API_KEY)" }))

const noLockProvider = Layer.succeed(LockAccess, {
  createCode: ({ deviceId }) => notConfigured(deviceId),
  readCode: notConfigured,
  revokeCode: notConfigured,
  lockStatus: notConfigured
})

export const locksFromEnv = (options: {
  readonly cipher: StaticCodeCipher
  /** Each call to the lock provider gives up after this. */
  readonly callDeadline: Duration.Duration
}): Effect.Effect<PlatformLocks, PlatformStartError> =>
  Effect.gen(function* () {
    const seamKey = yield* optionalSecret("SEAM_API_KEY")
    const locks = Option.isSome(seamKey)
      ? SeamLockAccess.layerFromConfigWith({ timeoutMs: Duration.toMillis(options.callDeadline) }).pipe(
          Layer.mapError(fromConfigError)
        )
      : noLockProvider
    const staticCodes = Layer.effect(
      StaticCodes,
      Effect.map(StoreRecords, (records) => makeStaticCodes({ cipher: options.cipher, codesFor: records.codesFor }))
    )
    return { kind: Option.isSome(seamKey) ? "seam" : "none", layer: Layer.merge(locks, staticCodes) }
  })
