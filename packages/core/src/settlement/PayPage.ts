/**
 * The pay page: where a customer pays, on-session, what a charge could not collect
 * off-session (it needed their authentication, or the card was declined). Reached by the
 * signed link of a `PaymentRequest` email; the link only ever pays what its session owes.
 */
import { Effect, Option } from "effect"
import { NothingToPay, PayLinkInvalid } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { boundedPayments } from "../OutsideCalls.js"
import { PayLinks } from "../ports/PayLinks.js"
import { chargeKeyFor, type PaymentForCustomer } from "../ports/Payments.js"
import type { Session } from "../session/Session.js"
import { loadSessionWithPod } from "../session/SessionSteps.js"
import { pence } from "../tariff/Money.js"
import { paidWithCapture, stillOwedPence } from "./ChargeOutcome.js"
import { capturedPence } from "./Collection.js"
import { recordSettlement } from "./Settlement.js"

/** The key of the pay page's own PaymentIntent: a new one after each further decline. */
export const linkKeyFor = (sessionId: SessionId, n: number): string => `${chargeKeyFor(sessionId)}-link-${n}`

export interface PayPageView {
  readonly sessionId: SessionId
  readonly podName: string
  /** What the customer pays now: what is owed less the hold's capture. */
  readonly amountPence: number
  /** Why: the bank wants them to authenticate, or the card was declined. */
  readonly reason: "needs_authentication" | "declined"
  readonly payment: PaymentForCustomer
}

export type PayPageResult =
  | { readonly _tag: "Paid"; readonly session: Session }
  | { readonly _tag: "NotPaid"; readonly status: string }

/** The session a link names, with its pod: `PayLinkInvalid` for a forged or expired link. */
const sessionOfLink = (token: string) =>
  Effect.gen(function* () {
    const links = yield* PayLinks
    const sessionId = yield* links.sessionOf(token)
    if (Option.isNone(sessionId)) {
      return yield* new PayLinkInvalid({ reason: "the link is not genuine or has expired" })
    }
    return yield* loadSessionWithPod(sessionId.value).pipe(
      Effect.catchTag("SessionNotFound", () =>
        Effect.fail(new PayLinkInvalid({ reason: `session ${sessionId.value} does not exist` }))
      )
    )
  })

/** What the session still owes the pay page, or why nothing. */
const owedOnPage = (session: Session): Effect.Effect<number, NothingToPay> => {
  const state = session.state
  if (state._tag !== "Ended") {
    return Effect.fail(new NothingToPay({ sessionId: session.id, reason: `the session is ${state._tag}` }))
  }
  switch (state.outcome._tag) {
    case "Paid":
      return Effect.fail(new NothingToPay({ sessionId: session.id, reason: "it is paid" }))
    case "Waived":
    case "NotBilled":
      return Effect.fail(new NothingToPay({ sessionId: session.id, reason: "nothing was charged for it" }))
    case "PaymentUnknown":
      return Effect.fail(
        new NothingToPay({ sessionId: session.id, reason: "its charge is still being settled; try again shortly" })
      )
    case "NeedsAuthentication":
    case "PaymentFailed": {
      const owed = stillOwedPence(session)
      return owed > 0
        ? Effect.succeed(owed)
        : Effect.fail(new NothingToPay({ sessionId: session.id, reason: "nothing is left to pay" }))
    }
  }
}

/**
 * Opens the pay page: what the session owes and the PaymentIntent to complete. One that needs
 * the customer's authentication is completed as it is (the same charge, no second one);
 * otherwise a new one for what is owed, keyed by how many dunning attempts came before, so a
 * reload finds the same one.
 */
export const openPayPage = Effect.fn("PayPage.openPayPage")(function* (token: string) {
  const { session, pod } = yield* sessionOfLink(token)
  const owed = yield* owedOnPage(session)
  const payments = yield* boundedPayments
  const outcome = session.state._tag === "Ended" ? session.state.outcome : undefined
  const needsAuthentication =
    outcome?._tag === "NeedsAuthentication" ? Option.some(outcome.paymentIntentId) : Option.none()
  const attempts = Option.match(session.collection.dunning, { onNone: () => 0, onSome: (d) => d.attempts.length })
  const payment = yield* payments.paymentForCustomer({
    sessionId: session.id,
    paymentIntentId: needsAuthentication,
    amountPence: pence(owed),
    customerId: session.card.customerId,
    idempotencyKey: linkKeyFor(session.id, attempts)
  })
  return {
    sessionId: session.id,
    podName: pod.name,
    amountPence: owed,
    reason: Option.isSome(needsAuthentication) ? "needs_authentication" : "declined",
    payment
  } satisfies PayPageView
})

/**
 * The page's read-back once the customer confirmed: a PaymentIntent of this session that
 * succeeded is recorded paid (the receipt follows, dunning stops). Anything else is reported
 * as not paid yet; a PaymentIntent of another session, or a hold, is refused.
 */
export const confirmPayPage = Effect.fn("PayPage.confirmPayPage")(function* (token: string, paymentIntentId: string) {
  const { session } = yield* sessionOfLink(token)
  const payments = yield* boundedPayments
  const read = yield* payments.readPayment(paymentIntentId)
  if (Option.isNone(read) || read.value.sessionId !== session.id || read.value.purpose !== "charge") {
    return yield* new PayLinkInvalid({ reason: `payment ${paymentIntentId} is not a charge for this session` })
  }
  const state = session.state
  if (state._tag === "Ended" && state.outcome._tag === "Paid") {
    return { _tag: "Paid", session } satisfies PayPageResult as PayPageResult
  }
  if (read.value.status !== "succeeded") {
    return { _tag: "NotPaid", status: read.value.status } satisfies PayPageResult as PayPageResult
  }
  const paid = paidWithCapture(paymentIntentId, read.value.receivedPence, capturedPence(session.collection))
  const recorded = yield* recordSettlement(session.id, paid)
  return { _tag: "Paid", session: recorded } satisfies PayPageResult as PayPageResult
})
