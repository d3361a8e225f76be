/**
 * A session's charge: at most one per session, derived from its recorded outcome. Stores
 * keep it as a row (unique by session) so staff can list payments, and a failed charge also
 * as a row of today's `invalid_payment_attempts`; both are computed here and written by the
 * store as given, in the same step as the session change that produced them.
 */
import { Option, Schema } from "effect"
import { SessionId } from "../Ids.js"
import { chargeKeyFor } from "../ports/Payments.js"
import type { Session } from "../session/Session.js"
import { Pence, pence } from "../tariff/Money.js"
import { refundedPence } from "./Collection.js"

export const ChargeStatus = Schema.Literal("succeeded", "failed", "requires_action", "unknown", "not_billed", "waived")
export type ChargeStatus = typeof ChargeStatus.Type

export class Charge extends Schema.Class<Charge>("Charge")({
  sessionId: SessionId,
  amountPence: Pence,
  idempotencyKey: Schema.String,
  paymentIntentId: Schema.OptionFromNullOr(Schema.String),
  status: ChargeStatus,
  /** Why it was not paid, for staff: the decline, what is unknown, or the waiver. */
  detail: Schema.OptionFromNullOr(Schema.String),
  /** Refunded so far (see `Collection.refundedPence`). */
  refundedPence: Schema.optionalWith(Pence, { default: () => pence(0) }),
  /** Where dunning stands (`Collection.Dunning`), none when it never started. */
  collection: Schema.optionalWith(
    Schema.OptionFromNullOr(Schema.Literal("scheduled", "stopped", "exhausted", "paid")),
    {
      default: () => Option.none()
    }
  ),
  /** When dunning next tries the card. */
  nextAttemptAt: Schema.optionalWith(Schema.OptionFromNullOr(Schema.Date), { default: () => Option.none() })
}) {}

/** The charge an ended session records; none while it is still live or if provisioning failed. */
export const chargeOf = (session: Session): Option.Option<Charge> => {
  if (session.state._tag !== "Ended") return Option.none()
  const { outcome, quote } = session.state
  const make = (
    status: ChargeStatus,
    amount: number,
    paymentIntentId: Option.Option<string>,
    detail: Option.Option<string> = Option.none()
  ) =>
    Option.some(
      new Charge({
        sessionId: session.id,
        amountPence: pence(amount),
        idempotencyKey: chargeKeyFor(session.id),
        paymentIntentId,
        status,
        detail,
        refundedPence: refundedPence(session.collection),
        collection: Option.map(session.collection.dunning, (d) => d.status),
        nextAttemptAt: Option.flatMap(session.collection.dunning, (d) => d.nextAttemptAt)
      })
    )
  switch (outcome._tag) {
    case "Paid":
      return make("succeeded", outcome.amountPence, Option.some(outcome.paymentIntentId))
    case "PaymentFailed":
      return make(
        "failed",
        quote.chargePence,
        outcome.paymentIntentId,
        Option.some(`${outcome.declineCode}: ${outcome.message}`)
      )
    case "NeedsAuthentication":
      return make("requires_action", quote.chargePence, Option.some(outcome.paymentIntentId))
    case "PaymentUnknown":
      return make("unknown", quote.chargePence, Option.none(), Option.some(outcome.detail))
    case "NotBilled":
      return make("not_billed", 0, Option.none())
    case "Waived":
      return make("waived", 0, Option.none(), Option.some(`${outcome.reason} (${outcome.by})`))
  }
}

/** A row of today's `invalid_payment_attempts`: a charge the previous service's readers see as failed. */
export class FailedPayment extends Schema.Class<FailedPayment>("FailedPayment")({
  sessionId: SessionId,
  /** The session's price in pence (today's `session_cost`). */
  sessionCost: Pence,
  paymentIntentId: Schema.OptionFromNullOr(Schema.String),
  declineCode: Schema.String
}) {}

/**
 * The failed payment a change records: one when a session's outcome becomes `PaymentFailed`,
 * none when it already was (a decline settled again is not a new attempt).
 */
export const failedPaymentOf = (before: Session, after: Session): Option.Option<FailedPayment> => {
  const failed = (s: Session) => s.state._tag === "Ended" && s.state.outcome._tag === "PaymentFailed"
  if (after.state._tag !== "Ended" || after.state.outcome._tag !== "PaymentFailed" || failed(before)) {
    return Option.none()
  }
  return Option.some(
    new FailedPayment({
      sessionId: after.id,
      sessionCost: pence(after.state.quote.chargePence),
      paymentIntentId: after.state.outcome.paymentIntentId,
      declineCode: after.state.outcome.declineCode
    })
  )
}

/** Charge statuses staff must look at: failed, waiting for the customer, or unknown. */
export const unsettledChargeStatuses: ReadonlyArray<ChargeStatus> = ["failed", "requires_action", "unknown"]
