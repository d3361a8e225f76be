/**
 * Reading a charge back when its answer was lost: by PaymentIntent, by the session's customer,
 * through search, and through the last hour's list when search lags.
 */
import { randomUUID } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { pence, SessionId, SetupIntentId } from "@qwip/core"
import { Cards, Faults, StripeServer } from "@qwip/test-support/StripeServer"
import { Effect, Option } from "effect"
import { chargeFor, defectOf, fresh } from "../support/StripePaymentsKit.js"

layer(StripeServer.layer)("StripePayments.readCharge", (it) => {
  it.effect("readCharge by PaymentIntent id", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard())
      const charged = yield* payments.chargeSession(request)
      const paymentIntentId = charged._tag === "Succeeded" ? charged.paymentIntentId : ""

      const reading = yield* payments.readCharge({
        sessionId: request.sessionId,
        paymentIntentId: Option.some(paymentIntentId)
      })
      expect(reading).toEqual(Option.some(charged))
      expect(yield* server.requestsFor("paymentIntents.search")).toHaveLength(0)
    })
  )

  it.effect("readCharge by session finds the charge through search on metadata.session_id", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const card = yield* server.savedCard()
      yield* payments.chargeSession(chargeFor(card)) // another session's charge
      const request = chargeFor(card)
      const charged = yield* payments.chargeSession(request)

      const reading = yield* payments.readCharge({ sessionId: request.sessionId, paymentIntentId: Option.none() })
      expect(reading).toEqual(Option.some(charged))
      const [search] = yield* server.requestsFor("paymentIntents.search")
      expect(search?.params.query).toBe(`metadata['session_id']:'${request.sessionId}'`)
      expect(yield* server.requestsFor("paymentIntents.list")).toHaveLength(0)
    })
  )

  it.effect("readCharge by session still finds a charge search has not indexed yet, by listing the last hour", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      yield* server.setSearchIndexing(false)
      const request = chargeFor(yield* server.savedCard({ behaviour: Cards.insufficientFunds }))
      const charged = yield* payments.chargeSession(request)

      const reading = yield* payments.readCharge({ sessionId: request.sessionId, paymentIntentId: Option.none() })
      expect(reading).toEqual(Option.some(charged))
      const [list] = yield* server.requestsFor("paymentIntents.list")
      expect(list?.params).toMatchObject({ limit: "100", created: { gte: expect.any(String) } })
    })
  )

  it.effect("readCharge with the session's customer lists that customer's charges: exact, no search", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      yield* server.setSearchIndexing(false)
      const card = yield* server.savedCard()
      const request = chargeFor(card)
      const charged = yield* payments.chargeSession(request)

      const reading = yield* payments.readCharge({
        sessionId: request.sessionId,
        paymentIntentId: Option.none(),
        customerId: card.customerId
      })
      expect(reading).toEqual(Option.some(charged))
      const [list] = yield* server.requestsFor("paymentIntents.list")
      expect(list?.params).toMatchObject({ customer: card.customerId })
      expect(yield* server.requestsFor("paymentIntents.search")).toHaveLength(0)
    })
  )

  it.effect("readCharge is None when the session was never charged (searched, and the last hour listed)", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      yield* payments.chargeSession(chargeFor(yield* server.savedCard())) // another session's charge

      const sessionId = SessionId.make(randomUUID())
      expect(yield* payments.readCharge({ sessionId, paymentIntentId: Option.none() })).toEqual(Option.none())
      expect(yield* server.requestsFor("paymentIntents.search")).toHaveLength(1)
      expect(yield* server.requestsFor("paymentIntents.list")).toHaveLength(1)
      expect(yield* payments.readCharge({ sessionId, paymentIntentId: Option.some("pi_does_not_exist") })).toEqual(
        Option.none()
      )
    })
  )

  it.effect("readCharge of another session's PaymentIntent is a defect, never that session's outcome", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const charged = yield* payments.chargeSession(chargeFor(yield* server.savedCard()))
      const paymentIntentId = charged._tag === "Succeeded" ? charged.paymentIntentId : ""
      const defect = yield* defectOf(
        payments.readCharge({ sessionId: SessionId.make(randomUUID()), paymentIntentId: Option.some(paymentIntentId) })
      )
      expect(String(defect)).toMatch(/belongs to session/)
    })
  )

  it.effect("readCharge by session never takes the session's card check hold for its charge", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const card = yield* server.savedCard()
      const request = chargeFor(card)
      const placeHold = payments.placeHold({
        sessionId: request.sessionId,
        setupIntentId: SetupIntentId.make("seti_read_back"),
        amountPence: pence(1500),
        customerId: card.customerId,
        paymentMethodId: card.paymentMethodId,
        idempotencyKey: `qwip-booking-hold-${request.sessionId}`
      })
      const hold = yield* placeHold
      const holdId = hold._tag === "Held" ? hold.paymentIntentId : ""
      yield* payments.captureHold({
        sessionId: request.sessionId,
        paymentIntentId: holdId,
        amountPence: pence(1500),
        idempotencyKey: `qwip-hold-capture-${request.sessionId}`
      })
      const read = (customerId?: string) =>
        payments.readCharge({ sessionId: request.sessionId, paymentIntentId: Option.none(), customerId })

      // A captured hold has succeeded, yet it is not the session's charge: none yet.
      expect(yield* read()).toEqual(Option.none())
      expect(yield* read(card.customerId)).toEqual(Option.none())
      yield* server.setSearchIndexing(false)
      const charged = yield* payments.chargeSession(request)
      expect(yield* read()).toEqual(Option.some(charged))
      expect(yield* read(card.customerId)).toEqual(Option.some(charged))
    })
  )

  it.effect("readCharge given a hold's id as the charge is a defect, never the session's outcome", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const card = yield* server.savedCard()
      const request = chargeFor(card)
      const hold = yield* payments.placeHold({
        sessionId: request.sessionId,
        setupIntentId: SetupIntentId.make("seti_read_back"),
        amountPence: pence(1500),
        customerId: card.customerId,
        paymentMethodId: card.paymentMethodId,
        idempotencyKey: `qwip-booking-hold-${request.sessionId}`
      })
      const holdId = hold._tag === "Held" ? hold.paymentIntentId : ""
      const defect = yield* defectOf(
        payments.readCharge({ sessionId: request.sessionId, paymentIntentId: Option.some(holdId) })
      )
      expect(String(defect)).toMatch(/card check hold, not its charge/)
    })
  )

  it.effect("Stripe failing while reading a charge back is PaymentsUnavailable", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      yield* server.failNext("paymentIntents.search", Faults.serverError)
      const error = yield* Effect.flip(
        payments.readCharge({ sessionId: SessionId.make(randomUUID()), paymentIntentId: Option.none() })
      )
      expect(error).toMatchObject({ _tag: "PaymentsUnavailable", operation: "readCharge" })
    })
  )
})
