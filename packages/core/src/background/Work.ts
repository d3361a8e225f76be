/**
 * Background work kept in the store, never only in memory: a worker claims due items with
 * a lease, so a crash or restart leaves them to be claimed again.
 */
import { Option, Schema } from "effect"
import { SessionId } from "../Ids.js"
import { Message, messageKey } from "../Messages.js"

/**
 * `mail-access-ready` carries no payload: the email is built from the session when it is
 * sent, so a door code never sits in the work queue.
 */
export const WorkKind = Schema.Literal(
  "provision-access",
  "mail-access-ready",
  "revoke-access",
  "close-session",
  "settle-charge",
  "send-mail",
  "release-hold",
  "collect-payment",
  "notify-staff",
  "finish-refund"
)
export type WorkKind = typeof WorkKind.Type

/**
 * Work to be done at or after `runAt`. `key` is unique for ever (finished work is kept as
 * history), so enqueuing the same key twice does the work once.
 */
export class WorkOrder extends Schema.Class<WorkOrder>("WorkOrder")({
  key: Schema.String,
  kind: WorkKind,
  sessionId: SessionId,
  runAt: Schema.Date,
  message: Schema.OptionFromNullOr(Message)
}) {}

/** Work a worker has claimed, with its lease. */
export class WorkItem extends Schema.Class<WorkItem>("WorkItem")({
  ...WorkOrder.fields,
  id: Schema.String,
  /** Claims so far, this one included. */
  attempts: Schema.Int,
  leasedBy: Schema.String,
  leaseUntil: Schema.Date,
  lastError: Schema.OptionFromNullOr(Schema.String)
}) {}

const order = (kind: Exclude<WorkKind, "send-mail">, sessionId: SessionId, runAt: Date, suffix = ""): WorkOrder =>
  new WorkOrder({ key: `${kind}:${sessionId}${suffix}`, kind, sessionId, runAt, message: Option.none() })

export const provisionAccessWork = (sessionId: SessionId, runAt: Date) => order("provision-access", sessionId, runAt)
export const mailAccessReadyWork = (sessionId: SessionId, runAt: Date) => order("mail-access-ready", sessionId, runAt)
export const revokeAccessWork = (sessionId: SessionId, runAt: Date) => order("revoke-access", sessionId, runAt)
/** Finishes an end that was interrupted (crash between fixing the price and closing). */
export const closeSessionWork = (sessionId: SessionId, runAt: Date) => order("close-session", sessionId, runAt)
export const settleChargeWork = (sessionId: SessionId, runAt: Date) => order("settle-charge", sessionId, runAt)
/** Cancels the session's card check hold if nothing was captured from it (see `CardHolds`). */
export const releaseHoldWork = (sessionId: SessionId, runAt: Date) => order("release-hold", sessionId, runAt)
/**
 * Sends the session's refunds still `pending` (see `Refunds`): queued with each refund's record,
 * so one whose request never went (a crash) is sent by the worker, not only by a repeat.
 * `recorded` (how many refunds the session had recorded) keeps each refund's key its own.
 */
export const finishRefundWork = (sessionId: SessionId, recorded: number, runAt: Date) =>
  order("finish-refund", sessionId, runAt, `:${recorded}`)
/** The `attempt`-th scheduled retry of a declined charge (see `Dunning`). */
export const collectPaymentWork = (sessionId: SessionId, attempt: number, runAt: Date) =>
  order("collect-payment", sessionId, runAt, `:${attempt}`)
export const sendMail = (message: Message, runAt: Date) =>
  new WorkOrder({
    key: `send-mail:${messageKey(message)}`,
    kind: "send-mail",
    sessionId: message.sessionId,
    runAt,
    message: Option.some(message)
  })

/** Tells staff's channel of a staff message (`StaffChannel`), once per message key. */
export const notifyStaffWork = (message: Message, runAt: Date) =>
  new WorkOrder({
    key: `notify-staff:${messageKey(message)}`,
    kind: "notify-staff",
    sessionId: message.sessionId,
    runAt,
    message: Option.some(message)
  })
