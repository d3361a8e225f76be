/**
 * The customer app's "is the door locked?" by lock device. Without a lock provider (static-code
 * mode) there is no lock to ask, whatever the device, and the answer is "locked", as today's
 * service gives; otherwise `Access.lockStatus` answers.
 */
import { Effect } from "effect"
import { lockStatus } from "./Access.js"

/** Whether this platform has a lock provider to ask (Seam), or pods use static codes only. */
export type LockProvider = "configured" | "none"

export const doorLockStatus = Effect.fn("Access.doorLockStatus")(function* (
  deviceId: string,
  lockProvider: LockProvider
) {
  if (lockProvider === "none") return { isLocked: true }
  return yield* lockStatus(deviceId)
})
