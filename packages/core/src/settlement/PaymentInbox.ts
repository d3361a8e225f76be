/**
 * Taking in one payment-provider event: stored once by its id, read, applied through
 * `handlePaymentEvent` (idempotent), then marked processed, with the reason kept when it
 * changed nothing, or failed. A duplicate of a processed event changes nothing. Every result is
 * acknowledged except a failure, which the provider should retry. Payloads are never logged.
 */
import { Cause, Effect, Metric, Option, Schema } from "effect"
import { paymentEvents, snake } from "../Metrics.js"
import { PaymentEventInbox, type ProviderEvent } from "../ports/PaymentEventInbox.js"
import { handlePaymentEvent, type PaymentEventResult } from "./PaymentEvents.js"

/** What taking the event in did; all of these are acknowledged. */
export type PaymentEventReceipt =
  | { readonly _tag: "AlreadyProcessed" }
  /** Stored, but of a kind Qwip does not act on. */
  | { readonly _tag: "NotActedOn" }
  | PaymentEventResult

/** Handling the event failed; it is marked failed and should be delivered again. */
export class PaymentEventNotProcessed extends Schema.TaggedError<PaymentEventNotProcessed>()(
  "PaymentEventNotProcessed",
  { eventId: Schema.String, reason: Schema.String }
) {
  override get message() {
    return `payment event ${this.eventId} could not be processed now: ${this.reason}`
  }
}

const alreadyProcessed: PaymentEventReceipt = { _tag: "AlreadyProcessed" }
const notActedOn: PaymentEventReceipt = { _tag: "NotActedOn" }

/** Each event counted once, by what taking it in did (`failed` when the provider should retry). */
const countResult = <E, R>(self: Effect.Effect<PaymentEventReceipt, E, R>) =>
  Effect.tapBoth(self, {
    onSuccess: (receipt) => Metric.increment(Metric.tagged(paymentEvents, "result", snake(receipt._tag))),
    onFailure: () => Metric.increment(Metric.tagged(paymentEvents, "result", "failed"))
  })

export const receivePaymentEvent = Effect.fn("PaymentInbox.receivePaymentEvent")(function* (event: ProviderEvent) {
  const inbox = yield* PaymentEventInbox
  const log = Effect.annotateLogs({ eventId: event.id, eventType: event.type })

  const status = yield* inbox.receive(event)
  if (status === "processed") {
    yield* Effect.logInfo("payment event already processed").pipe(log)
    return alreadyProcessed
  }
  const decoded = inbox.decode(event)
  if (Option.isNone(decoded)) {
    yield* inbox.markProcessed(event.id)
    yield* Effect.logDebug("payment event stored, not acted on").pipe(log)
    return notActedOn
  }
  // Any failure, defects included, is kept on the event's row and left for the provider to retry.
  const outcome = yield* handlePaymentEvent(decoded.value).pipe(Effect.sandbox, Effect.either)
  if (outcome._tag === "Left") {
    const cause = Cause.squash(outcome.left)
    const reason = cause instanceof Error ? cause.message : String(cause)
    yield* inbox.markFailed(event.id, reason)
    yield* Effect.logError("payment event failed; the provider will retry", outcome.left).pipe(log)
    return yield* new PaymentEventNotProcessed({ eventId: event.id, reason })
  }
  const result = outcome.right
  switch (result._tag) {
    case "Applied":
      yield* inbox.markProcessed(event.id)
      yield* Effect.logInfo("payment event applied").pipe(Effect.annotateLogs({ sessionId: result.sessionId }), log)
      break
    case "Ignored":
      yield* inbox.markProcessed(event.id, result.reason)
      yield* Effect.logInfo("payment event ignored").pipe(Effect.annotateLogs({ reason: result.reason }), log)
      break
    case "Unexpected":
      // Acknowledged: the provider's retries would change nothing; staff were told.
      yield* inbox.markProcessed(event.id, result.reason)
      yield* Effect.logWarning("payment event refused: not the session's charge").pipe(
        Effect.annotateLogs({ sessionId: result.sessionId, reason: result.reason }),
        log
      )
  }
  return result as PaymentEventReceipt
}, countResult)
