/**
 * What the payment provider tells us later (Stripe webhooks), in the platform's words,
 * and how each event moves a booking or a session's payment outcome.
 */
import { Effect, Option, Schema } from "effect"
import { finalizeBooking } from "./Checkout.js"
import { newProvisioningId, PodId, SessionId, SetupIntentId } from "./Ids.js"
import { Pence } from "./Money.js"
import { SessionStore } from "./ports/SessionStore.js"
import { NeedsAuthentication, type Outcome, Paid, PaymentFailed } from "./Session.js"
import { recordSettlement } from "./SessionEnd.js"

/** A card set-up succeeded; finalizes the booking if the client never did. */
export class CardSetUpSucceeded extends Schema.TaggedClass<CardSetUpSucceeded>()("CardSetUpSucceeded", {
  setupIntentId: SetupIntentId,
  podId: Schema.OptionFromNullOr(PodId)
}) {}
export class ChargeSucceeded extends Schema.TaggedClass<ChargeSucceeded>()("ChargeSucceeded", {
  sessionId: Schema.OptionFromNullOr(SessionId),
  paymentIntentId: Schema.String,
  amountPence: Pence
}) {}
export class ChargeFailed extends Schema.TaggedClass<ChargeFailed>()("ChargeFailed", {
  sessionId: Schema.OptionFromNullOr(SessionId),
  paymentIntentId: Schema.String,
  code: Schema.String,
  message: Schema.String
}) {}
export class ChargeNeedsAuthentication extends Schema.TaggedClass<ChargeNeedsAuthentication>()(
  "ChargeNeedsAuthentication",
  {
    sessionId: Schema.OptionFromNullOr(SessionId),
    paymentIntentId: Schema.String
  }
) {}

export const PaymentEvent = Schema.Union(CardSetUpSucceeded, ChargeSucceeded, ChargeFailed, ChargeNeedsAuthentication)
export type PaymentEvent = typeof PaymentEvent.Type

/** What handling an event did; `ignored` events are acknowledged, never retried. */
export type PaymentEventResult =
  | { readonly _tag: "Applied"; readonly sessionId: SessionId }
  | { readonly _tag: "Ignored"; readonly reason: string }

const ignored = (reason: string): PaymentEventResult => ({ _tag: "Ignored", reason })

const settleFromEvent = (sessionId: Option.Option<SessionId>, outcome: Outcome) =>
  Effect.gen(function* () {
    if (Option.isNone(sessionId)) return ignored("no session id in the charge's metadata")
    const store = yield* SessionStore
    const session = yield* store.session(sessionId.value)
    if (Option.isNone(session)) return ignored(`session ${sessionId.value} does not exist`)
    // A session still closing records this outcome itself from the charge's own answer.
    if (session.value.state._tag !== "Ended") return ignored(`session is ${session.value.state._tag}`)
    return yield* recordSettlement(sessionId.value, outcome).pipe(
      Effect.as<PaymentEventResult>({ _tag: "Applied", sessionId: sessionId.value }),
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
export const handlePaymentEvent = Effect.fn("Payments.handleEvent")(function* (event: PaymentEvent) {
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
          SetupIntentNotFound: (e) => Effect.succeed(ignored(e.message))
        })
      )
    }
    case "ChargeSucceeded":
      return yield* settleFromEvent(
        event.sessionId,
        new Paid({ paymentIntentId: event.paymentIntentId, amountPence: event.amountPence })
      )
    case "ChargeFailed":
      return yield* settleFromEvent(
        event.sessionId,
        new PaymentFailed({
          paymentIntentId: Option.some(event.paymentIntentId),
          declineCode: event.code,
          message: event.message
        })
      )
    case "ChargeNeedsAuthentication":
      return yield* settleFromEvent(
        event.sessionId,
        new NeedsAuthentication({ paymentIntentId: event.paymentIntentId })
      )
  }
})
