/**
 * A session: one person's use of one pod, from claiming it to being charged.
 * Its `state` is a tagged union; `Lifecycle` holds the only functions that move it.
 */

import { Option, Schema } from "effect"
import { customerEmail } from "../booking/CustomerEmail.js"
import { PodId, ProvisioningId, SessionId, SetupIntentId } from "../Ids.js"
import { AccessMode } from "../Pod.js"
import { Collection, noCollection } from "../settlement/Collection.js"
import { Pence } from "../tariff/Money.js"
import { RatePerMinute } from "../tariff/Rate.js"
import { Quote } from "../tariff/Tariff.js"

/** Who caused a change: the customer through the app, staff by name, or the platform itself. */
export const Actor = Schema.Union(
  Schema.TaggedStruct("Customer", {}),
  Schema.TaggedStruct("Staff", { name: Schema.NonEmptyTrimmedString }),
  Schema.TaggedStruct("System", { reason: Schema.String })
)
export type Actor = typeof Actor.Type
export const Customer: Actor = { _tag: "Customer" }
export const Staff = (name: string): Actor => ({ _tag: "Staff", name })
export const System = (reason: string): Actor => ({ _tag: "System", reason })

/** The saved card a session is charged to. */
export class CardOnFile extends Schema.Class<CardOnFile>("CardOnFile")({
  customerId: Schema.String,
  paymentMethodId: Schema.String,
  /** Rows the previous service wrote may have none: they read as Qwip's fallback address. */
  email: Schema.transform(Schema.String, Schema.String, {
    strict: true,
    decode: customerEmail,
    encode: (email) => email
  })
}) {}

/**
 * The door code a session was given. The code itself is never stored in plain text: only
 * `sealedCode` (encrypted, see `StaticCodes.seal`) and the reference needed to revoke it.
 */
export class AccessGrant extends Schema.Class<AccessGrant>("AccessGrant")({
  /** `pod_sessions.access_code_id`: the lock provider's code id, or the sealed static code. */
  ref: Schema.String,
  sealedCode: Schema.String,
  mode: AccessMode
}) {}

// ---- payment outcomes of an ended session -------------------------------------------

export class Paid extends Schema.TaggedClass<Paid>()("Paid", {
  paymentIntentId: Schema.String,
  amountPence: Pence
}) {}
/**
 * Why nothing was charged: `below_minimum` (the price was under the minimum charge) or
 * `no_door_code` (no door code was ever ready, so the customer could not get in; see `Billing`).
 */
export const NotBilledReason = Schema.Literal("below_minimum", "no_door_code")
export type NotBilledReason = typeof NotBilledReason.Type

/** Nothing was charged, and why. Outcomes recorded before the reason existed were below the minimum. */
export class NotBilled extends Schema.TaggedClass<NotBilled>()("NotBilled", {
  reason: Schema.optionalWith(NotBilledReason, { default: () => "below_minimum" })
}) {}
export class Waived extends Schema.TaggedClass<Waived>()("Waived", {
  reason: Schema.NonEmptyTrimmedString,
  by: Schema.String
}) {}
export class PaymentFailed extends Schema.TaggedClass<PaymentFailed>()("PaymentFailed", {
  paymentIntentId: Schema.OptionFromNullOr(Schema.String),
  declineCode: Schema.String,
  message: Schema.String
}) {}
/** The bank wants the customer to authenticate (SCA); they can finish it with this PaymentIntent. */
export class NeedsAuthentication extends Schema.TaggedClass<NeedsAuthentication>()("NeedsAuthentication", {
  paymentIntentId: Schema.String
}) {}
/** The charge request's result never arrived (timeout, outage). Settled later by reading it back. */
export class PaymentUnknown extends Schema.TaggedClass<PaymentUnknown>()("PaymentUnknown", {
  detail: Schema.String
}) {}

export const Outcome = Schema.Union(Paid, NotBilled, Waived, PaymentFailed, NeedsAuthentication, PaymentUnknown)
export type Outcome = typeof Outcome.Type

/**
 * The sealed door code of a grant, if one was stored. Sessions from the old service's
 * lock-provider mode have none (the code lived only at the lock provider).
 */
export const sealedCodeOf = (grant: AccessGrant): Option.Option<string> =>
  grant.sealedCode === "" ? Option.none() : Option.some(grant.sealedCode)

/**
 * Whether the session's door code may still open the door, so its pod must not be bookable
 * until the lock confirms the code gone: a lock-provider code not yet confirmed revoked.
 * Static codes stay on their pod's list and need no removal; a session without a code has none.
 */
export const hasCodeOnLock = (s: Session): boolean =>
  Option.isSome(s.access) && s.access.value.mode === "lock-provider" && Option.isNone(s.accessRevokedAt)

/** Outcomes that can still change when the payment provider tells us more. */
export const isUnsettled = (o: Outcome): boolean =>
  o._tag === "PaymentUnknown" || o._tag === "NeedsAuthentication" || o._tag === "PaymentFailed"

// ---- states -----------------------------------------------------------------------

/** The pod is claimed and a door code is being made. */
export class Provisioning extends Schema.TaggedClass<Provisioning>()("Provisioning", {}) {}
/** The customer has a working code. */
export class Active extends Schema.TaggedClass<Active>()("Active", {
  activatedAt: Schema.Date
}) {}
/** No code could be made; the pod was released and nothing is charged. Terminal. */
export class ProvisioningFailed extends Schema.TaggedClass<ProvisioningFailed>()("ProvisioningFailed", {
  failedAt: Schema.Date,
  reason: Schema.String
}) {}
/**
 * What an end billed from (see `Billing`): when the door code became ready, nothing because no
 * code was ever ready, or the booking for ends fixed before billing followed the door code
 * (their rows lack the field and keep the price they had).
 */
export const BilledFrom = Schema.Union(
  Schema.TaggedStruct("CodeReady", { at: Schema.Date }),
  Schema.TaggedStruct("NoCode", {}),
  Schema.TaggedStruct("Booking", {})
)
export type BilledFrom = typeof BilledFrom.Type
const billedFromField = Schema.optionalWith(BilledFrom, { default: () => ({ _tag: "Booking" }) as const })

/** The end time and price are fixed; the charge is being made. The pod is still held. */
export class Ending extends Schema.TaggedClass<Ending>()("Ending", {
  endedAt: Schema.Date,
  quote: Quote,
  billedFrom: billedFromField,
  waiver: Schema.OptionFromNullOr(Schema.Struct({ reason: Schema.NonEmptyTrimmedString, by: Schema.String })),
  by: Actor
}) {}
/**
 * Closed with a recorded payment outcome; the session no longer holds the pod (its lock code,
 * until confirmed removed, still does: see `hasCodeOnLock`). Terminal, but for settling payment.
 */
export class Ended extends Schema.TaggedClass<Ended>()("Ended", {
  endedAt: Schema.Date,
  quote: Quote,
  billedFrom: billedFromField,
  outcome: Outcome,
  closedAt: Schema.Date,
  by: Actor
}) {}

export const SessionState = Schema.Union(Provisioning, Active, ProvisioningFailed, Ending, Ended)
export type SessionState = typeof SessionState.Type
export type SessionStateTag = SessionState["_tag"]

/** States in which the session holds its pod. */
export const isLive = (state: SessionState): boolean =>
  state._tag === "Provisioning" || state._tag === "Active" || state._tag === "Ending"

export class Session extends Schema.Class<Session>("Session")({
  id: SessionId,
  podId: PodId,
  provisioningId: ProvisioningId,
  setupIntentId: SetupIntentId,
  card: CardOnFile,
  /** The pod's rate when the session started: later rate changes do not reprice it. */
  rate: RatePerMinute,
  startedAt: Schema.Date,
  /** When the door code stops working (start + the policy's window). */
  accessUntil: Schema.Date,
  access: Schema.OptionFromNullOr(AccessGrant),
  /** Set once the door code is known to be gone from the lock. */
  accessRevokedAt: Schema.OptionFromNullOr(Schema.Date),
  state: SessionState,
  /** The card check hold, dunning and refunds (see `Collection`); empty for older rows. */
  collection: Schema.optionalWith(Collection, { default: () => noCollection }),
  /** Bumped on every change; stores apply a change only to the version it was computed from. */
  version: Schema.Int.pipe(Schema.nonNegative()),
  updatedAt: Schema.Date
}) {}

/** Whether a live session's door-code window closed before `instant` (it should have ended by then). */
export const isPastWindow = (s: Session, instant: Date): boolean =>
  isLive(s.state) && s.accessUntil.getTime() < instant.getTime()

/** Whether staff should look at a session: its provisioning failed, or its payment is not settled. */
export const needsAttention = (s: Session): boolean =>
  s.state._tag === "ProvisioningFailed" || (s.state._tag === "Ended" && isUnsettled(s.state.outcome))

/**
 * The recorded end of a session that is over or ending: its fixed end time, or when its
 * provisioning failed (the session ended then, for the customer and for every read).
 */
export const endedAtOf = (s: Session): Option.Option<Date> => {
  switch (s.state._tag) {
    case "Ending":
    case "Ended":
      return Option.some(s.state.endedAt)
    case "ProvisioningFailed":
      return Option.some(s.state.failedAt)
    case "Provisioning":
    case "Active":
      return Option.none()
  }
}
