/**
 * What staff do to sessions (the `qwip sessions` commands): list them and retry a stuck
 * provisioning (audited, `StaffAudit`). Ending one is `StaffEnd.endAsStaff`.
 */
import { Effect, Option } from "effect"
import { WorkOrder } from "../background/Work.js"
import { provisionAccess } from "../doorcodes/CodeProvisioning.js"
import { type PodId, randomUuid, type SessionId } from "../Ids.js"
import { Policy } from "../Policy.js"
import { SessionStore } from "../ports/SessionStore.js"
import { type SessionListFilter, StaffStore } from "../ports/StaffStore.js"
import { overdueCutOff } from "../session/Overdue.js"
import { loadSession, now } from "../session/SessionSteps.js"
import { audit, iso, sessionRecord } from "./StaffAudit.js"
import { NothingToRetry } from "./StaffErrors.js"

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
    windowClosedBefore: overdueCutOff(at, policy.overdueGrace),
    limit: request.limit ?? 50
  })
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
