/**
 * Runs due background work from the store. Each item is claimed under a lease, done, and
 * marked finished; a failure schedules it again with backoff, and work that keeps failing
 * is parked with a staff alert instead of retrying for ever (but for code revocation, which
 * keeps a pod blocked until it succeeds: it is retried, capped at the longest backoff).
 *
 * Claimed items run concurrently, so one slow outside service (a lock that never confirms,
 * a charge that never answers) holds up only the work waiting on it. A session's own items
 * still run one at a time, in order (its provisioning, its email, its revocation): per
 * session rather than per pod, because two sessions' codes on one lock do not depend on each
 * other, and a revocation for the last customer must not delay the next one's code. While an
 * item runs its lease is renewed, so no other worker takes it; `workTimeout` bounds its run.
 */
import { Cause, Deferred, Duration, Effect, Option, Queue } from "effect"
import { notifyStaff, queueStaffNotice } from "../alerts/StaffNotices.js"
import { provisionAccess, sendAccessReady } from "../doorcodes/CodeProvisioning.js"
import { revokeAccess } from "../doorcodes/CodeRevocation.js"
import { WorkNotDone } from "../Errors.js"
import { finishInterruptedEnd } from "../ending/SafetyNetEnd.js"
import { StaffAlert } from "../Messages.js"
import { boundedMailer } from "../OutsideCalls.js"
import { nextWorkAttemptDelay, Policy, workLeaseRenewal } from "../Policy.js"
import { SessionStore } from "../ports/SessionStore.js"
import { now } from "../session/SessionSteps.js"
import { releaseLeftoverHold } from "../settlement/CardHolds.js"
import { collectPayment } from "../settlement/Dunning.js"
import { finishPendingRefunds } from "../settlement/Refunds.js"
import { settleUnknownCharge } from "../settlement/Settlement.js"
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
      case "release-hold":
        return yield* releaseLeftoverHold(item.sessionId)
      case "collect-payment": {
        // The attempt number ends the key (`collectPaymentWork`).
        const attempt = Number(item.key.slice(item.key.lastIndexOf(":") + 1))
        if (!Number.isInteger(attempt) || attempt < 1) {
          return yield* new WorkNotDone({ reason: `collect-payment work without an attempt number: ${item.key}` })
        }
        return yield* collectPayment(item.sessionId, attempt)
      }
      case "send-mail": {
        if (Option.isNone(item.message)) return yield* new WorkNotDone({ reason: "send-mail work without a message" })
        yield* queueStaffNotice(item.message.value)
        const mailer = yield* boundedMailer
        return yield* mailer.send(item.message.value)
      }
      case "finish-refund":
        return yield* finishPendingRefunds(item.sessionId)
      case "notify-staff":
        return yield* notifyStaff(item)
    }
  })
  return work.pipe(
    Effect.asVoid,
    Effect.mapError((e) => new WorkNotDone({ reason: failureText(e) })),
    Effect.withSpan("Worker.performWork", { attributes: { kind: item.kind, sessionId: item.sessionId } })
  )
}

/** What became of one claimed item. `lost`: another worker took its lease, so we stopped. */
type Outcome = "done" | "deferred" | "parked" | "lost"

/** A failed run: tried again later with backoff, or parked for staff once attempts run out. */
const recordFailure = (item: WorkItem, reason: string) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const policy = yield* Policy
    const at = yield* now
    yield* Effect.logWarning("background work not done").pipe(
      Effect.annotateLogs({ kind: item.kind, sessionId: item.sessionId, attempt: item.attempts, reason })
    )
    // A revocation is never parked: until the lock confirms the code gone, the previous
    // customer may open the door and the pod stays blocked. Staff hear of it once instead
    // (`code_not_removed`, after the policy's `codeRemovalAlertAfter`); retries go on.
    if (item.attempts < policy.workAttempts || item.kind === "revoke-access") {
      const runAt = new Date(at.getTime() + Duration.toMillis(nextWorkAttemptDelay(item.attempts)))
      yield* store.deferWork(item, runAt, reason)
      return "deferred" as const
    }
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
  })

/** Does the item within the policy's time limit and records how it went. */
const runItem = (item: WorkItem) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const policy = yield* Policy
    const result = yield* performWork(item).pipe(
      Effect.timeoutFail({
        duration: policy.workTimeout,
        onTimeout: () =>
          new WorkNotDone({
            reason: `still running after ${Duration.format(policy.workTimeout)}; stopped to try again later`
          })
      }),
      Effect.sandbox,
      Effect.either
    )
    if (result._tag === "Left") {
      const reason = result.left._tag === "Fail" ? result.left.error.reason : `defect: ${Cause.pretty(result.left)}`
      return yield* recordFailure(item, reason)
    }
    yield* store.finishWork(item)
    return "done" as const
  })

/** Renews the item's lease every third of a lease; returns only once the lease is lost. */
const keepLease = (item: WorkItem) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const policy = yield* Policy
    for (;;) {
      yield* Effect.sleep(workLeaseRenewal(policy))
      const until = new Date((yield* now).getTime() + Duration.toMillis(policy.workLease))
      // A store fault here is not a lost lease: keep working and try again next time.
      const held = yield* store
        .renewLease(item, until)
        .pipe(Effect.catchAllCause((cause) => Effect.as(Effect.logWarning("work lease not renewed", cause), true)))
      if (!held) return
    }
  })

/** Runs `self` after the same session's earlier work on this worker; other sessions never wait. */
type InTurn = <A, E, R>(sessionId: string, self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

const makeSessionTurns: Effect.Effect<InTurn> = Effect.sync(() => {
  const turns = new Map<string, { readonly lock: Effect.Semaphore; users: number }>()
  return (sessionId, self) =>
    Effect.suspend(() => {
      const turn = turns.get(sessionId) ?? { lock: Effect.unsafeMakeSemaphore(1), users: 0 }
      turns.set(sessionId, turn)
      turn.users++
      return turn.lock
        .withPermits(1)(self)
        .pipe(
          Effect.ensuring(
            Effect.sync(() => {
              if (--turn.users === 0) turns.delete(sessionId)
            })
          )
        )
    })
})

/** One claimed item: in its session's turn, under its time limit, its lease renewed meanwhile. */
const runClaimed = (item: WorkItem, inTurn: InTurn) =>
  Effect.raceFirst(inTurn(item.sessionId, runItem(item)), Effect.as(keepLease(item), "lost" as const)).pipe(
    Effect.tap((outcome) =>
      outcome === "lost"
        ? Effect.logWarning("background work lease lost to another worker; stopped").pipe(
            Effect.annotateLogs({ kind: item.kind, sessionId: item.sessionId, attempt: item.attempts })
          )
        : Effect.void
    ),
    Effect.withSpan("Worker.runClaimed", { attributes: { kind: item.kind, sessionId: item.sessionId } })
  )

const claim = (worker: string, limit: number) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const policy = yield* Policy
    return yield* store.claimWork({ worker, now: yield* now, leaseFor: policy.workLease, limit })
  })

/**
 * Claims up to `limit` due items as `worker` and runs them concurrently (a session's items
 * in turn). Returns how many were done, deferred, parked and lost to another worker.
 * Defects (store down, bugs) in one item defer it; they never stop the rest.
 */
export const runDueWork = Effect.fn("Worker.runDueWork")(function* (worker: string, limit = 10) {
  const items = yield* claim(worker, limit)
  const inTurn = yield* makeSessionTurns
  const outcomes = yield* Effect.forEach(items, (item) => runClaimed(item, inTurn), { concurrency: "unbounded" })
  const count = (o: Outcome) => outcomes.filter((x) => x === o).length
  return {
    claimed: items.length,
    done: count("done"),
    deferred: count("deferred"),
    parked: count("parked"),
    lost: count("lost")
  }
})

export interface WorkLoop {
  /** Names this worker in the leases it holds. */
  readonly worker: string
  /** Items run at once; a slot that frees is filled by the next claim. */
  readonly concurrency: number
  /** Pause before claiming again when nothing more was due. */
  readonly idle: Duration.DurationInput
  /** Completed to stop claiming; the loop then returns once the work in flight is done. */
  readonly stop: Deferred.Deferred<void>
}

/**
 * The service's worker: keeps up to `concurrency` items in flight, claiming more as slots
 * free, until `stop`. Interrupting it interrupts the work in flight (leases are then the
 * caller's to give back with `releaseLeases`).
 */
export const runWorkLoop = Effect.fn("Worker.runWorkLoop")(function* (options: WorkLoop) {
  const size = Math.max(1, Math.floor(options.concurrency))
  const inTurn = yield* makeSessionTurns
  // One token per free slot: running work holds one and gives it back when done.
  const slots = yield* Queue.bounded<void>(size)
  const giveBack = (n: number) =>
    Queue.offerAll(
      slots,
      Array.from({ length: n }, () => undefined)
    )
  yield* giveBack(size)
  const stopped = Deferred.await(options.stop)
  while (!(yield* Deferred.isDone(options.stop))) {
    const slot = yield* Effect.raceFirst(Effect.as(Queue.take(slots), true), Effect.as(stopped, false))
    if (!slot) break
    const free = 1 + (yield* Queue.takeUpTo(slots, size - 1)).length
    const items = yield* claim(options.worker, free).pipe(
      Effect.catchAllCause((cause) =>
        Effect.as(Effect.logError("background work claim failed", cause), [] as ReadonlyArray<WorkItem>)
      )
    )
    yield* giveBack(free - items.length)
    if (items.length > 0)
      yield* Effect.logDebug("background work claimed").pipe(Effect.annotateLogs({ claimed: items.length }))
    for (const item of items) {
      yield* Effect.fork(
        runClaimed(item, inTurn).pipe(
          Effect.catchAllCause((cause) => Effect.logError("background work failed", cause)),
          Effect.ensuring(giveBack(1))
        )
      )
    }
    // Nothing more due: wait before asking again. A full claim asks again once a slot frees.
    if (items.length < free) yield* Effect.raceFirst(Effect.sleep(options.idle), stopped)
  }
  // Every slot back means nothing is in flight.
  yield* Queue.takeBetween(slots, size, size)
})
