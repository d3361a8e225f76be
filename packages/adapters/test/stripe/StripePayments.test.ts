import { expect, layer } from "@effect/vitest"
import { pence, SetupIntentId } from "@qwip/core"
import { Cards, Faults, StripeServer } from "@qwip/test-support/StripeServer"
import { Effect, Option } from "effect"
import Stripe from "stripe"
import { chargeFailure } from "../../src/stripe/StripeAnswer.js"
import { STRIPE_API_VERSION } from "../../src/stripe/StripeClient.js"
import { chargeFor, defectOf, fresh, setUpAndComplete, soho } from "../support/StripePaymentsKit.js"

layer(StripeServer.layer)("StripePayments", (it) => {
  it.effect(
    "setUpCard creates a Customer, then an off-session card SetupIntent for the pod, each under its own key",
    () =>
      Effect.gen(function* () {
        const { server, payments } = yield* fresh()
        const started = yield* payments.setUpCard({ podId: soho, idempotencyKey: "qwip-checkout-1" })

        expect(started.setupIntentId).toMatch(/^seti_/)
        expect(started.clientSecret).toMatch(new RegExp(`^${started.setupIntentId}_secret_`))
        expect(started.customerId).toMatch(/^cus_/)
        const [customer] = yield* server.requestsFor("customers.create")
        expect(customer?.idempotencyKey).toBe("qwip-checkout-1:customer")
        expect(customer?.params).toEqual({ metadata: { pod_id: "pod-soho-1" } })
        const [setUp] = yield* server.requestsFor("setupIntents.create")
        expect(setUp?.idempotencyKey).toBe("qwip-checkout-1:setup-intent")
        expect(setUp?.params).toEqual({
          customer: started.customerId,
          usage: "off_session",
          allowed_payment_method_types: { "0": "card" },
          metadata: { pod_id: "pod-soho-1" }
        })
      })
  )

  it.effect("sends every request pinned to the SDK's API version", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      yield* payments.setUpCard({ podId: soho, idempotencyKey: "qwip-checkout-version" })
      const requests = yield* server.requests
      expect(requests.length).toBeGreaterThan(0)
      for (const request of requests) expect(request.stripeVersion).toBe(STRIPE_API_VERSION)
    })
  )

  it.effect("a retried setUpCard with the same key is the same set-up: one Customer, one SetupIntent", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const first = yield* payments.setUpCard({ podId: soho, idempotencyKey: "qwip-checkout-2" })
      const again = yield* payments.setUpCard({ podId: soho, idempotencyKey: "qwip-checkout-2" })

      expect(again).toEqual(first)
      expect(yield* server.customers).toHaveLength(1)
      expect((yield* server.requests).map((request) => request.outcome)).toEqual([
        "handled",
        "handled",
        "replayed",
        "replayed"
      ])
    })
  )

  it.effect("readCardSetUp reads the pod, the customer, the saved card and the card holder's email", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const started = yield* setUpAndComplete(payments, server, { email: "ada@example.com" })

      const setUp = yield* payments.readCardSetUp(started.setupIntentId)
      expect(setUp.status).toBe("succeeded")
      expect(setUp.podId).toEqual(Option.some("pod-soho-1"))
      expect(setUp.customerId).toEqual(Option.some(started.customerId))
      expect(Option.getOrThrow(setUp.paymentMethodId)).toMatch(/^pm_/)
      expect(setUp.email).toBe("ada@example.com")
      const [read] = yield* server.requestsFor("setupIntents.retrieve")
      expect(read?.params).toEqual({ expand: { "0": "payment_method" } })
    })
  )

  it.effect("readCardSetUp falls back to hello@qwip.co.uk when the card holder gave no email", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const started = yield* setUpAndComplete(payments, server, { email: null })
      const setUp = yield* payments.readCardSetUp(started.setupIntentId)
      expect(setUp.email).toBe("hello@qwip.co.uk")
    })
  )

  it.effect("a set-up the customer has not finished has no card, and its status says what is missing", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const started = yield* payments.setUpCard({ podId: soho, idempotencyKey: "qwip-checkout-3" })

      const unfinished = yield* payments.readCardSetUp(started.setupIntentId)
      expect(unfinished.status).toBe("requires_payment_method")
      expect(unfinished.paymentMethodId).toEqual(Option.none())
      expect(unfinished.email).toBe("hello@qwip.co.uk")

      // Attached but not confirmed: the next step is still the customer's.
      yield* server.updateSetupIntent(started.setupIntentId, { status: "requires_confirmation" })
      expect((yield* payments.readCardSetUp(started.setupIntentId)).status).toBe("requires_action")
    })
  )

  it.effect("an unknown SetupIntent is SetupIntentNotFound", () =>
    Effect.gen(function* () {
      const { payments } = yield* fresh()
      const error = yield* Effect.flip(payments.readCardSetUp(SetupIntentId.make("seti_does_not_exist")))
      expect(error._tag).toBe("SetupIntentNotFound")
      expect(error.message).toBe("card set-up seti_does_not_exist does not exist")
    })
  )

  it.effect("Stripe failing during a set-up is PaymentsUnavailable naming the operation", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      yield* server.failNext("setupIntents.retrieve", Faults.serverError)
      const reading = yield* Effect.flip(payments.readCardSetUp(SetupIntentId.make("seti_any")))
      expect(reading._tag).toBe("PaymentsUnavailable")
      expect(reading.message).toMatch(/during readCardSetUp: Stripe failed \(500\)/)

      yield* server.failNext("customers.create", Faults.rateLimited)
      const starting = yield* Effect.flip(payments.setUpCard({ podId: soho, idempotencyKey: "qwip-checkout-4" }))
      expect(starting).toMatchObject({ _tag: "PaymentsUnavailable", operation: "setUpCard" })
    })
  )

  it.effect("chargeSession charges the saved card off-session in GBP, tagged with the session, under its key", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const card = yield* server.savedCard()
      const request = chargeFor(card)

      const result = yield* payments.chargeSession(request)
      expect(result).toMatchObject({ _tag: "Succeeded", amountPence: 1234 })
      const [sent] = yield* server.requestsFor("paymentIntents.create")
      expect(sent?.idempotencyKey).toBe(`qwip-session-charge-${request.sessionId}`)
      expect(sent?.params).toEqual({
        amount: "1234",
        currency: "gbp",
        customer: card.customerId,
        payment_method: card.paymentMethodId,
        confirm: "true",
        off_session: "true",
        receipt_email: "ada@example.com",
        allowed_payment_method_types: { "0": "card" },
        metadata: { session_id: request.sessionId }
      })
      const [intent] = yield* server.paymentIntents
      expect(result._tag === "Succeeded" && result.paymentIntentId).toBe(intent?.id)
    })
  )

  it.effect("a retried charge with the same key is the same charge: one PaymentIntent", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard())

      const first = yield* payments.chargeSession(request)
      const again = yield* payments.chargeSession(request)
      expect(again).toEqual(first)
      expect(yield* server.paymentIntents).toHaveLength(1)
      expect((yield* server.requestsFor("paymentIntents.create")).map((r) => r.outcome)).toEqual([
        "handled",
        "replayed"
      ])
    })
  )

  it.effect("a declined card is Declined with the issuer's code, message and the PaymentIntent", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard({ behaviour: Cards.insufficientFunds }))

      const result = yield* payments.chargeSession(request)
      const [intent] = yield* server.paymentIntents
      expect(result).toEqual({
        _tag: "Declined",
        code: "insufficient_funds",
        message: "Your card has insufficient funds.",
        paymentIntentId: Option.some(intent?.id)
      })
      // Read back later, the charge says the same.
      const reading = yield* payments.readCharge({ sessionId: request.sessionId, paymentIntentId: Option.none() })
      expect(reading).toEqual(Option.some(result))
    })
  )

  it.effect("a card that needs its holder's authentication (SCA) is NeedsAuthentication, not a decline", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard({ behaviour: Cards.needsAuthentication }))

      const result = yield* payments.chargeSession(request)
      const [intent] = yield* server.paymentIntents
      expect(intent?.status).toBe("requires_payment_method")
      expect(result).toEqual({ _tag: "NeedsAuthentication", paymentIntentId: intent?.id })
      const reading = yield* payments.readCharge({
        sessionId: request.sessionId,
        paymentIntentId: Option.some(intent?.id ?? "")
      })
      expect(reading).toEqual(Option.some(result))
    })
  )

  it.effect("a PaymentIntent left in requires_action is NeedsAuthentication", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const result = yield* payments.chargeSession(
        chargeFor(yield* server.savedCard({ behaviour: Cards.requiresAction }))
      )
      const [intent] = yield* server.paymentIntents
      expect(result).toEqual({ _tag: "NeedsAuthentication", paymentIntentId: intent?.id })
    })
  )

  it.effect("a charge still processing is PaymentsUnavailable (outcome unknown), and reads back as Processing", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard({ behaviour: Cards.processing }))

      const error = yield* Effect.flip(payments.chargeSession(request))
      expect(error.reason).toMatch(/is processing; the outcome is not known yet/)
      const reading = yield* payments.readCharge({ sessionId: request.sessionId, paymentIntentId: Option.none() })
      expect(Option.getOrThrow(reading)._tag).toBe("Processing")
    })
  )

  it.effect("Stripe's 500, 429 and a refused key are PaymentsUnavailable, never a decline", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard())

      yield* server.failNext("paymentIntents.create", Faults.serverError)
      expect((yield* Effect.flip(payments.chargeSession(request))).reason).toMatch(/^Stripe failed \(500\)/)
      yield* server.failNext("paymentIntents.create", Faults.rateLimited)
      expect((yield* Effect.flip(payments.chargeSession(request))).reason).toMatch(/rate limiting/)
      yield* server.failNext("paymentIntents.create", Faults.badApiKey)
      expect((yield* Effect.flip(payments.chargeSession(request))).reason).toMatch(/check STRIPE_SECRET/)
      expect(yield* server.paymentIntents).toHaveLength(0)
      // None of those answers was stored against the key: the next try charges.
      expect((yield* payments.chargeSession(request))._tag).toBe("Succeeded")
    })
  )

  it.effect("a connection reset before Stripe acts is PaymentsUnavailable", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      // The SDK retries a reset connection once by itself, even with retries off.
      yield* server.failNext("paymentIntents.create", Faults.dropBeforeHandling, 2)
      const error = yield* Effect.flip(payments.chargeSession(chargeFor(yield* server.savedCard())))
      expect(error).toMatchObject({ _tag: "PaymentsUnavailable", operation: "chargeSession" })
      expect(error.reason).toMatch(/^could not reach Stripe/)
      expect(yield* server.requestsFor("paymentIntents.create")).toHaveLength(2)
      expect(yield* server.paymentIntents).toHaveLength(0)
    })
  )

  it.effect("Stripe not answering in time is PaymentsUnavailable", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh({ timeoutMs: 200 })
      yield* server.failNext("paymentIntents.create", Faults.hang)
      const error = yield* Effect.flip(payments.chargeSession(chargeFor(yield* server.savedCard())))
      expect(error.reason).toMatch(/timeout/)
    })
  )

  it.effect("a charge made but unanswered is PaymentsUnavailable; retrying with the key finds that one charge", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard())
      // Stripe charges; the answer is lost twice (the request and the SDK's own retry).
      yield* server.failNext("paymentIntents.create", Faults.dropAfterHandling, 2)

      const lost = yield* Effect.flip(payments.chargeSession(request))
      expect(lost._tag).toBe("PaymentsUnavailable")
      const [intent] = yield* server.paymentIntents
      expect(intent?.status).toBe("succeeded")

      const retried = yield* payments.chargeSession(request)
      expect(retried).toEqual({ _tag: "Succeeded", paymentIntentId: intent?.id, amountPence: 1234 })
      expect(yield* server.paymentIntents).toHaveLength(1)
    })
  )

  it.effect("409 idempotency_key_in_use (the same key still running) is PaymentsUnavailable, never a decline", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard())
      yield* server.failNext("paymentIntents.create", Faults.keyInUse)
      const error = yield* Effect.flip(payments.chargeSession(request))
      expect(error).toMatchObject({ _tag: "PaymentsUnavailable", operation: "chargeSession" })
      expect(error.reason).toMatch(/^a request with the same key is still in progress at Stripe; ask again later/)
      expect(yield* server.paymentIntents).toHaveLength(0)
      expect((yield* payments.chargeSession(request))._tag).toBe("Succeeded")
    })
  )

  it.effect("a 409 idempotency_key_in_use is read from status and code, whatever class the SDK maps it to", () =>
    Effect.gen(function* () {
      const raw = {
        statusCode: 409,
        code: "idempotency_key_in_use",
        type: "invalid_request_error",
        message: "There is currently another in-progress request using this Stripe-Idempotency-Key header"
      } as const
      for (const error of [
        new Stripe.errors.StripeInvalidRequestError(raw),
        new Stripe.errors.StripeCardError({ ...raw, type: "card_error" }),
        new Stripe.errors.StripeIdempotencyError({ ...raw, type: "idempotency_error" }),
        new Stripe.errors.StripeAPIError({ ...raw, type: "api_error" })
      ]) {
        const outcome = yield* Effect.either(chargeFailure(error))
        expect(outcome._tag === "Left" && outcome.left._tag).toBe("PaymentsUnavailable")
      }
    })
  )

  it.effect(
    "a charge stored but never answered is PaymentsUnavailable at the deadline; the key finds that one charge",
    () =>
      Effect.gen(function* () {
        const { server, payments } = yield* fresh({ timeoutMs: 200 })
        const request = chargeFor(yield* server.savedCard())
        yield* server.failNext("paymentIntents.create", Faults.hangAfterHandling)
        expect((yield* Effect.flip(payments.chargeSession(request)))._tag).toBe("PaymentsUnavailable")
        const [intent] = yield* server.paymentIntents
        expect(intent?.status).toBe("succeeded")
        expect(yield* payments.chargeSession(request)).toEqual({
          _tag: "Succeeded",
          paymentIntentId: intent?.id,
          amountPence: 1234
        })
        expect(yield* server.paymentIntents).toHaveLength(1)
      })
  )

  it.effect("a 500 after Stripe stored the charge is PaymentsUnavailable; the key replays that one charge", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard())
      yield* server.failNext("paymentIntents.create", Faults.serverErrorAfterStoring)
      expect((yield* Effect.flip(payments.chargeSession(request))).reason).toMatch(/^Stripe failed \(500\)/)
      expect((yield* payments.chargeSession(request))._tag).toBe("Succeeded")
      expect(yield* server.paymentIntents).toHaveLength(1)
      expect((yield* server.requestsFor("paymentIntents.create")).map((r) => r.outcome)).toEqual([
        "handled",
        "replayed"
      ])
    })
  )

  it.effect("the SDK's own retries reuse the session's key, so a 500 then success charges once", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh({ maxNetworkRetries: 1 })
      const request = chargeFor(yield* server.savedCard())
      yield* server.failNext("paymentIntents.create", Faults.serverError)

      expect((yield* payments.chargeSession(request))._tag).toBe("Succeeded")
      const attempts = yield* server.requestsFor("paymentIntents.create")
      expect(attempts.map((attempt) => [attempt.outcome, attempt.idempotencyKey])).toEqual([
        ["faulted", request.idempotencyKey],
        ["handled", request.idempotencyKey]
      ])
      expect(yield* server.paymentIntents).toHaveLength(1)
    })
  )

  it.effect("one key used for two different charges is a defect (a bug), not a failure to handle", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const request = chargeFor(yield* server.savedCard())
      yield* payments.chargeSession(request)

      const defect = yield* defectOf(payments.chargeSession({ ...request, amountPence: pence(999) }))
      expect(defect).toMatchObject({ _tag: "StripeRequestRejected", errorType: "StripeIdempotencyError" })
      expect(yield* server.paymentIntents).toHaveLength(1)
    })
  )

  it.effect("a card deleted at Stripe is Declined with Stripe's code, so a person can follow it up", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const card = yield* server.savedCard()
      const result = yield* payments.chargeSession(chargeFor({ ...card, paymentMethodId: "pm_deleted" }))
      expect(result).toEqual({
        _tag: "Declined",
        code: "resource_missing",
        message: "No such PaymentMethod: 'pm_deleted'",
        paymentIntentId: Option.none()
      })
    })
  )

  it.effect("a parameter Stripe does not accept, or an unknown URL, is a defect: every charge would fail alike", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      yield* server.failNext("paymentIntents.create", {
        _tag: "Reply",
        status: 400,
        error: {
          type: "invalid_request_error",
          code: "parameter_unknown",
          param: "x",
          message: "Received unknown parameter: x"
        }
      })
      const defect = yield* defectOf(payments.chargeSession(chargeFor(yield* server.savedCard())))
      expect(defect).toBeInstanceOf(Error)
      expect((defect as Error).message).toMatch(
        /^Stripe rejected chargeSession \(StripeInvalidRequestError 400 parameter_unknown\): Received unknown parameter: x/
      )

      // No code at all (an API base that is not Stripe's): ours to fix, not the customer's.
      yield* server.failNext("paymentIntents.create", {
        _tag: "Reply",
        status: 404,
        error: { type: "invalid_request_error", message: "Unrecognized request URL (POST: /v1/payment_intents)." }
      })
      const unknownUrl = yield* defectOf(payments.chargeSession(chargeFor(yield* server.savedCard())))
      expect(unknownUrl).toMatchObject({ _tag: "StripeRequestRejected", status: 404 })
    })
  )
})
