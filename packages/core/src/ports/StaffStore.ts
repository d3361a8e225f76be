/**
 * What staff tooling needs from the store beyond `SessionStore`: session listings, pod
 * settings, static code lists, re-sealing stored door codes under a new key, the attempts
 * staff make at a declined charge, and the staff audit log. Every write is one atomic step;
 * store faults are defects, as in `SessionStore`.
 */
import { Context, type Effect, type Option, Schema } from "effect"
import type { AccessCode } from "../doorcodes/AccessCode.js"
import type { StaleSession } from "../Errors.js"
import { type PodId, SessionId } from "../Ids.js"
import type { Pod, PodStatus } from "../Pod.js"
import { type AccessGrant, isLive, isPastWindow, needsAttention, type Session } from "../session/Session.js"

/** `live`: holds its pod; `overdue`: live past its door-code window; `failed`: provisioning or payment failed. */
export const SessionListFilter = Schema.Literal("all", "live", "overdue", "failed")
export type SessionListFilter = typeof SessionListFilter.Type

export interface SessionListing {
  readonly filter: SessionListFilter
  readonly podId?: PodId | undefined
  /** For `overdue`: live sessions whose door-code window closed before this time. */
  readonly windowClosedBefore: Date
  /** Newest first, at most this many. */
  readonly limit: number
}

/** `pending` until the provider answers definitely; a pending attempt is retried with its own key. */
export const ChargeAttemptStatus = Schema.Literal("pending", "succeeded", "declined", "requires_action")
export type ChargeAttemptStatus = typeof ChargeAttemptStatus.Type

/** A staff attempt at charging a session again, with a key of its own, after a definite decline. */
export class ChargeAttempt extends Schema.Class<ChargeAttempt>("ChargeAttempt")({
  sessionId: SessionId,
  /** 1 for the first retry; the session's original charge is attempt 0 and has no row. */
  attempt: Schema.Int.pipe(Schema.positive()),
  idempotencyKey: Schema.String,
  status: ChargeAttemptStatus,
  paymentIntentId: Schema.OptionFromNullOr(Schema.String),
  by: Schema.String,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}

/** Whether a listing shows a session; every store filters with this one rule. */
export const listingIncludes = (listing: SessionListing, s: Session): boolean => {
  if (listing.podId !== undefined && s.podId !== listing.podId) return false
  switch (listing.filter) {
    case "all":
      return true
    case "live":
      return isLive(s.state)
    case "overdue":
      return isPastWindow(s, listing.windowClosedBefore)
    case "failed":
      return needsAttention(s)
  }
}

/** Whether a listing shows only sessions holding their pod, so a store may read those alone. */
export const listsOnlyLive = (listing: SessionListing): boolean =>
  listing.filter === "live" || listing.filter === "overdue"

/** A row of the staff audit log: who did what to which record, with the record before and after. */
export interface StaffAuditEntry {
  readonly actor: string
  readonly action: string
  readonly subject: string | undefined
  readonly before: unknown
  readonly after: unknown
}

export class PodAlreadyExists extends Schema.TaggedError<PodAlreadyExists>()("PodAlreadyExists", {
  podId: Schema.String
}) {
  override get message() {
    return `pod ${this.podId} already exists: change it with set-rate or set-device`
  }
}

export interface StaffStoreShape {
  readonly sessions: (listing: SessionListing) => Effect.Effect<ReadonlyArray<Session>>
  /** Inserts a new pod, free; fails if its id is taken. */
  readonly createPod: (pod: Pod) => Effect.Effect<PodStatus, PodAlreadyExists>
  /** Replaces an existing pod's settings (name, address, rate, lock device, access mode), never its in-use flag. */
  readonly savePod: (pod: Pod) => Effect.Effect<PodStatus>
  /**
   * Clears the pod's in-use flag, and its code hold, only if no live session holds it and
   * its code hold is still `codeHold` (the session whose code staff saw; `None`: no hold), in
   * one step. `freed` is false otherwise; `None` when the pod does not exist.
   */
  readonly freePod: (
    podId: PodId,
    codeHold: Option.Option<SessionId>
  ) => Effect.Effect<Option.Option<{ readonly freed: boolean }>>
  readonly podCodes: (podId: PodId) => Effect.Effect<ReadonlyArray<AccessCode>>
  /** Replaces the pod's static code list; false if the pod does not exist. */
  readonly setPodCodes: (podId: PodId, codes: ReadonlyArray<AccessCode>) => Effect.Effect<boolean>
  /** Sessions that store a sealed door code, by id, after `after` (paging), at most `limit`. */
  readonly sealedCodeSessions: (after: Option.Option<SessionId>, limit: number) => Effect.Effect<ReadonlyArray<Session>>
  readonly countSealedCodeSessions: Effect.Effect<number>
  /**
   * Replaces the session's stored door code (the same code sealed again) if the stored
   * version is `session.version`, bumping it; `StaleSession` otherwise.
   */
  readonly replaceSealedCode: (session: Session, grant: AccessGrant, at: Date) => Effect.Effect<Session, StaleSession>
  /** Oldest first. */
  readonly chargeAttempts: (sessionId: SessionId) => Effect.Effect<ReadonlyArray<ChargeAttempt>>
  /**
   * Atomically: the session's pending attempt if it has one (its outcome is unknown: retry it
   * with the same key), else a new pending attempt with the number and key given; `None` when
   * that number was taken meanwhile (read the attempts again).
   */
  readonly beginChargeAttempt: (request: {
    readonly sessionId: SessionId
    readonly by: string
    readonly attempt: number
    readonly idempotencyKey: string
  }) => Effect.Effect<Option.Option<ChargeAttempt>>
  readonly finishChargeAttempt: (
    attempt: ChargeAttempt,
    result: {
      readonly status: Exclude<ChargeAttemptStatus, "pending">
      readonly paymentIntentId: Option.Option<string>
    }
  ) => Effect.Effect<void>
  readonly appendAudit: (entry: StaffAuditEntry) => Effect.Effect<void>
}

export class StaffStore extends Context.Tag("@qwip/core/StaffStore")<StaffStore, StaffStoreShape>() {}
