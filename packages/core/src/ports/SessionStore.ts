/**
 * Where pods, sessions and background work live. Every method is one atomic step, so a
 * crash between two steps never leaves a half-written session:
 * - `openSession` claims a free pod, creates the session and its first work together;
 * - `commit` applies a lifecycle transition only to the version it was computed from,
 *   releasing the pod and enqueuing work in the same step;
 * - `claimWork` hands due work to one worker under a lease, which `renewLease` extends.
 * Store faults (database down) are defects: no caller can handle them.
 */
import { Context, type Duration, type Effect, Option } from "effect"
import type { WorkItem, WorkOrder } from "../background/Work.js"
import type { PodInUse, PodNotFound, StaleSession } from "../Errors.js"
import type { PodId, SessionId, SetupIntentId } from "../Ids.js"
import type { Pod, PodStatus } from "../Pod.js"
import { endedAtOf, isLive, type Session } from "../session/Session.js"
import { type Charge, chargeOf, type FailedPayment, failedPaymentOf } from "../settlement/Charge.js"

/** A lifecycle transition to persist: `after` replaces `before` only if `before` is current. */
export interface SessionChange {
  readonly before: Session
  readonly after: Session
  /** Free the session's pod in the same step (the session stops being live). */
  readonly releasePod: boolean
  /**
   * The pod and the session's door code still on the lock (see `SessionSteps.leavePod`):
   * `keep`: the session stops being live but the pod stays in use, held by its code since
   * `after.updatedAt` (with `releasePod: false`); `free`: the code is gone, so free the pod,
   * but only if it is still held by this session's code (never a pod staff released since,
   * nor one another session holds). Absent: neither.
   */
  readonly codeHold?: "keep" | "free" | undefined
  /** Work to enqueue in the same step; a key seen before is left as it is. */
  readonly work: ReadonlyArray<WorkOrder>
}

/**
 * What a store writes beside a changed session, decided here once so every store writes the
 * same: whether it holds its pod, its end for today's `end_time`, its charge row, a failed
 * payment for today's `invalid_payment_attempts`, and today's provisioning status.
 */
export interface SessionRecords {
  readonly holdsPod: boolean
  readonly endedAt: Option.Option<Date>
  readonly charge: Option.Option<Charge>
  readonly failedPayment: Option.Option<FailedPayment>
  readonly provisioning: Option.Option<{ readonly status: "ready" | "failed"; readonly at: Date }>
}

export const recordsOf = (change: { readonly before: Session; readonly after: Session }): SessionRecords => {
  const { before, after } = change
  const state = after.state
  return {
    holdsPod: isLive(state),
    endedAt: endedAtOf(after),
    charge: chargeOf(after),
    failedPayment: failedPaymentOf(before, after),
    provisioning:
      state._tag === "Active"
        ? Option.some({ status: "ready", at: state.activatedAt })
        : state._tag === "ProvisioningFailed"
          ? Option.some({ status: "failed", at: state.failedAt })
          : Option.none()
  }
}

export interface ClaimWork {
  readonly worker: string
  readonly now: Date
  readonly leaseFor: Duration.Duration
  readonly limit: number
}

export interface SessionStoreShape {
  readonly pod: (id: PodId) => Effect.Effect<Option.Option<Pod>>
  readonly pods: Effect.Effect<ReadonlyArray<PodStatus>>
  readonly podStatus: (id: PodId) => Effect.Effect<Option.Option<PodStatus>>
  readonly session: (id: SessionId) => Effect.Effect<Option.Option<Session>>
  /** A session with its pod, in one read (the hot path of the customer's app). */
  readonly sessionWithPod: (
    id: SessionId
  ) => Effect.Effect<Option.Option<{ readonly session: Session; readonly pod: Pod }>>
  readonly sessionForSetupIntent: (id: SetupIntentId) => Effect.Effect<Option.Option<Session>>
  /** Sessions on a pod that still hold it (provisioning, active or ending). */
  readonly liveSessionsOnPod: (id: PodId) => Effect.Effect<ReadonlyArray<Session>>
  /** Live sessions whose door-code window closed before `before` (`isPastWindow`). */
  readonly liveSessionsPastWindow: (before: Date) => Effect.Effect<ReadonlyArray<Session>>
  /**
   * Atomically: if a session exists for the set-up intent, returns it unchanged; otherwise
   * marks the pod in use (failing if it is missing or held, by a live session or by a
   * previous session's code) and inserts the session and `work`.
   */
  readonly openSession: (
    session: Session,
    work: ReadonlyArray<WorkOrder>
  ) => Effect.Effect<Session, PodInUse | PodNotFound>
  /** Applies a transition if the stored version is `before.version`; `StaleSession` otherwise. */
  readonly commit: (change: SessionChange) => Effect.Effect<Session, StaleSession>
  /** Enqueues work on its own (e.g. a staff retry); returns the keys that were new. */
  readonly enqueue: (work: ReadonlyArray<WorkOrder>) => Effect.Effect<ReadonlyArray<string>>
  /** Claims up to `limit` due items not leased by anyone else, counting an attempt on each. */
  readonly claimWork: (request: ClaimWork) => Effect.Effect<ReadonlyArray<WorkItem>>
  /** Marks work done (kept as history); a no-op if the lease was lost to another worker. */
  readonly finishWork: (item: WorkItem) => Effect.Effect<void>
  /** Stops retrying work that keeps failing; it stays visible to staff with its error. */
  readonly parkWork: (item: WorkItem, error: string) => Effect.Effect<void>
  /**
   * Extends the lease to `until` while the worker named in `item.leasedBy` still holds it
   * (pending, not taken by another worker); `false` means the lease is lost and the work
   * must stop. Long work renews as it runs, so nobody else claims it meanwhile.
   */
  readonly renewLease: (item: WorkItem, until: Date) => Effect.Effect<boolean>
  /** Releases the lease and schedules the item again at `runAt`, noting the error. */
  readonly deferWork: (item: WorkItem, runAt: Date, error: string) => Effect.Effect<void>
  /** Gives back every lease a worker holds, so others can take the work at once (shutdown). */
  readonly releaseLeases: (worker: string) => Effect.Effect<void>
  /** How many work items wait (pending: due, scheduled or leased; not done nor parked), for the work-waiting gauge. */
  readonly workWaiting: Effect.Effect<number>
}

export class SessionStore extends Context.Tag("@qwip/core/SessionStore")<SessionStore, SessionStoreShape>() {}
