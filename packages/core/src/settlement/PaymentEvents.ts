/**
 * What the payment provider tells us later (Stripe webhooks), in the platform's words,
 * and how each event moves a booking or a session's payment outcome.
 *
 * A signed event proves it came from our provider account, not that it is about the charge a
 * session asked for: anything else made on the account (by hand in the dashboard, by another
 * integration) can carry a session id in its metadata. So a charge event moves a session only
 * when `chargeMismatch` finds nothing wrong with it; a payment that does not match is told to
 * staff and leaves the session as it was.
 */
import { Effect, Option, Schema } from "effect"
import { sendMail } from "../background/Work.js"
import { finalizeBooking } from "../booking/Checkout.js"
import { newProvisioningId, PodId, SessionId, SetupIntentId } from "../Ids.js"
import { PaymentProblem } from "../Messages.js"
import { SessionStore } from "../ports/SessionStore.js"
import { NeedsAuthentication, type Outcome, Paid, PaymentFailed, type Session } from "../session/Session.js"
import { now } from "../session/SessionSteps.js"
import { CHARGE_CURRENCY, Pence, pence } from "../tariff/Money.js"
import { paidWithCapture } from "./ChargeOutcome.js"
import { capturedPence, remainderPence } from "./Collection.js"
import { applyRefundEvent } from "./Refunds.js"
import { recordSettlement } from "./Settlement.js"

/** A card set-up succeeded; finalizes the booking if the client never did. */
export class CardSetUpSucceeded extends Schema.TaggedClass<CardSetUpSucceeded>()("CardSetUpSucceeded", {
  setupIntentId: SetupIntentId,
  podId: Schema.OptionFromNullOr(PodId)
}) {}

/** What every charge event says about whose charge it is. */
const chargeFields = {
  /** From the PaymentIntent's metadata: set by us on every charge, but anyone can set it. */
  sessionId: Schema.OptionFromNullOr(SessionId),
  paymentIntentId: Schema.String,
  /** The provider's customer the PaymentIntent is for, if it names one. */
  customerId: Schema.OptionFromNullOr(Schema.String),
  /** From the metadata: `hold` for a card check hold placed at booking, else a charge. */
  purpose: Schema.optionalWith(Schema.Literal("hold", "charge"), { default: () => "charge" as const })
}

export class ChargeSucceeded extends Schema.TaggedClass<ChargeSucceeded>()("ChargeSucceeded", {
  ...chargeFields,
  /** The amount received, in the currency's smallest unit (pence for `gbp`). */
  amountPence: Pence,
  /** As the provider writes it, e.g. `gbp`. */
  currency: Schema.String
}) {}
export class ChargeFailed extends Schema.TaggedClass<ChargeFailed>()("ChargeFailed", {
  ...chargeFields,
  code: Schema.String,
  message: Schema.String
}) {}
export class ChargeNeedsAuthentication extends Schema.TaggedClass<ChargeNeedsAuthentication>()(
  "ChargeNeedsAuthentication",
  chargeFields
) {}

export type ChargeEvent = ChargeSucceeded | ChargeFailed | ChargeNeedsAuthentication

/**
 * Money was refunded on a PaymentIntent (by us or in the provider's dashboard). The event
 * only says which one: its refunds are read back from the provider (`Payments.refundsOf`).
 */
export class ChargeRefunded extends Schema.TaggedClass<ChargeRefunded>()("ChargeRefunded", {
  sessionId: Schema.OptionFromNullOr(SessionId),
  paymentIntentId: Schema.String
}) {}

export const PaymentEvent = Schema.Union(
  CardSetUpSucceeded,
  ChargeSucceeded,
  ChargeFailed,
  ChargeNeedsAuthentication,
  ChargeRefunded
)
export type PaymentEvent = typeof PaymentEvent.Type

/**
 * What handling an event did. Every result is acknowledged, never retried: `Ignored` changed
 * nothing; `Unexpected` is a payment the session did not ask for, told to staff, the session
 * left unchanged.
 */
export type PaymentEventResult =
  | { readonly _tag: "Applied"; readonly sessionId: SessionId }
  | { readonly _tag: "Ignored"; readonly reason: string }
  | { readonly _tag: "Unexpected"; readonly sessionId: SessionId; readonly reason: string }

const ignored = (reason: string): PaymentEventResult => ({ _tag: "Ignored", reason })

/** The PaymentIntent a session recorded for its charge, when its outcome names one. */
const recordedPaymentIntent = (session: Session): Option.Option<string> => {
  if (session.state._tag !== "Ended") return Option.none()
  const outcome = session.state.outcome
  switch (outcome._tag) {
    case "Paid":
    case "NeedsAuthentication":
      return Option.some(outcome.paymentIntentId)
    case "PaymentFailed":
      return outcome.paymentIntentId
    default:
      return Option.none()
  }
}

/**
 * Why a charge event is not about the charge `session` asked for, or `None` when it is.
 *
 * - A session asks for a charge only once its end and price are fixed (`Ending`, `Ended`), and
 *   not when staff waived it or it came to nothing (below the minimum).
 * - The charge is ours when it is the PaymentIntent the session recorded. Until one is recorded
 *   (still ending, or the charge's answer never came), it is ours when it is for the session's
 *   own customer: a new one is made for each booking, so only its session charges it. The same
 *   holds after a decline, since staff retry it under a new key and so a new PaymentIntent,
 *   recorded only when its answer comes back. The session id in the metadata alone proves
 *   nothing (anyone on the account can write it), and an unknown outcome must not adopt a
 *   stranger's PaymentIntent, or the session's own charge would later be refused.
 * - A success must have received exactly what the session charged, in GBP: the quote, less what
 *   the end captured from the card check hold.
 */
export const chargeMismatch = (session: Session, event: ChargeEvent): Option.Option<string> => {
  const state = session.state
  const pi = `PaymentIntent ${event.paymentIntentId}`
  if (state._tag !== "Ending" && state._tag !== "Ended") {
    return Option.some(`${pi}: the session asked for no charge (it is ${state._tag})`)
  }
  const waived = state._tag === "Ending" ? Option.isSome(state.waiver) : state.outcome._tag === "Waived"
  if (waived || state.quote.chargePence === 0) {
    return Option.some(`${pi}: the session asked for no charge (${waived ? "waived" : "below the minimum"})`)
  }
  const recorded = recordedPaymentIntent(session)
  const mayBeNew = Option.isNone(recorded) || (state._tag === "Ended" && state.outcome._tag === "PaymentFailed")
  const ours =
    Option.contains(recorded, event.paymentIntentId) ||
    (mayBeNew && Option.contains(event.customerId, session.card.customerId))
  if (!ours) {
    const customer = Option.getOrElse(event.customerId, () => "no customer")
    return Option.some(
      Option.isSome(recorded)
        ? `${pi} is not the session's charge (${recorded.value})`
        : `${pi} is for ${customer}, not the session's customer ${session.card.customerId}`
    )
  }
  if (event._tag === "ChargeSucceeded") {
    if (event.currency.toLowerCase() !== CHARGE_CURRENCY) {
      return Option.some(`${pi} is in ${event.currency}, not ${CHARGE_CURRENCY}`)
    }
    // With a card check hold, the charge is only what its capture left to pay.
    const expected = remainderPence(state.quote.chargePence, session.collection)
    if (event.amountPence !== expected) {
      return Option.some(`${pi} received ${event.amountPence} pence; the session was charged ${expected} pence`)
    }
  }
  return Option.none()
}

/** Tells staff, once per PaymentIntent, about money the session did not ask for. */
const reportUnexpectedPayment = (session: Session, event: ChargeSucceeded, reason: string) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const at = yield* now
    const quoted =
      session.state._tag === "Ending" || session.state._tag === "Ended" ? session.state.quote.chargePence : 0
    const problem = new PaymentProblem({
      sessionId: session.id,
      customerEmail: session.card.email,
      amountPence: pence(quoted),
      problem: "unexpected_payment",
      detail: reason,
      paymentIntentId: event.paymentIntentId
    })
    yield* store.enqueue([sendMail(problem, at)])
  })

const settleFromEvent = (event: ChargeEvent, outcome: Outcome) =>
  Effect.gen(function* () {
    if (Option.isNone(event.sessionId)) return ignored("no session id in the charge's metadata")
    // A hold's capture is recorded by the end that made it; a hold never settles a session.
    if (event.purpose === "hold") return ignored("a card check hold never settles a session")
    const sessionId = event.sessionId.value
    const store = yield* SessionStore
    const session = yield* store.session(sessionId)
    if (Option.isNone(session)) return ignored(`session ${sessionId} does not exist`)
    const mismatch = chargeMismatch(session.value, event)
    if (Option.isSome(mismatch)) {
      // Only a success moved money; a failure of someone else's charge needs no one.
      if (event._tag !== "ChargeSucceeded") return ignored(mismatch.value)
      yield* reportUnexpectedPayment(session.value, event, mismatch.value)
      return { _tag: "Unexpected", sessionId, reason: mismatch.value } satisfies PaymentEventResult
    }
    // A session still closing records this outcome itself from the charge's own answer.
    if (session.value.state._tag !== "Ended") return ignored(`session is ${session.value.state._tag}`)
    // A success is what the charge received plus what the hold's capture did: the total paid.
    const total =
      outcome._tag === "Paid"
        ? paidWithCapture(outcome.paymentIntentId, outcome.amountPence, capturedPence(session.value.collection))
        : outcome
    return yield* recordSettlement(sessionId, total).pipe(
      Effect.as<PaymentEventResult>({ _tag: "Applied", sessionId }),
      Effect.catchTags({
        IllegalTransition: (e) => Effect.succeed(ignored(e.message)),
        SessionNotFound: (e) => Effect.succeed(ignored(e.message))
      })
    )
  })

/**
 * Applies one payment event. Idempotent: a repeated event finds its change already made.
 * Store faults stay defects, so the webhook answers 500 and the provider retries.
 */
export const handlePaymentEvent = Effect.fn("PaymentEvents.handlePaymentEvent")(function* (event: PaymentEvent) {
  switch (event._tag) {
    case "CardSetUpSucceeded": {
      if (Option.isNone(event.podId)) return ignored("no pod id in the card set-up's metadata")
      const provisioningId = yield* newProvisioningId
      return yield* finalizeBooking({
        setupIntentId: event.setupIntentId,
        podId: event.podId.value,
        provisioningId
      }).pipe(
        Effect.map((session): PaymentEventResult => ({ _tag: "Applied", sessionId: session.id })),
        Effect.catchTags({
          PodInUse: (e) => Effect.succeed(ignored(e.message)),
          PodNotFound: (e) => Effect.succeed(ignored(e.message)),
          CardNotSetUp: (e) => Effect.succeed(ignored(e.message)),
          SetupIntentMismatch: (e) => Effect.succeed(ignored(e.message)),
          PodMisconfigured: (e) => Effect.succeed(ignored(e.message)),
          // The card check refused the booking: the session is failed, nothing more to do.
          CardDeclined: (e) => Effect.succeed(ignored(e.message)),
          SetupIntentNotFound: (e) => Effect.succeed(ignored(e.message))
        })
      )
    }
    case "ChargeSucceeded":
      return yield* settleFromEvent(
        event,
        new Paid({ paymentIntentId: event.paymentIntentId, amountPence: event.amountPence })
      )
    case "ChargeFailed":
      return yield* settleFromEvent(
        event,
        new PaymentFailed({
          paymentIntentId: Option.some(event.paymentIntentId),
          declineCode: event.code,
          message: event.message
        })
      )
    case "ChargeNeedsAuthentication":
      return yield* settleFromEvent(event, new NeedsAuthentication({ paymentIntentId: event.paymentIntentId }))
    case "ChargeRefunded":
      // The event names the PaymentIntent only: its refunds are read back from the provider.
      return yield* applyRefundEvent(event.sessionId, event.paymentIntentId)
  }
})
