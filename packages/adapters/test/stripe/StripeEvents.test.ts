import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import {
  CardSetUpSucceeded,
  ChargeFailed,
  ChargeNeedsAuthentication,
  ChargeRefunded,
  ChargeSucceeded,
  PodId,
  pence,
  SessionId,
  SetupIntentId
} from "@qwip/core"
import { chargeRefundedEvent, signStripeEvent } from "@qwip/test-support/StripeEvents"
import { chargeFixture, paymentIntentFixture, refundFixture, setupIntentFixture } from "@qwip/test-support/StripeServer"
import { Effect, Option, Redacted, TestClock } from "effect"
import { decodeProviderEvent, decodeStripeEvent } from "../../src/stripe/StripeEvents.js"
import { makeStripeWebhooks, StripeWebhooks } from "../../src/stripe/StripeWebhooks.js"
import { eventPayload, NOW, SECRET, signed } from "../support/SignedEvents.js"

const webhooks = makeStripeWebhooks({ webhookSecret: Redacted.make(SECRET) })

/** An event as the HTTP layer gets it: signed, verified, then read. */
const receive = (type: string, object: unknown) =>
  Effect.gen(function* () {
    const payload = eventPayload(type, object)
    yield* TestClock.setTime(NOW * 1000)
    const envelope = yield* webhooks.verify(payload, signed(payload))
    return decodeStripeEvent(envelope.event)
  })

const sessionId = SessionId.make(randomUUID())

describe("StripeEvents.decodeStripeEvent", () => {
  it.effect("setup_intent.succeeded is CardSetUpSucceeded with the pod from its metadata", () =>
    Effect.gen(function* () {
      const intent = setupIntentFixture({ status: "succeeded", metadata: { pod_id: "pod-soho-1" } })
      const event = yield* receive("setup_intent.succeeded", intent)
      expect(event).toEqual(
        Option.some(
          new CardSetUpSucceeded({
            setupIntentId: SetupIntentId.make(intent.id),
            podId: Option.some(PodId.make("pod-soho-1"))
          })
        )
      )
      const noPod = yield* receive("setup_intent.succeeded", setupIntentFixture({ status: "succeeded", metadata: {} }))
      expect(Option.map(noPod, (decoded) => decoded._tag === "CardSetUpSucceeded" && decoded.podId)).toEqual(
        Option.some(Option.none())
      )
    })
  )

  it.effect(
    "payment_intent.succeeded is ChargeSucceeded for the session in its metadata, with its customer and the amount received",
    () =>
      Effect.gen(function* () {
        const intent = paymentIntentFixture({
          status: "succeeded",
          amount: 1234,
          amount_received: 1234,
          currency: "gbp",
          customer: "cus_booking_1",
          metadata: { session_id: sessionId }
        })
        const event = yield* receive("payment_intent.succeeded", intent)
        expect(event).toEqual(
          Option.some(
            new ChargeSucceeded({
              sessionId: Option.some(sessionId),
              paymentIntentId: intent.id,
              customerId: Option.some("cus_booking_1"),
              amountPence: pence(1234),
              currency: "gbp"
            })
          )
        )
        const dollars = yield* receive(
          "payment_intent.succeeded",
          paymentIntentFixture({ status: "succeeded", amount_received: 1234, currency: "usd" })
        )
        expect(Option.map(dollars, (d) => d._tag === "ChargeSucceeded" && [d.currency, d.customerId])).toEqual(
          Option.some(["usd", Option.none()])
        )
      })
  )

  it.effect("payment_intent.payment_failed is ChargeFailed with the issuer's code and message", () =>
    Effect.gen(function* () {
      const intent = paymentIntentFixture({
        status: "requires_payment_method",
        amount: 1234,
        metadata: { session_id: sessionId },
        last_payment_error: {
          type: "card_error",
          code: "card_declined",
          decline_code: "insufficient_funds",
          message: "Your card has insufficient funds."
        }
      })
      const event = yield* receive("payment_intent.payment_failed", intent)
      expect(event).toEqual(
        Option.some(
          new ChargeFailed({
            sessionId: Option.some(sessionId),
            paymentIntentId: intent.id,
            customerId: Option.none(),
            code: "insufficient_funds",
            message: "Your card has insufficient funds."
          })
        )
      )
    })
  )

  it.effect(
    "payment_intent.payment_failed for authentication_required is ChargeNeedsAuthentication, as the charge said",
    () =>
      Effect.gen(function* () {
        const intent = paymentIntentFixture({
          status: "requires_payment_method",
          metadata: { session_id: sessionId },
          last_payment_error: {
            type: "card_error",
            code: "authentication_required",
            decline_code: "authentication_required",
            message: "Your card was declined. This transaction requires authentication."
          }
        })
        const event = yield* receive("payment_intent.payment_failed", intent)
        expect(event).toEqual(
          Option.some(
            new ChargeNeedsAuthentication({
              sessionId: Option.some(sessionId),
              paymentIntentId: intent.id,
              customerId: Option.none()
            })
          )
        )
      })
  )

  it.effect("payment_intent.requires_action is ChargeNeedsAuthentication", () =>
    Effect.gen(function* () {
      const intent = paymentIntentFixture({ status: "requires_action", metadata: { session_id: sessionId } })
      const event = yield* receive("payment_intent.requires_action", intent)
      expect(event).toEqual(
        Option.some(
          new ChargeNeedsAuthentication({
            sessionId: Option.some(sessionId),
            paymentIntentId: intent.id,
            customerId: Option.none()
          })
        )
      )
    })
  )

  it.effect("a charge without a valid session id decodes with no session (not ours to settle)", () =>
    Effect.gen(function* () {
      const untagged = paymentIntentFixture({ status: "succeeded", amount: 500, amount_received: 500 })
      const malformed = paymentIntentFixture({
        status: "succeeded",
        amount: 500,
        amount_received: 500,
        metadata: { session_id: "not-a-uuid" }
      })
      for (const intent of [untagged, malformed]) {
        const event = yield* receive("payment_intent.succeeded", intent)
        expect(Option.map(event, (decoded) => decoded._tag === "ChargeSucceeded" && decoded.sessionId)).toEqual(
          Option.some(Option.none())
        )
      }
    })
  )

  it.effect("a card check hold's events carry purpose hold from its metadata; charges carry charge", () =>
    Effect.gen(function* () {
      const hold = paymentIntentFixture({
        status: "succeeded",
        amount: 1500,
        amount_received: 900,
        capture_method: "manual",
        metadata: { session_id: sessionId, setup_intent_id: "seti_1", purpose: "hold" }
      })
      const captured = yield* receive("payment_intent.succeeded", hold)
      expect(Option.map(captured, (event) => event._tag === "ChargeSucceeded" && event.purpose)).toEqual(
        Option.some("hold")
      )
      const declined = yield* receive("payment_intent.payment_failed", {
        ...hold,
        status: "requires_payment_method",
        last_payment_error: { type: "card_error", code: "card_declined", decline_code: "lost_card", message: "No." }
      })
      expect(declined).toEqual(
        Option.some(
          new ChargeFailed({
            sessionId: Option.some(sessionId),
            paymentIntentId: hold.id,
            customerId: Option.none(),
            purpose: "hold",
            code: "lost_card",
            message: "No."
          })
        )
      )
      const needsYou = yield* receive("payment_intent.requires_action", { ...hold, status: "requires_action" })
      expect(Option.map(needsYou, (event) => event._tag === "ChargeNeedsAuthentication" && event.purpose)).toEqual(
        Option.some("hold")
      )
      const charge = yield* receive(
        "payment_intent.succeeded",
        paymentIntentFixture({ status: "succeeded", amount_received: 100, metadata: { session_id: sessionId } })
      )
      expect(Option.map(charge, (event) => event._tag === "ChargeSucceeded" && event.purpose)).toEqual(
        Option.some("charge")
      )
    })
  )

  it.effect(
    "charge.refunded is ChargeRefunded for the Charge's PaymentIntent and session (signed by test support)",
    () =>
      Effect.gen(function* () {
        const payload = chargeRefundedEvent({
          payment_intent: "pi_refunded_1",
          amount: 2000,
          amount_refunded: 500,
          metadata: { session_id: sessionId }
        })
        const { body, signature } = signStripeEvent(payload, { secret: SECRET, timestamp: NOW })
        yield* TestClock.setTime(NOW * 1000)
        const envelope = yield* webhooks.verify(body, signature)
        expect(envelope.type).toBe("charge.refunded")
        expect(decodeStripeEvent(envelope.event)).toEqual(
          Option.some(new ChargeRefunded({ sessionId: Option.some(sessionId), paymentIntentId: "pi_refunded_1" }))
        )
        // From the dashboard on a charge with no session, or a charge with no PaymentIntent.
        const noSession = yield* receive(
          "charge.refunded",
          chargeFixture({ payment_intent: "pi_x", amount_refunded: 1 })
        )
        expect(noSession).toEqual(
          Option.some(new ChargeRefunded({ sessionId: Option.none(), paymentIntentId: "pi_x" }))
        )
        expect(yield* receive("charge.refunded", chargeFixture({ metadata: { session_id: sessionId } }))).toEqual(
          Option.none()
        )
      })
  )

  it.effect("charge.refund.updated (a refund that failed later) is ChargeRefunded for its PaymentIntent", () =>
    Effect.gen(function* () {
      const refund = refundFixture({
        payment_intent: "pi_refunded_2",
        amount: 300,
        status: "failed",
        metadata: { session_id: sessionId, qwip_key: "k", reason: "r" }
      })
      expect(yield* receive("charge.refund.updated", refund)).toEqual(
        Option.some(new ChargeRefunded({ sessionId: Option.some(sessionId), paymentIntentId: "pi_refunded_2" }))
      )
    })
  )

  it.effect("other event types decode to None", () =>
    Effect.gen(function* () {
      expect(yield* receive("customer.created", { id: "cus_1", object: "customer" })).toEqual(Option.none())
      expect(yield* receive("payment_intent.canceled", paymentIntentFixture({ status: "canceled" }))).toEqual(
        Option.none()
      )
    })
  )

  it.effect("a verified event, stored and read back by the payment-event inbox, reads the same", () =>
    Effect.gen(function* () {
      const service = yield* StripeWebhooks
      const payload = eventPayload(
        "payment_intent.requires_action",
        paymentIntentFixture({ status: "requires_action" })
      )
      yield* TestClock.setTime(NOW * 1000)
      const envelope = yield* service.verify(payload, signed(payload))
      const stored = { id: envelope.id, type: envelope.type, payload: envelope.event }
      expect(Option.map(decodeProviderEvent(stored), (event) => event._tag)).toEqual(
        Option.some("ChargeNeedsAuthentication")
      )
      expect(decodeProviderEvent({ ...stored, payload: [envelope.event] })).toEqual(Option.none())
    }).pipe(Effect.provide(StripeWebhooks.layer({ webhookSecret: Redacted.make(SECRET) })))
  )
})
