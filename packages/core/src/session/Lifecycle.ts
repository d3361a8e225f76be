/**
 * The session state machine. Every transition is a pure function from a session to the
 * next session or a typed error:
 *
 *   Provisioning ──activate──▶ Active ──beginEnd──▶ Ending ──close──▶ Ended ──settle──▶ Ended
 *        │   └──────────────beginEnd──────────────────▲                  (unsettled outcomes only)
 *        └──failProvisioning──▶ ProvisioningFailed
 *
 * Repeating a transition that already happened returns the recorded session with
 * `changed: false` (idempotency): callers then perform no side effect a second time.
 */
import { Either, Equal, Option } from "effect"
import { IllegalTransition } from "../Errors.js"
import { type Collection, dunningPaid } from "../settlement/Collection.js"
import type { Quote } from "../tariff/Tariff.js"
import {
  type AccessGrant,
  Active,
  type Actor,
  type BilledFrom,
  Ended,
  Ending,
  isUnsettled,
  type Outcome,
  ProvisioningFailed,
  Session
} from "./Session.js"

/** The result of a transition: the session after it, and whether anything changed. */
export interface Transition {
  readonly session: Session
  readonly changed: boolean
}

export type TransitionResult = Either.Either<Transition, IllegalTransition>

const unchanged = (session: Session): TransitionResult => Either.right({ session, changed: false })

const illegal = (session: Session, event: string): TransitionResult =>
  Either.left(new IllegalTransition({ sessionId: session.id, from: session.state._tag, event }))

const advance = (session: Session, at: Date, patch: Partial<Omit<Session, "id" | "version">>): TransitionResult =>
  Either.right({
    session: new Session({ ...session, ...patch, version: session.version + 1, updatedAt: at }),
    changed: true
  })

/** The code is working on the door: Provisioning → Active. */
export const activate = (session: Session, grant: AccessGrant, at: Date): TransitionResult => {
  switch (session.state._tag) {
    case "Provisioning":
      return advance(session, at, { state: new Active({ activatedAt: at }), access: Option.some(grant) })
    case "Active":
      return Option.exists(session.access, (g) => g.ref === grant.ref)
        ? unchanged(session)
        : illegal(session, "activate")
    default:
      return illegal(session, "activate")
  }
}

/**
 * No code could be made: Provisioning → ProvisioningFailed (the pod is released with it).
 * `leftover` is a code that was created but never became active: recorded so it is revoked.
 */
export const failProvisioning = (
  session: Session,
  reason: string,
  at: Date,
  leftover: Option.Option<AccessGrant> = Option.none(),
  collection: Collection = session.collection
): TransitionResult => {
  switch (session.state._tag) {
    case "Provisioning":
      return advance(session, at, {
        state: new ProvisioningFailed({ failedAt: at, reason }),
        access: leftover,
        collection
      })
    case "ProvisioningFailed":
      return unchanged(session)
    default:
      return illegal(session, "fail provisioning")
  }
}

export interface EndRequest {
  readonly endedAt: Date
  readonly quote: Quote
  readonly billedFrom: BilledFrom
  readonly waiver: Option.Option<{ readonly reason: string; readonly by: string }>
  readonly by: Actor
}

/**
 * Fixes the end time and price: Provisioning | Active → Ending. A session already ending
 * or ended keeps its recorded end (the first end wins; a retry cannot move it).
 */
export const beginEnd = (session: Session, request: EndRequest, at: Date): TransitionResult => {
  switch (session.state._tag) {
    case "Provisioning":
    case "Active":
      return advance(session, at, { state: new Ending(request) })
    case "Ending":
    case "Ended":
      return unchanged(session)
    default:
      return illegal(session, "end")
  }
}

/**
 * Records the payment outcome and closes: Ending → Ended. The pod is freed with it, or kept
 * until a lock code is confirmed removed (`SessionSteps.leavePod`).
 */
export const close = (
  session: Session,
  outcome: Outcome,
  at: Date,
  collection: Collection = session.collection
): TransitionResult => {
  const state = session.state
  switch (state._tag) {
    case "Ending":
      return advance(session, at, {
        collection: outcome._tag === "Paid" ? dunningPaid(collection) : collection,
        state: new Ended({
          endedAt: state.endedAt,
          quote: state.quote,
          billedFrom: state.billedFrom,
          outcome,
          closedAt: at,
          by: state.by
        })
      })
    case "Ended":
      return unchanged(session)
    default:
      return illegal(session, "close")
  }
}

/**
 * Updates an unsettled payment outcome (unknown, needs authentication, failed) from what
 * the payment provider reports. Settled outcomes (paid, not billed, waived) never change.
 */
export const settle = (
  session: Session,
  outcome: Outcome,
  at: Date,
  collection: Collection = session.collection
): TransitionResult => {
  const state = session.state
  if (state._tag !== "Ended") return illegal(session, `settle payment as ${outcome._tag}`)
  if (Equal.equals(state.outcome, outcome)) {
    return collection === session.collection ? unchanged(session) : advance(session, at, { collection })
  }
  if (!isUnsettled(state.outcome)) return illegal(session, `settle payment as ${outcome._tag}`)
  // Paid, however it came (an attempt, the pay link, staff, a webhook): dunning stops.
  return advance(session, at, {
    state: new Ended({ ...state, outcome }),
    collection: outcome._tag === "Paid" ? dunningPaid(collection) : collection
  })
}

/**
 * Records what collecting the session's money did (the card check hold, a dunning attempt, a
 * refund) without moving its state. Passing the session's own collection changes nothing.
 */
export const recordCollection = (session: Session, collection: Collection, at: Date): TransitionResult =>
  collection === session.collection ? unchanged(session) : advance(session, at, { collection })

/** The door code is gone from the lock. Only once the session no longer holds the pod. */
export const markAccessRevoked = (session: Session, at: Date): TransitionResult => {
  if (session.state._tag !== "Ended" && session.state._tag !== "ProvisioningFailed") {
    return illegal(session, "revoke access")
  }
  return Option.isSome(session.accessRevokedAt)
    ? unchanged(session)
    : advance(session, at, { accessRevokedAt: Option.some(at) })
}
