/**
 * Sessions still holding their pod past their door-code window plus a grace period.
 * They are reported to staff once each; ending them stays a staff decision.
 */
import { Duration, Effect } from "effect"
import { sendMail } from "../background/Work.js"
import { StaffAlert } from "../Messages.js"
import { Policy } from "../Policy.js"
import { SessionStore } from "../ports/SessionStore.js"
import { isPastWindow, type Session } from "./Session.js"
import { now } from "./SessionSteps.js"

export const reportOverdueSessions = Effect.fn("Overdue.reportOverdueSessions")(function* () {
  const store = yield* SessionStore
  const policy = yield* Policy
  const at = yield* now
  const overdue = yield* store.liveSessionsPastWindow(overdueCutOff(at, policy.overdueGrace))
  const alerts = overdue.map((s) =>
    sendMail(
      new StaffAlert({
        topic: "overdue",
        sessionId: s.id,
        podId: s.podId,
        detail: `session started ${s.startedAt.toISOString()}, door code window ended ${s.accessUntil.toISOString()}, still ${s.state._tag}`
      }),
      at
    )
  )
  const fresh = new Set(alerts.length === 0 ? [] : yield* store.enqueue(alerts))
  for (const alert of alerts) {
    if (fresh.has(alert.key)) {
      yield* Effect.logWarning("session overdue").pipe(Effect.annotateLogs({ sessionId: alert.sessionId }))
    }
  }
  return overdue
})

/** Whether a live session is past its door-code window plus the policy's grace. */
export const isOverdue = (session: Session, at: Date, overdueGrace: Duration.Duration): boolean =>
  isPastWindow(session, overdueCutOff(at, overdueGrace))

/** Sessions whose window closed before this instant are overdue at `at`. */
export const overdueCutOff = (at: Date, overdueGrace: Duration.Duration): Date =>
  new Date(at.getTime() - Duration.toMillis(overdueGrace))
