import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import {
  CardSetUpSucceeded,
  ChargeFailed,
  ChargeNeedsAuthentication,
  ChargeSucceeded,
  PodId,
  pence,
  SessionId,
  SetupIntentId
} from "@qwip/core"
import { paymentIntentFixture, setupIntentFixture } from "@qwip/test-support/StripeServer"
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
