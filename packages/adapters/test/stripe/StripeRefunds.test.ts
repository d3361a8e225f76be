/**
 * Refunds: ours carry the session, key and reason; a repeated key refunds nothing more; Stripe's
 * limits (more than is left, already refunded, a charge that failed) are `RefundRefused`; every
 * refund of a PaymentIntent is read back, the dashboard's included, across pages.
 */
import { expect, layer } from "@effect/vitest"
import { pence, SetupIntentId } from "@qwip/core"
import { Faults, StripeServer, type StripeServerShape, TestCards } from "@qwip/test-support/StripeServer"
import { Effect, Option } from "effect"
import { chargeFor, fresh } from "../support/StripePaymentsKit.js"

type Payments = Effect.Effect.Success<ReturnType<typeof fresh>>["payments"]

/** A session charged `amount` on a card that pays. */
const charged = (server: StripeServerShape, payments: Payments, amount = 1234) =>
  Effect.gen(function* () {
    const request = chargeFor(yield* server.savedCard({ number: TestCards.pays }), { amountPence: pence(amount) })
    const result = yield* payments.chargeSession(request)
    if (result._tag !== "Succeeded") throw new Error(`expected a charge, got ${result._tag}`)
    return { sessionId: request.sessionId, paymentIntentId: result.paymentIntentId }
  })

layer(StripeServer.layer)("StripePayments refunds", (it) => {
  it.effect("refund refunds part of a charge under its key, with the session, key and reason in its metadata", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { sessionId, paymentIntentId } = yield* charged(server, payments)
      const key = `qwip-refund-${sessionId}-500-pod-was-noisy`

      const refund = yield* payments.refund({
        sessionId,
        paymentIntentId,
        amountPence: pence(500),
        idempotencyKey: key,
        reason: "pod was noisy"
      })

      expect(refund).toEqual({
        refundId: expect.stringMatching(/^re_/),
        paymentIntentId,
        amountPence: 500,
        status: "succeeded",
        key: Option.some(key)
      })
      const [sent] = yield* server.requestsFor("refunds.create")
      expect(sent?.idempotencyKey).toBe(key)
      expect(sent?.params).toEqual({
        payment_intent: paymentIntentId,
        amount: "500",
        metadata: { session_id: sessionId, qwip_key: key, reason: "pod was noisy" }
      })
      expect((yield* server.chargeOf(paymentIntentId)).amount_refunded).toBe(500)
    })
  )

  it.effect("a repeated refund with the same key is the same refund: nothing more is refunded", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { sessionId, paymentIntentId } = yield* charged(server, payments)
      const request = {
        sessionId,
        paymentIntentId,
        amountPence: pence(400),
        idempotencyKey: `qwip-refund-${sessionId}-400-goodwill`,
        reason: "goodwill"
      }
      const first = yield* payments.refund(request)
      const again = yield* payments.refund(request)

      expect(again).toEqual(first)
      expect(yield* server.refunds).toHaveLength(1)
      expect(yield* payments.refundsOf(paymentIntentId)).toEqual([first])
    })
  )

  it.effect(
    "the same key with other details (a reason worded differently) is RefundRefused, never a second refund",
    () =>
      Effect.gen(function* () {
        const { server, payments } = yield* fresh()
        const { sessionId, paymentIntentId } = yield* charged(server, payments)
        const key = `qwip-refund-${sessionId}-300-pod-was-noisy`
        const refund = (reason: string) =>
          payments.refund({ sessionId, paymentIntentId, amountPence: pence(300), idempotencyKey: key, reason })
        yield* refund("Pod was noisy")
        const refused = yield* Effect.flip(refund("pod was noisy!"))
        expect(refused).toMatchObject({ _tag: "RefundRefused", paymentIntentId })
        expect(refused.message).toContain(key)
        expect(yield* server.refunds).toHaveLength(1)
      })
  )

  it.effect("a refund whose answer is lost is PaymentsUnavailable; retrying with its key refunds once", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { sessionId, paymentIntentId } = yield* charged(server, payments)
      const refund = payments.refund({
        sessionId,
        paymentIntentId,
        amountPence: pence(1234),
        idempotencyKey: `qwip-refund-${sessionId}-full-broken-door`,
        reason: "broken door"
      })
      yield* server.failNext("refunds.create", Faults.serverErrorAfterStoring)

      const lost = yield* Effect.flip(refund)
      expect(lost).toMatchObject({ _tag: "PaymentsUnavailable", operation: "refund" })
      expect((yield* refund).amountPence).toBe(1234)
      expect(yield* server.refunds).toHaveLength(1)
    })
  )

  it.effect("more than is left, a charge already refunded in full and a charge that failed are RefundRefused", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { sessionId, paymentIntentId } = yield* charged(server, payments, 1000)
      const refund = (amount: number, key: string) =>
        payments.refund({ sessionId, paymentIntentId, amountPence: pence(amount), idempotencyKey: key, reason: "x" })

      yield* refund(600, "refund-a")
      const tooMuch = yield* Effect.flip(refund(401, "refund-b"))
      expect(tooMuch._tag).toBe("RefundRefused")
      expect(tooMuch.message).toContain("greater than unrefunded amount")
      yield* refund(400, "refund-c")
      const nothingLeft = yield* Effect.flip(refund(1, "refund-d"))
      expect(nothingLeft).toMatchObject({ _tag: "RefundRefused", paymentIntentId })
      expect(nothingLeft.message).toContain("has already been refunded")

      const declined = yield* payments.chargeSession(
        chargeFor(yield* server.savedCard({ number: TestCards.chargesDeclined }))
      )
      const declinedId = declined._tag === "Declined" ? Option.getOrThrow(declined.paymentIntentId) : ""
      const failedCharge = yield* Effect.flip(
        payments.refund({
          sessionId,
          paymentIntentId: declinedId,
          amountPence: pence(100),
          idempotencyKey: "refund-e",
          reason: "x"
        })
      )
      expect(failedCharge).toMatchObject({ _tag: "RefundRefused", paymentIntentId: declinedId })
      expect((yield* server.chargeOf(paymentIntentId)).amount_refunded).toBe(1000)
    })
  )

  it.effect("a captured hold is refunded like a charge", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const card = yield* server.savedCard()
      const { sessionId } = chargeFor(card)
      const hold = yield* payments.placeHold({
        sessionId,
        setupIntentId: SetupIntentId.make("seti_x"),
        amountPence: pence(1500),
        customerId: card.customerId,
        paymentMethodId: card.paymentMethodId,
        idempotencyKey: `qwip-booking-hold-${sessionId}`
      })
      const holdId = hold._tag === "Held" ? hold.paymentIntentId : ""
      yield* payments.captureHold({
        sessionId,
        paymentIntentId: holdId,
        amountPence: pence(700),
        idempotencyKey: `qwip-hold-capture-${sessionId}`
      })
      const refund = yield* payments.refund({
        sessionId,
        paymentIntentId: holdId,
        amountPence: pence(700),
        idempotencyKey: `qwip-refund-${sessionId}-full-x:${holdId}`,
        reason: "x"
      })
      expect(refund.amountPence).toBe(700)
      const overCaptured = yield* Effect.flip(
        payments.refund({
          sessionId,
          paymentIntentId: holdId,
          amountPence: pence(1),
          idempotencyKey: "refund-more",
          reason: "x"
        })
      )
      expect(overCaptured._tag).toBe("RefundRefused")
    })
  )

  it.effect("refundsOf reads every refund of a PaymentIntent, the dashboard's (no key) among them, across pages", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { sessionId, paymentIntentId } = yield* charged(server, payments, 20_000)
      const other = yield* charged(server, payments, 5_000)
      const ours = yield* payments.refund({
        sessionId,
        paymentIntentId,
        amountPence: pence(1000),
        idempotencyKey: "qwip-refund-ours",
        reason: "ours"
      })
      for (let i = 0; i < 120; i++) yield* server.refundInDashboard(paymentIntentId, 10)
      yield* server.refundInDashboard(other.paymentIntentId, 50)

      const refunds = yield* payments.refundsOf(paymentIntentId)

      expect(refunds).toHaveLength(121)
      expect(refunds.every((refund) => refund.paymentIntentId === paymentIntentId)).toBe(true)
      expect(refunds.filter((refund) => Option.isNone(refund.key))).toHaveLength(120)
      expect(refunds).toContainEqual(ours)
      const pages = yield* server.requestsFor("refunds.list")
      expect(pages.map((page) => page.params)).toEqual([
        { payment_intent: paymentIntentId, limit: "100" },
        { payment_intent: paymentIntentId, limit: "100", starting_after: expect.stringMatching(/^re_/) }
      ])
    })
  )

  it.effect("refundsOf a PaymentIntent never refunded is empty", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const { paymentIntentId } = yield* charged(server, payments)
      expect(yield* payments.refundsOf(paymentIntentId)).toEqual([])
    })
  )
})
