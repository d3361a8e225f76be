/**
 * A session's charge: at most one per session, derived from its recorded outcome. Stores
 * keep it as a row (unique by session) so staff can list payments.
 */
import { Option, Schema } from "effect"
import { SessionId } from "../Ids.js"
import { chargeKeyFor } from "../ports/Payments.js"
import type { Session } from "../session/Session.js"
import { Pence, pence } from "../tariff/Money.js"

export const ChargeStatus = Schema.Literal("succeeded", "failed", "requires_action", "unknown", "not_billed", "waived")
export type ChargeStatus = typeof ChargeStatus.Type

export class Charge extends Schema.Class<Charge>("Charge")({
  sessionId: SessionId,
  amountPence: Pence,
  idempotencyKey: Schema.String,
  paymentIntentId: Schema.OptionFromNullOr(Schema.String),
  status: ChargeStatus
}) {}

/** The charge an ended session records; none while it is still live or if provisioning failed. */
export const chargeOf = (session: Session): Option.Option<Charge> => {
  if (session.state._tag !== "Ended") return Option.none()
  const { outcome, quote } = session.state
  const make = (status: ChargeStatus, amount: number, paymentIntentId: Option.Option<string>) =>
    Option.some(
      new Charge({
        sessionId: session.id,
        amountPence: pence(amount),
        idempotencyKey: chargeKeyFor(session.id),
        paymentIntentId,
        status
      })
    )
  switch (outcome._tag) {
    case "Paid":
      return make("succeeded", outcome.amountPence, Option.some(outcome.paymentIntentId))
    case "PaymentFailed":
      return make("failed", quote.chargePence, outcome.paymentIntentId)
    case "NeedsAuthentication":
      return make("requires_action", quote.chargePence, Option.some(outcome.paymentIntentId))
    case "PaymentUnknown":
      return make("unknown", quote.chargePence, Option.none())
    case "NotBilled":
      return make("not_billed", 0, Option.none())
    case "Waived":
      return make("waived", 0, Option.none())
  }
}
