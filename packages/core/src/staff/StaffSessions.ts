/**
 * What staff do to sessions (the `qwip sessions` commands): list them, end one, retry a
 * stuck provisioning. Each change is audited (`StaffAudit`).
 */
import { Duration, Effect, Option } from "effect"
import { WorkOrder } from "../background/Work.js"
import { provisionAccess } from "../doorcodes/CodeProvisioning.js"
import { IllegalTransition, SessionAlreadyEnded } from "../Errors.js"
import { endAsStaff } from "../ending/StaffEnd.js"
import { type PodId, randomUuid, type SessionId } from "../Ids.js"
import { Policy } from "../Policy.js"
import { SessionStore } from "../ports/SessionStore.js"
import { type SessionListFilter, StaffStore } from "../ports/StaffStore.js"
import { loadSession, now } from "../session/SessionSteps.js"
import { audit, iso, sessionRecord } from "./StaffAudit.js"
import { InvalidStaffRequest, NothingToRetry } from "./StaffErrors.js"

/** Sessions newest first: all, live, overdue (past their window plus the grace) or failed. */
export const listSessions = Effect.fn("StaffSessions.listSessions")(function* (request: {
  readonly filter: SessionListFilter
  readonly podId?: PodId | undefined
  readonly limit?: number | undefined
}) {
  const staff = yield* StaffStore
  const policy = yield* Policy
  const at = yield* now
  return yield* staff.sessions({
    filter: request.filter,
    podId: request.podId,
    windowClosedBefore: new Date(at.getTime() - Duration.toMillis(policy.overdueGrace)),
    limit: request.limit ?? 50
  })
})

/**
 * Ends a session as staff: charged per the tariff up to `at` (default now), or waived with
 * a reason; the code is revoked and the pod freed. An end that was interrupted is finished
 * (one charge); a session that already ended is refused, so running it twice charges once.
 */
export const endSession = Effect.fn("StaffSessions.endSession")(function* (
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
  const after = yield* endAsStaff(sessionId, {
    staff: options.by,
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

/**
 * Tries again to make the door code of a session stuck in provisioning: queues provisioning
 * under a new work key (the old key is kept for ever as history) and runs it now. A session
 * whose provisioning failed for good is not revived: its pod was released and the customer told.
 */
export const retryProvisioning = Effect.fn("StaffSessions.retryProvisioning")(function* (
  sessionId: SessionId,
  options: { readonly by: string }
) {
  const store = yield* SessionStore
  const before = yield* loadSession(sessionId)
  if (before.state._tag !== "Provisioning") {
    return yield* new NothingToRetry({
      sessionId,
      reason:
        before.state._tag === "ProvisioningFailed"
          ? `provisioning failed for good at ${iso(before.state.failedAt)} (${before.state.reason}); the pod was released and the customer told: they can book again`
          : `it is ${before.state._tag}, not provisioning`
    })
  }
  const at = yield* now
  const key = `provision-access:${sessionId}:staff-${(yield* randomUuid).slice(0, 8)}`
  yield* store.enqueue([new WorkOrder({ key, kind: "provision-access", sessionId, runAt: at, message: Option.none() })])
  yield* audit(options.by, "sessions.retry-provisioning", sessionId, sessionRecord(before), { workKey: key })
  const after = yield* provisionAccess(sessionId)
  return { workKey: key, before, after }
})
