/**
 * The card check hold: placed off-session with manual capture, captured up to what it holds,
 * released; each repeat with its key is the same request, and a hold Stripe cancelled cannot
 * be captured.
 */
import { randomUUID } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { HARD_DECLINE_CODES, type HoldRequest, pence, SessionId, SetupIntentId } from "@qwip/core"
import { Cards, Faults, StripeServer, type StripeServerShape, TestCards } from "@qwip/test-support/StripeServer"
import { Effect, Option } from "effect"
import { defectOf, fresh } from "../support/StripePaymentsKit.js"

const holdFor = (
  card: { readonly customerId: string; readonly paymentMethodId: string },
  overrides: Partial<HoldRequest> = {}
): HoldRequest => {
  const sessionId = SessionId.make(randomUUID())
  return {
    sessionId,
    setupIntentId: SetupIntentId.make("seti_booking_1"),
    amountPence: pence(1500),
    customerId: card.customerId,
    paymentMethodId: card.paymentMethodId,
    idempotencyKey: `qwip-booking-hold-${sessionId}`,
    ...overrides
  }
}

/** A hold placed on a card that pays. */
const held = (server: StripeServerShape, payments: Effect.Effect.Success<ReturnType<typeof fresh>>["payments"]) =>
  Effect.gen(function* () {
    const request = holdFor(yield* server.savedCard({ number: TestCards.pays }))
    const result = yield* payments.placeHold(request)
    if (result._tag !== "Held") throw new Error(`expected a hold, got ${result._tag}`)
    return { request, paymentIntentId: result.paymentIntentId }
  })

layer(StripeServer.layer)("StripePayments holds", (it) => {
  it.effect(
    "placeHold makes a manual-capture, off-session PaymentIntent in GBP tagged as the session's hold, under its key",
    () =>
      Effect.gen(function* () {
        const { server, payments } = yield* fresh()
        const request = holdFor(yield* server.savedCard({ number: TestCards.pays }))

        const result = yield* payments.placeHold(request)

        expect(result._tag).toBe("Held")
        const [sent] = yield* server.requestsFor("paymentIntents.create")
        expect(sent?.idempotencyKey).toBe(request.idempotencyKey)
        expect(sent?.params).toEqual({
          amount: "1500",
          currency: "gbp",
          customer: request.customerId,
          payment_method: request.paymentMethodId,
          capture_method: "manual",
          confirm: "true",
          off_session: "true",
          allowed_payment_method_types: { "0": "card" },
          metadata: { session_id: request.sessionId, setup_intent_id: "seti_booking_1", purpose: "hold" }
        })
        const [intent] = yield* server.paymentIntents
        expect(result).toEqual({ _tag: "Held", paymentIntentId: intent?.id, amountPence: 1500 })
        expect(intent?.status).toBe("requires_capture")
        expect(intent?.amount_capturable).toBe(1500)
        expect(intent?.amount_received).toBe(0)
      })
  )

  it.effect("a repeated placeHold with the same key is the same hold: one PaymentIntent", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = holdFor(yield* server.savedCard())
      const first = yield* payments.placeHold(request)
      const again = yield* payments.placeHold(request)

      expect(again).toEqual(first)
      expect(yield* server.paymentIntents).toHaveLength(1)
      expect((yield* server.requestsFor("paymentIntents.create")).map((r) => r.outcome)).toEqual([
        "handled",
        "replayed"
      ])
    })
  )

  it.effect("a hold on a card that declines is Declined with the card's code, soft or hard", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const cases = [
        { number: TestCards.chargesDeclined, code: "generic_decline", hard: false },
        { number: TestCards.insufficientFunds, code: "insufficient_funds", hard: false },
        { number: TestCards.lostCard, code: "lost_card", hard: true }
      ]
      for (const { number, code, hard } of cases) {
        const result = yield* payments.placeHold(holdFor(yield* server.savedCard({ number })))
        expect(result._tag).toBe("Declined")
        if (result._tag !== "Declined") continue
        expect(result.code).toBe(code)
        expect(Option.getOrThrow(result.paymentIntentId)).toMatch(/^pi_/)
        expect(HARD_DECLINE_CODES.has(result.code)).toBe(hard)
      }
    })
  )

  it.effect("a hold on a card that needs authentication off-session is NeedsAuthentication", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const result = yield* payments.placeHold(
        holdFor(yield* server.savedCard({ number: TestCards.needsAuthentication }))
      )
      const [intent] = yield* server.paymentIntents
      expect(result).toEqual({ _tag: "NeedsAuthentication", paymentIntentId: intent?.id })
    })
  )

  it.effect("a hold whose answer is lost is PaymentsUnavailable; retrying with its key finds the one hold", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = holdFor(yield* server.savedCard())
      // The answer is lost twice: the request and the SDK's own retry of a reset connection.
      yield* server.failNext("paymentIntents.create", Faults.dropAfterHandling, 2)

      const lost = yield* Effect.flip(payments.placeHold(request))
      expect(lost._tag).toBe("PaymentsUnavailable")
      expect(lost.operation).toBe("placeHold")
      const again = yield* payments.placeHold(request)
      expect(again._tag).toBe("Held")
      expect(yield* server.paymentIntents).toHaveLength(1)
    })
  )

  it.effect("a hold still processing, or its key still in use at Stripe, is PaymentsUnavailable, never a decline", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const processing = yield* Effect.flip(
        payments.placeHold(holdFor(yield* server.savedCard({ behaviour: Cards.processing })))
      )
      expect(processing).toMatchObject({ _tag: "PaymentsUnavailable", operation: "placeHold" })
      const request = holdFor(yield* server.savedCard())
      yield* server.failNext("paymentIntents.create", Faults.keyInUse)
      const inUse = yield* Effect.flip(payments.placeHold(request))
      expect(inUse).toMatchObject({ _tag: "PaymentsUnavailable", operation: "placeHold" })
      expect((yield* payments.placeHold(request))._tag).toBe("Held")
    })
  )

  it.effect("captureHold captures part of the hold with amount_to_capture under its key; Stripe keeps the rest", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { request, paymentIntentId } = yield* held(server, payments)
      const key = `qwip-hold-capture-${request.sessionId}`

      const captured = yield* payments.captureHold({
        sessionId: request.sessionId,
        paymentIntentId,
        amountPence: pence(900),
        idempotencyKey: key
      })

      expect(captured).toEqual({ _tag: "Captured", amountPence: 900 })
      const [sent] = yield* server.requestsFor("paymentIntents.capture")
      expect(sent?.path).toBe(`/v1/payment_intents/${paymentIntentId}/capture`)
      expect(sent?.params).toEqual({ amount_to_capture: "900" })
      expect(sent?.idempotencyKey).toBe(key)
      const [intent] = yield* server.paymentIntents
      expect(intent?.status).toBe("succeeded")
      expect(intent?.amount_received).toBe(900)
    })
  )

  it.effect("a repeated capture answers the first capture's amount, with the same key or another", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { request, paymentIntentId } = yield* held(server, payments)
      const capture = (amount: number, key: string) =>
        payments.captureHold({
          sessionId: request.sessionId,
          paymentIntentId,
          amountPence: pence(amount),
          idempotencyKey: key
        })

      yield* capture(1200, "qwip-hold-capture-1")
      expect(yield* capture(1200, "qwip-hold-capture-1")).toEqual({ _tag: "Captured", amountPence: 1200 })
      // Stripe refuses a second capture; the intent says what was taken.
      expect(yield* capture(1500, "another-key")).toEqual({ _tag: "Captured", amountPence: 1200 })
      const outcomes = (yield* server.requestsFor("paymentIntents.capture")).map((r) => r.outcome)
      expect(outcomes).toEqual(["handled", "replayed", "handled"])
    })
  )

  it.effect("a capture whose answer is lost is retried with its key and captures once", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { request, paymentIntentId } = yield* held(server, payments)
      const capture = payments.captureHold({
        sessionId: request.sessionId,
        paymentIntentId,
        amountPence: pence(1500),
        idempotencyKey: "qwip-hold-capture-lost"
      })
      yield* server.failNext("paymentIntents.capture", Faults.serverErrorAfterStoring)

      const lost = yield* Effect.flip(capture)
      expect(lost._tag).toBe("PaymentsUnavailable")
      expect(yield* capture).toEqual({ _tag: "Captured", amountPence: 1500 })
      const [intent] = yield* server.paymentIntents
      expect(intent?.amount_received).toBe(1500)
    })
  )

  it.effect("a hold Stripe cancelled after seven days, or that we released, is NotCapturable", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const expired = yield* held(server, payments)
      yield* server.expireHold(expired.paymentIntentId)
      expect(
        yield* payments.captureHold({
          sessionId: expired.request.sessionId,
          paymentIntentId: expired.paymentIntentId,
          amountPence: pence(500),
          idempotencyKey: "qwip-hold-capture-expired"
        })
      ).toEqual({ _tag: "NotCapturable", status: "canceled" })

      const released = yield* held(server, payments)
      yield* payments.releaseHold({
        sessionId: released.request.sessionId,
        paymentIntentId: released.paymentIntentId,
        idempotencyKey: "qwip-hold-release-1"
      })
      expect(
        yield* payments.captureHold({
          sessionId: released.request.sessionId,
          paymentIntentId: released.paymentIntentId,
          amountPence: pence(500),
          idempotencyKey: "qwip-hold-capture-released"
        })
      ).toEqual({ _tag: "NotCapturable", status: "canceled" })
    })
  )

  it.effect("a hold whose authorisation lapsed at the issuer (charge_expired_for_capture) is NotCapturable", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { request, paymentIntentId } = yield* held(server, payments)
      yield* server.failNext("paymentIntents.capture", {
        _tag: "Reply",
        status: 400,
        error: {
          type: "invalid_request_error",
          code: "charge_expired_for_capture",
          message: "The charge expired before it could be captured."
        }
      })
      expect(
        yield* payments.captureHold({
          sessionId: request.sessionId,
          paymentIntentId,
          amountPence: pence(500),
          idempotencyKey: "qwip-hold-capture-lapsed"
        })
      ).toEqual({ _tag: "NotCapturable", status: "requires_capture" })
    })
  )

  it.effect("releaseHold cancels the hold under its key; a repeat, with any key, is released too", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { request, paymentIntentId } = yield* held(server, payments)
      const release = (key: string) =>
        payments.releaseHold({ sessionId: request.sessionId, paymentIntentId, idempotencyKey: key })

      expect(yield* release("qwip-hold-release-a")).toBe("released")
      const [sent] = yield* server.requestsFor("paymentIntents.cancel")
      expect(sent?.path).toBe(`/v1/payment_intents/${paymentIntentId}/cancel`)
      expect(sent?.idempotencyKey).toBe("qwip-hold-release-a")
      const [intent] = yield* server.paymentIntents
      expect(intent?.status).toBe("canceled")
      expect(intent?.amount_capturable).toBe(0)

      expect(yield* release("qwip-hold-release-a")).toBe("released")
      expect(yield* release("qwip-hold-release-b")).toBe("released")
    })
  )

  it.effect("releasing a hold already captured says captured; releasing a declined hold releases it", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { request, paymentIntentId } = yield* held(server, payments)
      yield* payments.captureHold({
        sessionId: request.sessionId,
        paymentIntentId,
        amountPence: pence(1500),
        idempotencyKey: "qwip-hold-capture-x"
      })
      expect(
        yield* payments.releaseHold({
          sessionId: request.sessionId,
          paymentIntentId,
          idempotencyKey: "qwip-hold-release-x"
        })
      ).toBe("captured")

      const declinedRequest = holdFor(yield* server.savedCard({ number: TestCards.chargesDeclined }))
      const declined = yield* payments.placeHold(declinedRequest)
      const declinedId = declined._tag === "Declined" ? Option.getOrThrow(declined.paymentIntentId) : ""
      expect(
        yield* payments.releaseHold({
          sessionId: declinedRequest.sessionId,
          paymentIntentId: declinedId,
          idempotencyKey: "qwip-hold-release-y"
        })
      ).toBe("released")
    })
  )

  it.effect("Stripe unreachable while releasing is PaymentsUnavailable, for the work to retry", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { request, paymentIntentId } = yield* held(server, payments)
      yield* server.failNext("paymentIntents.cancel", Faults.dropBeforeHandling, 2)
      const release = payments.releaseHold({
        sessionId: request.sessionId,
        paymentIntentId,
        idempotencyKey: "qwip-hold-release-z"
      })
      const error = yield* Effect.flip(release)
      expect(error._tag).toBe("PaymentsUnavailable")
      expect(error.operation).toBe("releaseHold")
      expect(yield* release).toBe("released")
    })
  )

  it.effect("a hold read back for another session is a defect, never an answer for this one", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { paymentIntentId } = yield* held(server, payments)
      yield* server.expireHold(paymentIntentId)
      const defect = yield* defectOf(
        payments.captureHold({
          sessionId: SessionId.make(randomUUID()),
          paymentIntentId,
          amountPence: pence(100),
          idempotencyKey: "qwip-hold-capture-mixup"
        })
      )
      expect(String(defect)).toContain("belongs to session")
    })
  )
})
