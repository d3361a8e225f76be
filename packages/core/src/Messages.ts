/**
 * The emails the platform sends, as typed data. Adapters render them; the core decides
 * when each is due. Every message has a stable key, so sending is idempotent.
 */
import { Option, Schema } from "effect"
import { AccessCode } from "./doorcodes/AccessCode.js"
import { SessionId } from "./Ids.js"
import { Pence, pence } from "./tariff/Money.js"
import { RatePerMinute } from "./tariff/Rate.js"

/** The customer's door code is working. */
export class AccessReady extends Schema.TaggedClass<AccessReady>()("AccessReady", {
  to: Schema.String,
  sessionId: SessionId,
  podName: Schema.String,
  podAddress: Schema.String,
  startsAt: Schema.Date,
  accessUntil: Schema.Date,
  code: AccessCode
}) {}

/** After the session is closed: what was charged, or that nothing was. */
export class Receipt extends Schema.TaggedClass<Receipt>()("Receipt", {
  to: Schema.String,
  sessionId: SessionId,
  podName: Schema.String,
  startedAt: Schema.Date,
  /** When billing started (the door code was ready); none when nothing was billed for lack of a code. */
  billedFrom: Schema.optionalWith(Schema.OptionFromNullOr(Schema.Date), { default: () => Option.none() }),
  endedAt: Schema.Date,
  billableSeconds: Schema.Int,
  /** The session's rate, shown beside the billed time; absent on receipts queued before it was kept. */
  rate: Schema.optionalWith(Schema.OptionFromNullOr(RatePerMinute), { default: () => Option.none() }),
  /** Everything paid for the session: captured from the card check hold plus charged. */
  amountPence: Pence,
  /** Of `amountPence`, what was captured from the card check hold at booking. */
  capturedPence: Schema.optionalWith(Pence, { default: () => 0 as Pence }),
  /**
   * `charged`, `not_billed` (below the minimum), `no_door_code` (no door code was ever ready,
   * nothing charged) or `waived` (by staff).
   */
  basis: Schema.Literal("charged", "not_billed", "no_door_code", "waived")
}) {}

/** Of a receipt's amount, what was charged at the end beyond what the hold's capture took. */
export const chargedAtEndPence = (r: Receipt): Pence => pence(Math.max(0, r.amountPence - r.capturedPence))

/** To the customer: we could not make a door code; nothing is charged. */
export class ProvisioningFailedNotice extends Schema.TaggedClass<ProvisioningFailedNotice>()(
  "ProvisioningFailedNotice",
  {
    to: Schema.String,
    sessionId: SessionId,
    podName: Schema.String
  }
) {}

/**
 * To staff: a charge failed, needs the customer's authentication, or its outcome is unknown;
 * or the provider reports a payment the session did not ask for (`unexpected_payment`: another
 * PaymentIntent, or another amount), which did not mark it paid.
 */
export class PaymentProblem extends Schema.TaggedClass<PaymentProblem>()("PaymentProblem", {
  sessionId: SessionId,
  customerEmail: Schema.String,
  /** What the session was charged (its quote). */
  amountPence: Pence,
  problem: Schema.Literal("declined", "needs_authentication", "unknown", "unexpected_payment"),
  detail: Schema.String,
  /** The PaymentIntent the problem is about, when it is not the session's own charge. */
  paymentIntentId: Schema.optional(Schema.String)
}) {}

/**
 * To staff: something needs a person (provisioning failed for good, a session is overdue,
 * work was parked, a door code is still on the lock of a pod it blocks: `code_not_removed`).
 */
export class StaffAlert extends Schema.TaggedClass<StaffAlert>()("StaffAlert", {
  topic: Schema.Literal(
    "provisioning_failed",
    "overdue",
    "work_parked",
    "code_not_removed",
    "unpaid_after_collection",
    "reconciliation",
    "refund_failed"
  ),
  sessionId: SessionId,
  podId: Schema.String,
  detail: Schema.String
}) {}

/**
 * To the customer: a charge needs them (authentication, or a declined card), with a signed link
 * to the page where they pay it. `attempt` is 0 for the end's own charge, n after the n-th
 * dunning attempt, so each failure sends one email.
 */
export class PaymentRequest extends Schema.TaggedClass<PaymentRequest>()("PaymentRequest", {
  to: Schema.String,
  sessionId: SessionId,
  podName: Schema.String,
  amountPence: Pence,
  reason: Schema.Literal("needs_authentication", "declined"),
  attempt: Schema.Int.pipe(Schema.nonNegative()),
  /** The pay page, signed, valid until `linkExpiresAt`. */
  link: Schema.String,
  linkExpiresAt: Schema.Date
}) {}

/** To the customer: money was refunded. `key` is the refund's key, one email per refund. */
export class RefundNotice extends Schema.TaggedClass<RefundNotice>()("RefundNotice", {
  to: Schema.String,
  sessionId: SessionId,
  podName: Schema.String,
  key: Schema.String,
  amountPence: Pence,
  /** Everything refunded on the session so far, this refund included. */
  totalRefundedPence: Pence,
  reason: Schema.String
}) {}

export const Message = Schema.Union(
  AccessReady,
  Receipt,
  ProvisioningFailedNotice,
  PaymentProblem,
  StaffAlert,
  PaymentRequest,
  RefundNotice
)
export type Message = typeof Message.Type

/**
 * The message's idempotency key: one email of each kind per session (and per problem, and per
 * PaymentIntent for a payment the session did not ask for).
 */
export const messageKey = (m: Message): string => {
  switch (m._tag) {
    case "PaymentProblem":
      return `${m._tag}:${m.sessionId}:${m.problem}${m.paymentIntentId === undefined ? "" : `:${m.paymentIntentId}`}`
    case "StaffAlert":
      return `${m._tag}:${m.sessionId}:${m.topic}`
    case "PaymentRequest":
      return `${m._tag}:${m.sessionId}:${m.reason}:${m.attempt}`
    case "RefundNotice":
      return `${m._tag}:${m.sessionId}:${m.key}`
    default:
      return `${m._tag}:${m.sessionId}`
  }
}

/** Whether the message goes to staff (`STAFF_EMAILS`) rather than a customer. */
export const isForStaff = (m: Message): boolean => m._tag === "PaymentProblem" || m._tag === "StaffAlert"
