/**
 * Runs due background work from the store. Each item is claimed under a lease, done, and
 * marked finished; a failure schedules it again with backoff, and work that keeps failing
 * is parked with a staff alert instead of retrying for ever.
 */
import { Cause, Duration, Effect, Exit, Option } from "effect"
import { provisionAccess, revokeAccess, sendAccessReady } from "./Access.js"
import { WorkNotDone } from "./Errors.js"
import { StaffAlert } from "./Messages.js"
import { nextWorkAttemptDelay, Policy } from "./Policy.js"
import { Mailer } from "./ports/Mailer.js"
import { SessionStore } from "./ports/SessionStore.js"
import { finishInterruptedEnd, settleUnknownCharge } from "./SessionEnd.js"
import { now } from "./SessionSteps.js"
import { sendMail, type WorkItem } from "./Work.js"

const failureText = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" && e.message.length > 0
    ? e.message
    : String(e)

/** Does one item's work. Fails with a reason when it should be tried again. */
export const performWork = (item: WorkItem) => {
  const work = Effect.gen(function* () {
    switch (item.kind) {
      case "provision-access":
        return yield* provisionAccess(item.sessionId)
      case "mail-access-ready":
        return yield* sendAccessReady(item.sessionId)
      case "revoke-access":
        return yield* revokeAccess(item.sessionId)
      case "close-session":
        return yield* finishInterruptedEnd(item.sessionId)
      case "settle-charge":
        return yield* settleUnknownCharge(item.sessionId)
      case "send-mail": {
        if (Option.isNone(item.message)) return yield* new WorkNotDone({ reason: "send-mail work without a message" })
        const mailer = yield* Mailer
        return yield* mailer.send(item.message.value)
      }
    }
  })
  return work.pipe(
    Effect.asVoid,
    Effect.mapError((e) => new WorkNotDone({ reason: failureText(e) })),
    Effect.withSpan("Worker.perform", { attributes: { kind: item.kind, sessionId: item.sessionId } })
  )
}

/**
 * Claims and runs up to `limit` due items as `worker`. Returns how many were done,
 * deferred and parked. Defects (store down, bugs) in one item defer it; they never stop the rest.
 */
export const runDueWork = Effect.fn("Worker.runDue")(function* (worker: string, limit = 10) {
  const store = yield* SessionStore
  const policy = yield* Policy
  const items = yield* store.claimWork({ worker, now: yield* now, leaseFor: policy.workLease, limit })
  const runOne = (item: WorkItem) =>
    Effect.gen(function* () {
      const result = yield* performWork(item).pipe(Effect.sandbox, Effect.either)
      if (result._tag === "Right") {
        yield* store.finishWork(item)
        return "done" as const
      }
      const reason = result.left._tag === "Fail" ? result.left.error.reason : `defect: ${Cause.pretty(result.left)}`
      const at = yield* now
      yield* Effect.logWarning("background work not done").pipe(
        Effect.annotateLogs({ kind: item.kind, sessionId: item.sessionId, attempt: item.attempts, reason })
      )
      if (item.attempts >= policy.workAttempts) {
        yield* store.parkWork(item, reason)
        const session = yield* store.session(item.sessionId)
        yield* store.enqueue([
          sendMail(
            new StaffAlert({
              topic: "work_parked",
              sessionId: item.sessionId,
              podId: Option.match(session, { onNone: () => "(unknown)", onSome: (s) => s.podId }),
              detail: `${item.kind} failed ${item.attempts} times: ${reason}`
            }),
            at
          )
        ])
        return "parked" as const
      }
      yield* store.deferWork(
        item,
        new Date(at.getTime() + Duration.toMillis(nextWorkAttemptDelay(item.attempts))),
        reason
      )
      return "deferred" as const
    })
  // Different sessions' items run side by side, so one slow call (a lock provider, a mail API)
  // does not hold up every other customer's door code; one session's items keep their order.
  const bySession = new Map<string, Array<WorkItem>>()
  for (const item of items) {
    const group = bySession.get(item.sessionId)
    if (group === undefined) bySession.set(item.sessionId, [item])
    else group.push(item)
  }
  // A store fault in one session's items is raised only once the others' work in flight has
  // finished, rather than interrupting it half done.
  const exits = yield* Effect.forEach(bySession.values(), (group) => Effect.exit(Effect.forEach(group, runOne)), {
    concurrency: "unbounded"
  })
  const outcomes: Array<"done" | "deferred" | "parked"> = []
  for (const exit of exits) {
    if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
    outcomes.push(...exit.value)
  }
  const count = (outcome: (typeof outcomes)[number]) => outcomes.filter((o) => o === outcome).length
  return { claimed: items.length, done: count("done"), deferred: count("deferred"), parked: count("parked") }
})
