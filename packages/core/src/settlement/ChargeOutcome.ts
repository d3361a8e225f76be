/**
 * A session's charge and what its answer records: the outcome a definite answer means, and
 * the emails and follow-up work each newly recorded outcome calls for.
 */
import { Duration, Effect, Option } from "effect"
import { sendMail, settleChargeWork, type WorkOrder } from "../background/Work.js"
import { PaymentProblem, Receipt } from "../Messages.js"
import { boundedPayments } from "../OutsideCalls.js"
import { chargeRetry, defaultPolicy, Policy } from "../Policy.js"
import { type ChargeResult, chargeKeyFor } from "../ports/Payments.js"
import {
  NeedsAuthentication,
  type Outcome,
  Paid,
  PaymentFailed,
  PaymentUnknown,
  type Session
} from "../session/Session.js"
import { billableStartOf } from "../tariff/Billing.js"
import { pence } from "../tariff/Money.js"
import { capturedPence, remainderPence } from "./Collection.js"

/**
 * What a session owes: its quote once its end is fixed, nothing when staff waived it or it is
 * not billed (below the minimum, no door code), nothing before its end.
 */
export const owedPence = (session: Session): number => {
  const state = session.state
  switch (state._tag) {
    case "Ending":
      return Option.isSome(state.waiver) || state.billedFrom._tag === "NoCode" ? 0 : state.quote.chargePence
    case "Ended":
      return state.outcome._tag === "Waived" || state.outcome._tag === "NotBilled" ? 0 : state.quote.chargePence
    default:
      return 0
  }
}

/** What is left to charge of what the session owes once the hold's capture is counted. */
export const stillOwedPence = (session: Session): number => remainderPence(owedPence(session), session.collection)

/**
 * The outcome a definite answer to a charge records. `capturedPence` (from the card check
 * hold) is added to what a success charged: `Paid` is everything paid for the session.
 */
/** A payment received for the session: `Paid` is what it received plus what the hold's capture took. */
export const paidWithCapture = (paymentIntentId: string, receivedPence: number, captured: number): Paid =>
  new Paid({ paymentIntentId, amountPence: pence(receivedPence + captured) })

export const outcomeOf = (result: ChargeResult, captured = 0): Outcome => {
  switch (result._tag) {
    case "Succeeded":
      return paidWithCapture(result.paymentIntentId, result.amountPence, captured)
    case "Declined":
      return new PaymentFailed({
        paymentIntentId: result.paymentIntentId,
        declineCode: result.code,
        message: result.message
      })
    case "NeedsAuthentication":
      return new NeedsAuthentication({ paymentIntentId: result.paymentIntentId })
  }
}

/**
 * Charges `amountPence` (what is owed less the hold's capture), same key every time; an
 * unanswered charge is `PaymentUnknown`. A success records the total paid, capture included.
 */
export const chargeFixedPrice = (session: Session, amountPence: number) =>
  Effect.gen(function* () {
    const payments = yield* boundedPayments
    const policy = yield* Policy
    return yield* payments
      .chargeSession({
        sessionId: session.id,
        amountPence: pence(amountPence),
        customerId: session.card.customerId,
        paymentMethodId: session.card.paymentMethodId,
        receiptEmail: session.card.email,
        idempotencyKey: chargeKeyFor(session.id)
      })
      .pipe(
        Effect.retry({ schedule: chargeRetry(policy) }),
        Effect.map((result) => outcomeOf(result, capturedPence(session.collection))),
        Effect.catchTag("PaymentsUnavailable", (e) => Effect.succeed<Outcome>(new PaymentUnknown({ detail: e.reason })))
      )
  })

/** The emails and follow-up work a newly recorded outcome calls for. */
export const followUpsFor = (
  session: Session,
  podName: string,
  outcome: Outcome,
  at: Date,
  settleDelay: Duration.Duration = defaultPolicy.settleDelay
): ReadonlyArray<WorkOrder> => {
  if (session.state._tag !== "Ending" && session.state._tag !== "Ended") return []
  const { quote, endedAt } = session.state
  const receipt = (basis: Receipt["basis"], amountPence: number) =>
    sendMail(
      new Receipt({
        to: session.card.email,
        sessionId: session.id,
        podName,
        startedAt: session.startedAt,
        billedFrom: billableStartOf(session),
        endedAt,
        billableSeconds: quote.billableSeconds,
        rate: Option.some(session.rate),
        amountPence: pence(amountPence),
        capturedPence: capturedPence(session.collection),
        basis
      }),
      at
    )
  const problem = (kind: PaymentProblem["problem"], detail: string) =>
    sendMail(
      new PaymentProblem({
        sessionId: session.id,
        customerEmail: session.card.email,
        amountPence: pence(stillOwedPence(session)),
        problem: kind,
        detail
      }),
      at
    )
  switch (outcome._tag) {
    case "Paid":
      return [receipt("charged", outcome.amountPence)]
    case "NotBilled":
      return [receipt(outcome.reason === "no_door_code" ? "no_door_code" : "not_billed", 0)]
    case "Waived":
      return [receipt("waived", 0)]
    case "PaymentFailed":
      return [problem("declined", `${outcome.declineCode}: ${outcome.message}`)]
    case "NeedsAuthentication":
      return [problem("needs_authentication", `PaymentIntent ${outcome.paymentIntentId} needs the customer`)]
    case "PaymentUnknown":
      return [settleChargeWork(session.id, new Date(at.getTime() + Duration.toMillis(settleDelay)))]
  }
}
