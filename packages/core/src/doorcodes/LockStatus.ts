/**
 * Whether a pod's door is locked, as the customer's app asks.
 */
import { Duration, Effect, Option } from "effect"
import { DeviceNotFound } from "../Errors.js"
import { boundedLock, withDeadline } from "../OutsideCalls.js"
import { accessModeOf, Policy } from "../Policy.js"
import { LockUnavailable } from "../ports/LockAccess.js"
import { SessionStore } from "../ports/SessionStore.js"

/** Whether this platform has a lock provider to ask (Seam), or pods use static codes only. */
export type LockProvider = "configured" | "none"

/**
 * Whether a pod's door is locked. Without a lock provider, or for pods on static codes, there
 * is no lock to ask, whatever the device, and today's service answers "locked"; otherwise the
 * device must belong to a pod.
 */
export const lockStatus = Effect.fn("LockStatus.lockStatus")(function* (
  deviceId: string,
  lockProvider: LockProvider = "configured"
) {
  const policy = yield* Policy
  if (lockProvider === "none" || policy.staticCodesOnly === true) return { isLocked: true }
  const store = yield* SessionStore
  const pod = (yield* store.pods).find((s) => Option.contains(s.pod.lockDeviceId, deviceId))
  if (pod === undefined) return yield* new DeviceNotFound({ deviceId })
  if (accessModeOf(policy, pod.pod) === "static") return { isLocked: true }
  const lock = yield* boundedLock
  // A customer's request: it waits for the lock at most the policy's `customerWait`.
  return yield* lock
    .lockStatus(deviceId)
    .pipe(
      withDeadline(
        policy.customerWait,
        "lockStatus",
        { deviceId },
        () => new LockUnavailable({ deviceId, reason: `no answer within ${Duration.format(policy.customerWait)}` })
      )
    )
})
