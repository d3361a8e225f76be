/**
 * Why a staff action is refused: each error says what blocks it and, where staff can act,
 * what to do.
 */
import { Schema } from "effect"
import { formatPounds, pence } from "../tariff/Money.js"

/** Live sessions hold the pod, so the change would leave them inconsistent. */
export class PodHeld extends Schema.TaggedError<PodHeld>()("PodHeld", {
  podId: Schema.String,
  sessionIds: Schema.Array(Schema.String),
  action: Schema.String
}) {
  override get message() {
    return `cannot ${this.action} pod ${this.podId}: live session ${this.sessionIds.join(", ")} holds it`
  }
}

/**
 * A pod kept in use because a previous session's door code is not confirmed gone from its
 * lock: the previous customer could still open the door. Only a forced release frees it.
 */
export class PodBlockedByCode extends Schema.TaggedError<PodBlockedByCode>()("PodBlockedByCode", {
  podId: Schema.String,
  sessionId: Schema.String,
  since: Schema.Date,
  action: Schema.optionalWith(Schema.String, { default: () => "release" })
}) {
  override get message() {
    return `cannot ${this.action} pod ${this.podId}: session ${this.sessionId}'s door code is not confirmed removed from the lock (since ${this.since.toISOString()}); the pod frees itself once the lock confirms. To free it now, remove the code from the lock by hand, then: qwip pods release ${this.podId} --force --reason "door code removed by hand"`
  }
}

/** The staff request is incomplete or contradicts itself (e.g. forcing without a reason). */
export class InvalidStaffRequest extends Schema.TaggedError<InvalidStaffRequest>()("InvalidStaffRequest", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/** The session is not in a state the retry applies to. */
export class NothingToRetry extends Schema.TaggedError<NothingToRetry>()("NothingToRetry", {
  sessionId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `nothing to retry for session ${this.sessionId}: ${this.reason}`
  }
}

/** A charge waits for the customer's authentication: charging again could charge twice. */
export class PaymentNeedsCustomer extends Schema.TaggedError<PaymentNeedsCustomer>()("PaymentNeedsCustomer", {
  sessionId: Schema.String,
  paymentIntentId: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId}'s charge ${this.paymentIntentId} is waiting for the customer to authenticate; charging again could charge twice: cancel that payment at the provider first`
  }
}

/** The provider has not finished the session's charge yet. */
export class PaymentStillProcessing extends Schema.TaggedError<PaymentStillProcessing>()("PaymentStillProcessing", {
  sessionId: Schema.String,
  paymentIntentId: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId}'s charge ${this.paymentIntentId} is still processing at the provider; try again in a few minutes`
  }
}

/** A static code list that cannot be used. */
export class InvalidCodeList extends Schema.TaggedError<InvalidCodeList>()("InvalidCodeList", {
  reason: Schema.String
}) {
  override get message() {
    return `invalid code list: ${this.reason}`
  }
}

/** The session has nothing a refund could give back (not paid, or all of it refunded already). */
export class NothingToRefund extends Schema.TaggedError<NothingToRefund>()("NothingToRefund", {
  sessionId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `nothing to refund for session ${this.sessionId}: ${this.reason}`
  }
}

/** A refund of more than the session was paid, less what is already refunded. */
export class RefundTooLarge extends Schema.TaggedError<RefundTooLarge>()("RefundTooLarge", {
  sessionId: Schema.String,
  requestedPence: Schema.Int,
  refundablePence: Schema.Int
}) {
  override get message() {
    const pounds = (p: number) => `£${formatPounds(pence(p))}`
    return `cannot refund ${pounds(this.requestedPence)} for session ${this.sessionId}: at most ${pounds(this.refundablePence)} is left to refund (paid, less what is already refunded)`
  }
}
