/**
 * Staff alerts where staff look: each staff message (`isForStaff`: a `PaymentProblem` or a
 * `StaffAlert`) also goes to the staff channel when the platform has one, as background work
 * of its own (`notify-staff:<messageKey>`), so it is retried like mail and sent once per alert.
 * The notice names the session and the `qwip` command that acts on it.
 */
import { Effect, Option } from "effect"
import { notifyStaffWork, sendMail, type WorkItem } from "../background/Work.js"
import { WorkNotDone } from "../Errors.js"
import { isForStaff, type Message, messageKey, type PaymentProblem, StaffAlert } from "../Messages.js"
import { withDeadline } from "../OutsideCalls.js"
import { Policy } from "../Policy.js"
import { SessionStore } from "../ports/SessionStore.js"
import { StaffChannel, StaffNotice, StaffNoticeFailed } from "../ports/StaffChannel.js"
import { now } from "../session/SessionSteps.js"
import { formatPounds } from "../tariff/Money.js"

/** The command that acts on a payment problem. */
const paymentCommand = (m: PaymentProblem): string => {
  switch (m.problem) {
    // A declined card may pass on another try (or staff waive it from the session).
    case "declined":
      return `qwip payments retry ${m.sessionId}`
    // The customer must act, or the outcome is still being read back: look before retrying.
    case "needs_authentication":
    case "unknown":
    case "unexpected_payment":
      return `qwip sessions show ${m.sessionId}`
  }
}

/** The command that acts on a staff alert. */
const alertCommand = (m: StaffAlert): string => {
  switch (m.topic) {
    case "provisioning_failed":
      return `qwip sessions retry-provisioning ${m.sessionId}`
    // Ending an overdue session stays a staff decision; this is the command that makes it.
    case "overdue":
      return `qwip sessions end ${m.sessionId}`
    case "unpaid_after_collection":
      return `qwip payments retry ${m.sessionId}`
    case "code_not_removed":
      return `qwip codes list --pod ${m.podId}`
    case "work_parked":
    case "reconciliation":
    case "refund_failed":
      return `qwip sessions show ${m.sessionId}`
  }
}

const paymentSummary: Record<PaymentProblem["problem"], string> = {
  declined: "Charge declined",
  needs_authentication: "Charge needs the customer's authentication",
  unknown: "Charge outcome unknown",
  unexpected_payment: "Payment the session did not ask for"
}

const alertSummary: Record<StaffAlert["topic"], string> = {
  provisioning_failed: "No door code could be made",
  overdue: "Session overdue",
  work_parked: "Background work parked",
  code_not_removed: "Door code still on the lock",
  unpaid_after_collection: "Still unpaid after collection",
  reconciliation: "Payments do not reconcile",
  refund_failed: "A refund was refused by the payment provider"
}

/** The notice staff read for a staff message; none for a customer's. */
export const staffNoticeOf = (message: Message): Option.Option<StaffNotice> => {
  switch (message._tag) {
    case "PaymentProblem":
      return Option.some(
        new StaffNotice({
          key: messageKey(message),
          summary: `${paymentSummary[message.problem]}: session ${message.sessionId} (${message.customerEmail}, £${formatPounds(message.amountPence)}): ${message.detail}`,
          command: paymentCommand(message)
        })
      )
    case "StaffAlert":
      return Option.some(
        new StaffNotice({
          key: messageKey(message),
          summary: `${alertSummary[message.topic]}: session ${message.sessionId} on ${message.podId}: ${message.detail}`,
          command: alertCommand(message)
        })
      )
    default:
      return Option.none()
  }
}

/**
 * Queues the staff channel's notice of a staff message, when the platform has a channel. Run
 * where the staff email is sent, so every staff email has its notice; the key makes a repeat
 * (the email retried) queue nothing new.
 */
export const queueStaffNotice = (message: Message) =>
  Effect.gen(function* () {
    if (!isForStaff(message)) return
    const channel = yield* Effect.serviceOption(StaffChannel)
    if (Option.isNone(channel)) return
    const store = yield* SessionStore
    yield* store.enqueue([notifyStaffWork(message, yield* now)])
  }).pipe(Effect.withSpan("StaffNotices.queueStaffNotice"))

/**
 * `notify-staff` work: tells the channel, bounded by the policy's deadline. A refusal for good
 * (the webhook gone, the notice rejected) is parked at once and staff hear of it by email;
 * anything else is tried again with the worker's backoff.
 */
export const notifyStaff = (item: WorkItem) =>
  Effect.gen(function* () {
    if (Option.isNone(item.message)) return yield* new WorkNotDone({ reason: "notify-staff work without a message" })
    const notice = staffNoticeOf(item.message.value)
    if (Option.isNone(notice)) return yield* new WorkNotDone({ reason: "notify-staff work for a customer's message" })
    const channel = yield* Effect.serviceOption(StaffChannel)
    if (Option.isNone(channel)) {
      // Queued while a channel was set, run after it was removed: the email already went.
      return yield* Effect.logInfo("staff notice dropped: no staff channel is configured").pipe(
        Effect.annotateLogs({ key: notice.value.key })
      )
    }
    const { outsideCallDeadline: deadline } = yield* Policy
    const told = yield* channel.value.tell(notice.value).pipe(
      withDeadline(
        deadline,
        "tellStaff",
        { sessionId: item.sessionId },
        () => new StaffNoticeFailed({ key: notice.value.key, reason: "no answer in time", retryable: true })
      ),
      Effect.either
    )
    if (told._tag === "Right") return
    if (told.left.retryable) return yield* new WorkNotDone({ reason: told.left.message })
    const store = yield* SessionStore
    yield* store.parkWork(item, told.left.message)
    yield* Effect.logWarning("staff notice refused for good; parked").pipe(
      Effect.annotateLogs({ key: notice.value.key, reason: told.left.reason })
    )
    yield* store.enqueue([
      sendMail(
        new StaffAlert({
          topic: "work_parked",
          sessionId: item.sessionId,
          podId: item.message.value._tag === "StaffAlert" ? item.message.value.podId : "(see the session)",
          detail: `notify-staff refused for good: ${told.left.reason}`
        }),
        yield* now
      )
    ])
  }).pipe(Effect.withSpan("StaffNotices.notifyStaff", { attributes: { sessionId: item.sessionId } }))
