/**
 * How use cases persist a lifecycle transition: compute it purely on the session as read,
 * then commit it only against that version. A concurrent writer makes the commit stale;
 * the use case then reads again and decides again.
 */
import { Clock, Effect, Either, Option, Schedule } from "effect"
import type { WorkOrder } from "../background/Work.js"
import { type IllegalTransition, SessionNotFound, type StaleSession } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import type { Pod } from "../Pod.js"
import { SessionStore } from "../ports/SessionStore.js"
import type { TransitionResult } from "./Lifecycle.js"
import { hasCodeOnLock, type Session } from "./Session.js"

export const now: Effect.Effect<Date> = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms)))

export const loadSession = (id: SessionId): Effect.Effect<Session, SessionNotFound, SessionStore> =>
  SessionStore.pipe(
    Effect.flatMap((store) => store.session(id)),
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new SessionNotFound({ sessionId: id })),
        onSome: Effect.succeed
      })
    )
  )

export const loadSessionWithPod = (
  id: SessionId
): Effect.Effect<{ readonly session: Session; readonly pod: Pod }, SessionNotFound, SessionStore> =>
  SessionStore.pipe(
    Effect.flatMap((store) => store.sessionWithPod(id)),
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new SessionNotFound({ sessionId: id })),
        onSome: Effect.succeed
      })
    )
  )

export interface Step {
  readonly transition: TransitionResult
  readonly releasePod?: boolean
  /** See `SessionChange.codeHold`. */
  readonly codeHold?: "keep" | "free" | undefined
  readonly work?: ReadonlyArray<WorkOrder>
}

/**
 * How a session that stops being live leaves its pod: freed, unless its door code may still
 * be on the lock; then the pod stays in use, held by that code until its revocation is
 * confirmed (`CodeRevocation.revokeAccess` frees it then).
 */
export const leavePod = (after: Session): Pick<Step, "releasePod" | "codeHold"> =>
  hasCodeOnLock(after) ? { releasePod: false, codeHold: "keep" } : { releasePod: true }

/** Persists a transition computed on `before`; an unchanged (repeated) transition writes nothing. */
export const persist = (
  before: Session,
  step: Step
): Effect.Effect<Session, IllegalTransition | StaleSession, SessionStore> =>
  Either.match(step.transition, {
    onLeft: Effect.fail,
    onRight: ({ session, changed }) =>
      changed
        ? SessionStore.pipe(
            Effect.flatMap((store) =>
              store.commit({
                before,
                after: session,
                releasePod: step.releasePod ?? false,
                ...(step.codeHold === undefined ? {} : { codeHold: step.codeHold }),
                work: step.work ?? []
              })
            )
          )
        : Effect.succeed(session)
  })

/** Re-runs a read-decide-commit step when another writer got there first. */
export const retryWhenStale = <A, E extends { readonly _tag: string }, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.retry(self, {
    while: (e) => e._tag === "StaleSession",
    schedule: Schedule.recurs(20)
  })
