/**
 * Removing a session's door code from the lock once the session no longer holds the pod,
 * and telling staff when the lock will not confirm it gone.
 */
import { Cause, Duration, Effect, Option } from "effect"
import { sendMail } from "../background/Work.js"
import { WorkNotDone } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { StaffAlert } from "../Messages.js"
import { boundedLock } from "../OutsideCalls.js"
import { Policy } from "../Policy.js"
import { SessionStore } from "../ports/SessionStore.js"
import { markAccessRevoked } from "../session/Lifecycle.js"
import type { Session } from "../session/Session.js"
import { loadSession, now, persist, retryWhenStale } from "../session/SessionSteps.js"

/** When the session stopped holding its pod: its close, or its failed provisioning. */
const stoppedHoldingAt = (session: Session): Option.Option<Date> =>
  session.state._tag === "Ended"
    ? Option.some(session.state.closedAt)
    : session.state._tag === "ProvisioningFailed"
      ? Option.some(session.state.failedAt)
      : Option.none()

/**
 * Past the policy's `codeRemovalAlertAfter` without the lock confirming the code gone, tells
 * staff once (the alert's key is stable) what blocks the pod and the command to act.
 */
const alertCodeStillOnLock = (session: Session, deviceId: string, lastWord: string) =>
  Effect.gen(function* () {
    const policy = yield* Policy
    const store = yield* SessionStore
    const at = yield* now
    const since = stoppedHoldingAt(session)
    if (Option.isNone(since)) return
    const waited = Duration.millis(at.getTime() - since.value.getTime())
    if (Duration.lessThan(waited, policy.codeRemovalAlertAfter)) return
    const status = yield* store.podStatus(session.podId)
    const blocks = Option.exists(status, (p) => Option.exists(p.codeHold, (h) => h.sessionId === session.id))
    const code = Option.match(session.access, { onNone: () => "", onSome: (a) => ` (lock code ${a.ref})` })
    const detail = blocks
      ? `the door code${code} of session ${session.id} is not confirmed removed from lock ${deviceId} ` +
        `${Duration.format(waited)} after the session ended (last: ${lastWord}), so pod ${session.podId} ` +
        `is blocked: nobody can book it. Removal keeps being retried and frees the pod once the lock confirms. ` +
        `To free it now, remove the code from the lock by hand, then run: ` +
        `qwip pods release ${session.podId} --force --reason "door code removed by hand"`
      : `the door code${code} of session ${session.id} is not confirmed removed from lock ${deviceId} ` +
        `${Duration.format(waited)} after the session ended (last: ${lastWord}); pod ${session.podId} was ` +
        `already released, so the code may open its door until ${session.accessUntil.toISOString()}: ` +
        `remove it from the lock by hand. Removal keeps being retried.`
    yield* store.enqueue([
      sendMail(new StaffAlert({ topic: "code_not_removed", sessionId: session.id, podId: session.podId, detail }), at)
    ])
  })

/**
 * Removes the door code from the lock once the session no longer holds the pod
 * (background work). Static codes have nothing to remove. A failed removal is an error,
 * so the worker tries again: a code is never marked revoked unless the lock confirmed it.
 * Recording the revocation frees the pod in the same step if it was kept in use for this
 * code (see `leavePod`); a pod staff released since, or another session holds, is left alone.
 */
export const revokeAccess = Effect.fn("CodeRevocation.revokeAccess")(function* (sessionId: SessionId) {
  const store = yield* SessionStore
  return yield* retryWhenStale(
    Effect.gen(function* () {
      const session = yield* loadSession(sessionId)
      if (Option.isSome(session.accessRevokedAt)) return session
      if (Option.isSome(session.access) && session.access.value.mode === "lock-provider") {
        const pod = yield* store.pod(session.podId)
        const deviceId = pod.pipe(Option.flatMap((p) => p.lockDeviceId))
        if (Option.isNone(deviceId)) {
          const reason = `pod ${session.podId} has no lock device to revoke from`
          yield* alertCodeStillOnLock(session, "(none)", reason)
          return yield* new WorkNotDone({ reason })
        }
        const lock = yield* boundedLock
        // Also when the call is stopped (the work's time limit): the lock never answered.
        yield* lock.revokeCode(deviceId.value, session.access.value.ref).pipe(
          Effect.onError((cause) =>
            alertCodeStillOnLock(
              session,
              deviceId.value,
              Option.match(Cause.failureOption(cause), {
                onNone: () => "the lock did not answer",
                onSome: (e) => e.message
              })
            )
          )
        )
      }
      return yield* persist(session, { transition: markAccessRevoked(session, yield* now), codeHold: "free" })
    })
  )
})
