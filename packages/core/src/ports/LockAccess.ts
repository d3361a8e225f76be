/**
 * Time-bound door codes on a pod's smart lock (Seam in production).
 */
import { Context, type Effect, type Option, Schema } from "effect"
import type { AccessCode } from "../doorcodes/AccessCode.js"

/** The lock or its provider could not do it now; trying again later may work. */
export class LockUnavailable extends Schema.TaggedError<LockUnavailable>()("LockUnavailable", {
  deviceId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `lock ${this.deviceId} unavailable: ${this.reason}`
  }
}

/** The lock refused in a way retrying will not fix (cannot program codes, code failed to set). */
export class LockRejected extends Schema.TaggedError<LockRejected>()("LockRejected", {
  deviceId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `lock ${this.deviceId} rejected the code: ${this.reason}`
  }
}

export type LockError = LockUnavailable | LockRejected

/** A code's state on the lock: `setting` until the device confirms it. */
export type LockCodeStatus = "setting" | "set" | "failed" | "removing" | "unknown"

export interface LockCode {
  /** The provider's id for the code, stored as the session's access reference. */
  readonly ref: string
  readonly code: AccessCode
  readonly status: LockCodeStatus
}

export interface LockAccessShape {
  /**
   * Creates a code valid from `startsAt` to `endsAt`. `name` is derived from the session:
   * if a code with that name already exists on the device it is returned, not duplicated.
   */
  readonly createCode: (request: {
    readonly deviceId: string
    readonly name: string
    readonly startsAt: Date
    readonly endsAt: Date
  }) => Effect.Effect<LockCode, LockError>
  readonly readCode: (deviceId: string, ref: string) => Effect.Effect<Option.Option<LockCode>, LockError>
  /** Removes a code. One already gone is success; any other failure is an error, never "revoked". */
  readonly revokeCode: (deviceId: string, ref: string) => Effect.Effect<void, LockError>
  readonly lockStatus: (deviceId: string) => Effect.Effect<{ readonly isLocked: boolean }, LockError>
}

export class LockAccess extends Context.Tag("@qwip/core/LockAccess")<LockAccess, LockAccessShape>() {}

/** The code name a session's lock code carries, so a retried creation finds it. */
export const lockCodeNameFor = (sessionId: string): string => `qwip-${sessionId}`
