/**
 * Staff end a session (`qwip sessions end`), through the one end (`SessionEnd`) with their
 * name on it, and audited (`StaffAudit`). Unlike the safety net, it refuses a session that
 * has already ended, so running the command twice charges once and says so.
 */
import { Effect } from "effect"
import { IllegalTransition, SessionAlreadyEnded } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { Staff } from "../session/Session.js"
import { loadSession } from "../session/SessionSteps.js"
import { audit, iso, sessionRecord } from "../staff/StaffAudit.js"
import { InvalidStaffRequest } from "../staff/StaffErrors.js"
import { endSession } from "./SessionEnd.js"

/**
 * Ends a session as staff: charged per the tariff up to `at` (default now), or waived with
 * a reason; the code is revoked and the pod freed. An end that was interrupted is finished
 * (one charge); a session that already ended is refused, so running it twice charges once.
 */
export const endAsStaff = Effect.fn("StaffEnd.endAsStaff")(function* (
  sessionId: SessionId,
  options: { readonly by: string; readonly at?: Date | undefined; readonly waiveReason?: string | undefined }
) {
  if (options.waiveReason !== undefined && options.waiveReason.trim() === "") {
    return yield* new InvalidStaffRequest({ reason: "a waiver needs a reason" })
  }
  const before = yield* loadSession(sessionId)
  if (before.state._tag === "Ended") {
    return yield* new SessionAlreadyEnded({ sessionId, endedAt: before.state.endedAt })
  }
  if (before.state._tag === "ProvisioningFailed") {
    return yield* new IllegalTransition({ sessionId, from: before.state._tag, event: "end" })
  }
  const after = yield* endSession(sessionId, {
    by: Staff(options.by),
    ...(options.at === undefined ? {} : { at: options.at }),
    ...(options.waiveReason === undefined ? {} : { waiveReason: options.waiveReason.trim() })
  })
  yield* audit(options.by, "sessions.end", sessionId, sessionRecord(before), {
    ...sessionRecord(after),
    ...(options.at === undefined ? {} : { requestedEnd: iso(options.at) }),
    ...(options.waiveReason === undefined ? {} : { waiveReason: options.waiveReason.trim() })
  })
  return { before, after, resumed: before.state._tag === "Ending" }
})
