/**
 * Reading Qwip's PaymentIntents back: a session's payments in a window (every page, holds and
 * charges told apart, other intents left out), one PaymentIntent, and the PaymentIntent the
 * customer completes on the pay page.
 */
import { randomUUID } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { chargeKeyFor, pence, SessionId, SetupIntentId } from "@qwip/core"
import { Faults, StripeServer, type StripeServerShape, TestCards } from "@qwip/test-support/StripeServer"
import { Effect, Option, Redacted } from "effect"
import Stripe from "stripe"
import { chargeFor, defectOf, fresh, secretKey } from "../support/StripePaymentsKit.js"

type Payments = Effect.Effect.Success<ReturnType<typeof fresh>>["payments"]

/** 2026-06-01T12:00:00Z in Stripe's seconds. */
const NOON = 1_780_315_200

const at = (seconds: number) => new Date(seconds * 1000)

const holdOn = (payments: Payments, card: { readonly customerId: string; readonly paymentMethodId: string }) => {
  const sessionId = SessionId.make(randomUUID())
  return payments
    .placeHold({
      sessionId,
      setupIntentId: SetupIntentId.make("seti_listing"),
      amountPence: pence(1500),
      customerId: card.customerId,
      paymentMethodId: card.paymentMethodId,
      idempotencyKey: `qwip-booking-hold-${sessionId}`
    })
    .pipe(Effect.map((result) => ({ sessionId, result })))
}

const payWith = (server: StripeServerShape, payments: Payments, amount = 1234) =>
  Effect.gen(function* () {
    const request = chargeFor(yield* server.savedCard(), { amountPence: pence(amount) })
    const result = yield* payments.chargeSession(request)
    return { request, paymentIntentId: result._tag === "Succeeded" ? result.paymentIntentId : "" }
  })

layer(StripeServer.layer)("StripePayments listing", (it) => {
  it.effect(
    "sessionPayments lists the window's PaymentIntents by created time, every page, holds told from charges",
    () =>
      Effect.gen(function* () {
        const { server, payments } = yield* fresh()
        const card = yield* server.savedCard()
        yield* server.setNow(NOON - 3600) // before the window
        yield* payments.chargeSession(chargeFor(card))
        yield* server.setNow(NOON)
        const hold = yield* holdOn(payments, card)
        for (let i = 0; i < 104; i++) yield* payments.chargeSession(chargeFor(card))
        yield* server.setNow(NOON + 3600) // the window's end is not in it
        yield* payments.chargeSession(chargeFor(card))

        const found = yield* payments.sessionPayments({ since: at(NOON - 60), until: at(NOON + 3600) })

        expect(found).toHaveLength(105)
        expect(found.filter((payment) => payment.purpose === "hold")).toEqual([
          {
            paymentIntentId: hold.result._tag === "Held" ? hold.result.paymentIntentId : "",
            sessionId: hold.sessionId,
            purpose: "hold",
            status: "requires_capture",
            amountPence: 1500,
            receivedPence: 0,
            refundedPence: 0,
            createdAt: at(NOON)
          }
        ])
        expect(found.filter((payment) => payment.purpose === "charge" && payment.status === "succeeded")).toHaveLength(
          104
        )
        const pages = yield* server.requestsFor("paymentIntents.list")
        expect(pages).toHaveLength(2)
        expect(pages[0]?.params).toEqual({
          created: { gte: String(NOON - 60), lt: String(NOON + 3600) },
          limit: "100",
          expand: { "0": "data.latest_charge" }
        })
        expect(pages[1]?.params.starting_after).toMatch(/^pi_/)
      })
  )

  it.effect("sessionPayments says what each charge received and what was refunded of it, and skips other intents", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      yield* server.setNow(NOON)
      const paid = yield* payWith(server, payments, 2000)
      yield* server.refundInDashboard(paid.paymentIntentId, 750)
      const declined = yield* payments.chargeSession(
        chargeFor(yield* server.savedCard({ number: TestCards.insufficientFunds }))
      )
      // An intent made in the dashboard, for no session: not Qwip's.
      const stripe = new Stripe(Redacted.value(secretKey), server.apiBase)
      yield* Effect.promise(() => stripe.paymentIntents.create({ amount: 999, currency: "gbp" }))

      const found = yield* payments.sessionPayments({ since: at(NOON), until: at(NOON + 1) })

      const byId = new Map(found.map((payment) => [payment.paymentIntentId, payment]))
      expect(byId.get(paid.paymentIntentId)).toMatchObject({
        sessionId: paid.request.sessionId,
        purpose: "charge",
        status: "succeeded",
        amountPence: 2000,
        receivedPence: 2000,
        refundedPence: 750
      })
      const declinedId = declined._tag === "Declined" ? Option.getOrThrow(declined.paymentIntentId) : ""
      expect(byId.get(declinedId)).toMatchObject({ status: "requires_payment_method", receivedPence: 0 })
      expect(found).toHaveLength(2)
      expect(found.some((payment) => payment.amountPence === 999)).toBe(false)
    })
  )

  it.effect("Stripe failing or rate limiting the list is PaymentsUnavailable, for the job to run again", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      yield* server.setNow(NOON)
      yield* payWith(server, payments)
      const window = { since: at(NOON), until: at(NOON + 1) }
      for (const fault of [Faults.serverError, Faults.rateLimited]) {
        yield* server.failNext("paymentIntents.list", fault)
        const error = yield* Effect.flip(payments.sessionPayments(window))
        expect(error).toMatchObject({ _tag: "PaymentsUnavailable", operation: "sessionPayments" })
      }
      expect(yield* payments.sessionPayments(window)).toHaveLength(1)
    })
  )

  it.effect("readPayment reads one PaymentIntent with what was refunded; an unknown id is None", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const paid = yield* payWith(server, payments, 1500)
      yield* server.refundInDashboard(paid.paymentIntentId, 500)

      const read = yield* payments.readPayment(paid.paymentIntentId)
      expect(Option.getOrThrow(read)).toMatchObject({
        paymentIntentId: paid.paymentIntentId,
        sessionId: paid.request.sessionId,
        purpose: "charge",
        status: "succeeded",
        receivedPence: 1500,
        refundedPence: 500
      })
      const [sent] = yield* server.requestsFor("paymentIntents.retrieve")
      expect(sent?.params).toEqual({ expand: { "0": "latest_charge" } })
      expect(yield* payments.readPayment("pi_does_not_exist")).toEqual(Option.none())
    })
  )

  it.effect(
    "paymentForCustomer with no PaymentIntent creates one on-session for the session under its key; the page pays it",
    () =>
      Effect.gen(function* () {
        const { server, payments } = yield* fresh()
        const card = yield* server.savedCard()
        const sessionId = SessionId.make(randomUUID())
        const request = {
          sessionId,
          paymentIntentId: Option.none(),
          amountPence: pence(1234),
          customerId: card.customerId,
          idempotencyKey: `${chargeKeyFor(sessionId)}-link-1`
        }

        const forPage = yield* payments.paymentForCustomer(request)

        expect(forPage).toEqual({
          paymentIntentId: expect.stringMatching(/^pi_/),
          clientSecret: expect.stringMatching(new RegExp(`^${forPage.paymentIntentId}_secret_`)),
          status: "requires_payment_method",
          amountPence: 1234
        })
        const [sent] = yield* server.requestsFor("paymentIntents.create")
        expect(sent?.idempotencyKey).toBe(request.idempotencyKey)
        expect(sent?.params).toEqual({
          amount: "1234",
          currency: "gbp",
          customer: card.customerId,
          allowed_payment_method_types: { "0": "card" },
          metadata: { session_id: sessionId, purpose: "charge" }
        })
        expect(yield* payments.paymentForCustomer(request)).toEqual(forPage)
        expect(yield* server.paymentIntents).toHaveLength(1)

        yield* server.payOnSession(forPage.paymentIntentId, { paymentMethodId: card.paymentMethodId })
        expect(Option.getOrThrow(yield* payments.readPayment(forPage.paymentIntentId))).toMatchObject({
          sessionId,
          status: "succeeded",
          receivedPence: 1234
        })
        expect(yield* payments.readCharge({ sessionId, paymentIntentId: Option.none() })).toEqual(
          Option.some({ _tag: "Succeeded", paymentIntentId: forPage.paymentIntentId, amountPence: 1234 })
        )
      })
  )

  it.effect(
    "paymentForCustomer with the charge that needs authentication hands it to the page; authenticated, it succeeds",
    () =>
      Effect.gen(function* () {
        const { server, payments } = yield* fresh()
        const request = chargeFor(yield* server.savedCard({ number: TestCards.needsAuthentication }))
        const charged = yield* payments.chargeSession(request)
        expect(charged._tag).toBe("NeedsAuthentication")
        const paymentIntentId = charged._tag === "NeedsAuthentication" ? charged.paymentIntentId : ""

        const forPage = yield* payments.paymentForCustomer({
          sessionId: request.sessionId,
          paymentIntentId: Option.some(paymentIntentId),
          amountPence: request.amountPence,
          customerId: request.customerId,
          idempotencyKey: `${request.idempotencyKey}-link-1`
        })
        expect(forPage).toMatchObject({ paymentIntentId, status: "requires_payment_method", amountPence: 1234 })
        expect(yield* server.requestsFor("paymentIntents.create")).toHaveLength(1) // only the charge

        // The 3-D Secure step failed once, then passed.
        yield* server.payOnSession(paymentIntentId, { paymentMethodId: request.paymentMethodId, authenticated: false })
        expect(Option.getOrThrow(yield* payments.readPayment(paymentIntentId)).status).toBe("requires_payment_method")
        yield* server.payOnSession(paymentIntentId, { paymentMethodId: request.paymentMethodId })
        expect(Option.getOrThrow(yield* payments.readPayment(paymentIntentId))).toMatchObject({
          status: "succeeded",
          receivedPence: 1234
        })
      })
  )

  it.effect("the page paid with another card takes that card's answer", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const card = yield* server.savedCard({ number: TestCards.chargesDeclined })
      const sessionId = SessionId.make(randomUUID())
      const forPage = yield* payments.paymentForCustomer({
        sessionId,
        paymentIntentId: Option.none(),
        amountPence: pence(800),
        customerId: card.customerId,
        idempotencyKey: `${chargeKeyFor(sessionId)}-link-2`
      })
      yield* server.payOnSession(forPage.paymentIntentId, { paymentMethodId: card.paymentMethodId })
      expect(Option.getOrThrow(yield* payments.readPayment(forPage.paymentIntentId)).status).toBe(
        "requires_payment_method"
      )
      yield* server.payOnSession(forPage.paymentIntentId, { card: { number: TestCards.pays } })
      expect(Option.getOrThrow(yield* payments.readPayment(forPage.paymentIntentId)).status).toBe("succeeded")
    })
  )

  it.effect("paymentForCustomer with another session's PaymentIntent is a defect, never a page for this one", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const paid = yield* payWith(server, payments)
      const defect = yield* defectOf(
        payments.paymentForCustomer({
          sessionId: SessionId.make(randomUUID()),
          paymentIntentId: Option.some(paid.paymentIntentId),
          amountPence: pence(1234),
          customerId: paid.request.customerId,
          idempotencyKey: "whatever"
        })
      )
      expect(String(defect)).toContain("belongs to session")
    })
  )
})
