/**
 * Whether a pod's door is locked, as the customer's app asks.
 */
import { Duration, Effect, Option } from "effect"
import { DeviceNotFound } from "../Errors.js"
import { boundedLock, withDeadline } from "../OutsideCalls.js"
import { accessModeOf, Policy } from "../Policy.js"
import { LockUnavailable } from "../ports/LockAccess.js"
import { SessionStore } from "../ports/SessionStore.js"

/**
 * Whether a pod's door is locked. Pods on static codes have no lock to ask, and today's
 * service answers "locked" for them; otherwise the device must belong to a pod.
 */
export const lockStatus = Effect.fn("LockStatus.lockStatus")(function* (deviceId: string) {
  const policy = yield* Policy
  if (policy.staticCodesOnly === true) return { isLocked: true }
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
