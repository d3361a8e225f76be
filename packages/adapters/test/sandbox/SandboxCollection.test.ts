/**
 * The sandbox's payments beyond the first charge, with Stripe's semantics: card check holds
 * (manual capture, capture up to the hold, cancel, lapse), refunds and their limits, the
 * PaymentIntents of a window, the pay page's PaymentIntent and the customer completing it
 * (test 3-D Secure, or another card), for every test card.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  chargeKeyFor,
  HARD_DECLINE_CODES,
  Payments,
  type PodId,
  pence,
  type SessionId,
  type SetupIntentId
} from "@qwip/core"
import { Duration, Effect, Exit, Layer, Option, TestClock } from "effect"
import { SandboxAuthentication } from "../../src/sandbox/SandboxAuthentication.js"
import { SandboxConsole, TEST_CARDS } from "../../src/sandbox/SandboxConsole.js"
import { layerMemoryLedger } from "../../src/sandbox/SandboxLedger.js"
import { layerSandboxPayments } from "../../src/sandbox/SandboxPayments.js"

const sandbox = layerSandboxPayments.pipe(Layer.provide(layerMemoryLedger))
const SESSION = "3c1e8a0e-7d4b-4f6a-8a51-2f0c9b7e4d21" as SessionId
const OTHER_SESSION = "9a2b7c61-0e4f-4d3a-b5c8-71e6f2a9d034" as SessionId

/** A card saved for a booking, as the customer does at checkout. */
const saved = (card: string) =>
  Effect.gen(function* () {
    const payments = yield* Payments
    const console = yield* SandboxConsole
    const started = yield* payments.setUpCard({ podId: "pod-1" as PodId, idempotencyKey: `checkout-${card}` })
    yield* console.confirmSetupIntent(started.setupIntentId, { cardNumber: card, email: "ada@example.com" })
    const setUp = yield* payments.readCardSetUp(started.setupIntentId)
    return {
      setupIntentId: started.setupIntentId,
      customerId: started.customerId,
      paymentMethodId: Option.getOrThrow(setUp.paymentMethodId)
    }
  })

type Card = Effect.Effect.Success<ReturnType<typeof saved>>

const hold = (card: Card, amount = 1500, key = `qwip-booking-hold-${SESSION}`, sessionId = SESSION) =>
  Effect.flatMap(Payments, (p) =>
    p.placeHold({
      sessionId,
      setupIntentId: card.setupIntentId as SetupIntentId,
      amountPence: pence(amount),
      customerId: card.customerId,
      paymentMethodId: card.paymentMethodId,
      idempotencyKey: key
    })
  )

const charge = (card: Card, amount = 500, key = chargeKeyFor(SESSION), sessionId = SESSION) =>
  Effect.flatMap(Payments, (p) =>
    p.chargeSession({
      sessionId,
      amountPence: pence(amount),
      customerId: card.customerId,
      paymentMethodId: card.paymentMethodId,
      receiptEmail: "ada@example.com",
      idempotencyKey: key
    })
  )

const capture = (paymentIntentId: string, amount: number, key = `qwip-hold-capture-${SESSION}`) =>
  Effect.flatMap(Payments, (p) =>
    p.captureHold({ sessionId: SESSION, paymentIntentId, amountPence: pence(amount), idempotencyKey: key })
  )

const release = (paymentIntentId: string) =>
  Effect.flatMap(Payments, (p) =>
    p.releaseHold({ sessionId: SESSION, paymentIntentId, idempotencyKey: `qwip-hold-release-${SESSION}` })
  )

const refund = (paymentIntentId: string, amount: number, key: string) =>
  Effect.flatMap(Payments, (p) =>
    p.refund({ sessionId: SESSION, paymentIntentId, amountPence: pence(amount), idempotencyKey: key, reason: "test" })
  )

const read = (paymentIntentId: string) =>
  Effect.flatMap(Payments, (p) => p.readPayment(paymentIntentId)).pipe(Effect.map(Option.getOrThrow))

const idOf = (result: { readonly _tag: string; readonly paymentIntentId?: string | Option.Option<string> }) => {
  const id = result.paymentIntentId
  return typeof id === "string" ? id : Option.getOrThrow(id ?? Option.none())
}

describe("sandbox: each test card through set-up, hold and charge", () => {
  const cases = [
    { card: TEST_CARDS.succeeds, hold: "Held", charge: "Succeeded", code: null },
    { card: TEST_CARDS.chargesDeclined, hold: "Declined", charge: "Declined", code: "card_declined" },
    {
      card: TEST_CARDS.chargesNeedAuthentication,
      hold: "NeedsAuthentication",
      charge: "NeedsAuthentication",
      code: null
    },
    {
      card: TEST_CARDS.chargesDeclinedInsufficientFunds,
      hold: "Declined",
      charge: "Declined",
      code: "insufficient_funds"
    },
    { card: TEST_CARDS.chargesDeclinedLostCard, hold: "Declined", charge: "Declined", code: "lost_card" }
  ] as const

  for (const c of cases) {
    it.effect(`${c.card}: the card saves; a hold is ${c.hold}, a charge ${c.charge}`, () =>
      Effect.gen(function* () {
        const card = yield* saved(c.card)
        const held = yield* hold(card)
        expect(held._tag).toBe(c.hold)
        const charged = yield* charge(card)
        expect(charged._tag).toBe(c.charge)
        if (c.code !== null) {
          expect(held._tag === "Declined" && held.code).toBe(c.code)
          expect(charged._tag === "Declined" && charged.code).toBe(c.code)
        }
        const h = yield* read(idOf(held))
        expect(h).toMatchObject({ sessionId: SESSION, purpose: "hold", amountPence: 1500, receivedPence: 0 })
        expect(h.status).toBe(
          { Held: "requires_capture", Declined: "requires_payment_method", NeedsAuthentication: "requires_action" }[
            c.hold
          ]
        )
        const ch = yield* read(idOf(charged))
        expect(ch).toMatchObject({
          purpose: "charge",
          amountPence: 500,
          receivedPence: c.charge === "Succeeded" ? 500 : 0
        })
      }).pipe(Effect.provide(sandbox))
    )
  }

  it("insufficient_funds is a soft decline (retried), lost_card a hard one (never retried)", () => {
    expect(HARD_DECLINE_CODES.has("insufficient_funds")).toBe(false)
    expect(HARD_DECLINE_CODES.has("card_declined")).toBe(false)
    expect(HARD_DECLINE_CODES.has("lost_card")).toBe(true)
  })

  it.effect("4000000000000002 never saves, so there is nothing to hold or charge", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const console = yield* SandboxConsole
      const started = yield* payments.setUpCard({ podId: "pod-1" as PodId, idempotencyKey: "checkout-0002" })
      const refused = yield* Effect.flip(
        console.confirmSetupIntent(started.setupIntentId, { cardNumber: TEST_CARDS.declinedAtConfirm, email: "a@b.co" })
      )
      expect(refused._tag === "SandboxCardDeclined" && refused.code).toBe("card_declined")
      expect((yield* payments.readCardSetUp(started.setupIntentId)).paymentMethodId).toEqual(Option.none())
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a repeated key places no second hold; its answer is the first, even once captured", () =>
    Effect.gen(function* () {
      const card = yield* saved(TEST_CARDS.succeeds)
      const first = yield* hold(card)
      expect(yield* hold(card)).toEqual(first)
      yield* capture(idOf(first), 500)
      expect(yield* hold(card)).toEqual(first)
      const declined = yield* saved(TEST_CARDS.chargesDeclined)
      const d = yield* hold(declined, 1500, "other-key")
      expect(yield* hold(declined, 1500, "other-key")).toEqual(d)
      const pis = (yield* Effect.flatMap(SandboxConsole, (c) => c.listPayments)).filter(
        (r) => r.object === "payment_intent"
      )
      expect(pis).toHaveLength(2)
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a hold is never what readCharge finds for the session", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const card = yield* saved(TEST_CARDS.succeeds)
      yield* hold(card)
      expect(yield* payments.readCharge({ sessionId: SESSION, paymentIntentId: Option.none() })).toEqual(Option.none())
      const charged = yield* charge(card)
      expect(yield* payments.readCharge({ sessionId: SESSION, paymentIntentId: Option.none() })).toEqual(
        Option.some(charged)
      )
    }).pipe(Effect.provide(sandbox))
  )
})

describe("sandbox: capturing and cancelling a hold", () => {
  it.effect("captures up to the hold once; a repeat answers the same; the rest is let go", () =>
    Effect.gen(function* () {
      const card = yield* saved(TEST_CARDS.succeeds)
      const id = idOf(yield* hold(card))
      expect(yield* capture(id, 700)).toEqual({ _tag: "Captured", amountPence: 700 })
      expect(yield* capture(id, 700)).toEqual({ _tag: "Captured", amountPence: 700 })
      // Another key finds it captured already, as Stripe answers a second capture.
      expect(yield* capture(id, 700, "someone-else")).toEqual({ _tag: "NotCapturable", status: "succeeded" })
      expect(yield* read(id)).toMatchObject({ status: "succeeded", amountPence: 1500, receivedPence: 700 })
      expect(yield* release(id)).toBe("captured")
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("capturing more than the hold is refused as Stripe refuses it", () =>
    Effect.gen(function* () {
      const card = yield* saved(TEST_CARDS.succeeds)
      const id = idOf(yield* hold(card))
      const exit = yield* Effect.exit(capture(id, 1501))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("1501p asked of a 1500p hold")
      expect((yield* read(id)).status).toBe("requires_capture")
      expect(yield* capture(id, 1500)).toEqual({ _tag: "Captured", amountPence: 1500 })
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a released hold stays released and cannot be captured", () =>
    Effect.gen(function* () {
      const card = yield* saved(TEST_CARDS.succeeds)
      const id = idOf(yield* hold(card))
      expect(yield* release(id)).toBe("released")
      expect(yield* release(id)).toBe("released")
      expect(yield* capture(id, 500)).toEqual({ _tag: "NotCapturable", status: "canceled" })
      expect(yield* read(id)).toMatchObject({ status: "canceled", receivedPence: 0 })
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a declined hold cannot be captured; releasing it cancels it", () =>
    Effect.gen(function* () {
      const card = yield* saved(TEST_CARDS.chargesDeclinedInsufficientFunds)
      const id = idOf(yield* hold(card))
      expect(yield* capture(id, 500)).toEqual({ _tag: "NotCapturable", status: "requires_payment_method" })
      expect(yield* release(id)).toBe("released")
      expect((yield* read(id)).status).toBe("canceled")
      expect(yield* capture("pi_nothing", 500)).toEqual({ _tag: "NotCapturable", status: "missing" })
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a hold left uncaptured for seven days lapses, as Stripe's do", () =>
    Effect.gen(function* () {
      const card = yield* saved(TEST_CARDS.succeeds)
      const id = idOf(yield* hold(card))
      yield* TestClock.adjust(Duration.days(7).pipe(Duration.subtract(Duration.minutes(1))))
      expect((yield* read(id)).status).toBe("requires_capture")
      yield* TestClock.adjust(Duration.minutes(1))
      expect((yield* read(id)).status).toBe("canceled")
      expect(yield* capture(id, 500)).toEqual({ _tag: "NotCapturable", status: "canceled" })
    }).pipe(Effect.provide(sandbox))
  )
})

describe("sandbox: refunds", () => {
  it.effect("never more than received; a repeated key refunds nothing more", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const card = yield* saved(TEST_CARDS.succeeds)
      const id = idOf(yield* charge(card, 500))
      const first = yield* refund(id, 200, "r-200")
      expect(first).toMatchObject({
        paymentIntentId: id,
        amountPence: 200,
        status: "succeeded",
        key: Option.some("r-200")
      })
      expect(yield* refund(id, 200, "r-200")).toEqual(first)
      const tooMuch = yield* Effect.flip(refund(id, 301, "r-301"))
      expect(tooMuch._tag).toBe("RefundRefused")
      expect(tooMuch.reason).toContain("300p of 500p")
      const rest = yield* refund(id, 300, "r-rest")
      expect((yield* Effect.flip(refund(id, 1, "r-1"))).reason).toContain("0p of 500p")
      expect(yield* payments.refundsOf(id)).toEqual([first, rest])
      expect(yield* read(id)).toMatchObject({ receivedPence: 500, refundedPence: 500 })
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a captured hold refunds up to what was captured, not the hold", () =>
    Effect.gen(function* () {
      const card = yield* saved(TEST_CARDS.succeeds)
      const id = idOf(yield* hold(card))
      yield* capture(id, 400)
      expect((yield* Effect.flip(refund(id, 401, "r"))).reason).toContain("400p of 400p")
      expect((yield* refund(id, 400, "r")).amountPence).toBe(400)
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("nothing paid, nothing to refund: declined, held, unknown", () =>
    Effect.gen(function* () {
      const declined = yield* saved(TEST_CARDS.chargesDeclined)
      const d = idOf(yield* charge(declined))
      expect((yield* Effect.flip(refund(d, 100, "r"))).reason).toContain("requires_payment_method")
      const ok = yield* saved(TEST_CARDS.succeeds)
      const h = idOf(yield* hold(ok))
      expect((yield* Effect.flip(refund(h, 100, "r"))).reason).toContain("requires_capture")
      expect((yield* Effect.flip(refund("pi_nothing", 100, "r"))).reason).toContain("no such PaymentIntent")
      expect(yield* Effect.flatMap(Payments, (p) => p.refundsOf("pi_nothing"))).toEqual([])
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a dashboard refund has no key of ours and counts against the limit", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const console = yield* SandboxConsole
      const card = yield* saved(TEST_CARDS.succeeds)
      const id = idOf(yield* charge(card, 500))
      const byHand = yield* console.refundFromDashboard(id, pence(450))
      expect(byHand.key).toEqual(Option.none())
      expect((yield* Effect.flip(refund(id, 100, "ours"))).reason).toContain("50p of 500p")
      expect(yield* payments.refundsOf(id)).toEqual([byHand])
    }).pipe(Effect.provide(sandbox))
  )
})

describe("sandbox: the session payments of a window", () => {
  it.effect("by creation time in [since, until), holds and charges with their purpose", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const start = new Date(yield* TestClock.currentTimeMillis)
      const card = yield* saved(TEST_CARDS.succeeds)
      const held = idOf(yield* hold(card))
      yield* TestClock.adjust(Duration.hours(1))
      const charged = idOf(yield* charge(card))
      yield* TestClock.adjust(Duration.hours(1))
      const other = idOf(yield* charge(card, 300, chargeKeyFor(OTHER_SESSION), OTHER_SESSION))
      const hour = (n: number) => new Date(start.getTime() + n * 3_600_000)

      const first = yield* payments.sessionPayments({ since: start, until: hour(1) })
      expect(first.map((p) => [p.paymentIntentId, p.purpose, p.sessionId])).toEqual([[held, "hold", SESSION]])
      const all = yield* payments.sessionPayments({ since: start, until: hour(3) })
      expect(new Set(all.map((p) => p.paymentIntentId))).toEqual(new Set([held, charged, other]))
      expect(all.find((p) => p.paymentIntentId === other)).toMatchObject({
        sessionId: OTHER_SESSION,
        purpose: "charge",
        status: "succeeded",
        amountPence: 300,
        receivedPence: 300,
        refundedPence: 0,
        createdAt: hour(2)
      })
      const later = yield* payments.sessionPayments({ since: hour(1), until: hour(2) })
      expect(later.map((p) => p.paymentIntentId)).toEqual([charged])
      expect(yield* payments.sessionPayments({ since: hour(3), until: hour(4) })).toEqual([])
    }).pipe(Effect.provide(sandbox))
  )
})

describe("sandbox: the pay page's PaymentIntent and the customer completing it", () => {
  it.effect("authentication succeeds: the charge is paid and reads back paid", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const auth = yield* SandboxAuthentication
      const card = yield* saved(TEST_CARDS.chargesNeedAuthentication)
      const pending = yield* charge(card)
      expect(pending._tag).toBe("NeedsAuthentication")
      const id = idOf(pending)
      const page = yield* payments.paymentForCustomer({
        sessionId: SESSION,
        paymentIntentId: Option.some(id),
        amountPence: pence(500),
        customerId: card.customerId,
        idempotencyKey: `${chargeKeyFor(SESSION)}-link-1`
      })
      expect(page).toMatchObject({ paymentIntentId: id, status: "requires_action", amountPence: 500 })
      expect(page.clientSecret.startsWith(`${id}_secret_`)).toBe(true)
      expect(yield* auth.complete(id, "succeeded")).toEqual({
        paymentIntentId: id,
        status: "succeeded",
        lastPaymentError: Option.none()
      })
      expect(yield* read(id)).toMatchObject({ status: "succeeded", receivedPence: 500 })
      expect(yield* payments.readCharge({ sessionId: SESSION, paymentIntentId: Option.none() })).toEqual(
        Option.some({ _tag: "Succeeded", paymentIntentId: id, amountPence: 500 })
      )
      const again = yield* Effect.flip(auth.complete(id, "succeeded"))
      expect(again).toMatchObject({ _tag: "SandboxPaymentNotOpen", status: "succeeded" })
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("authentication fails: requires_payment_method with authentication_failed; another card then pays", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const auth = yield* SandboxAuthentication
      const card = yield* saved(TEST_CARDS.chargesNeedAuthentication)
      const id = idOf(yield* charge(card))
      const failed = yield* auth.complete(id, "failed")
      expect(failed.status).toBe("requires_payment_method")
      expect(Option.map(failed.lastPaymentError, (e) => e.code)).toEqual(Option.some("authentication_failed"))
      const reading = yield* payments.readCharge({ sessionId: SESSION, paymentIntentId: Option.some(id) })
      expect(Option.map(reading, (r) => r._tag === "Declined" && r.code)).toEqual(Option.some("authentication_failed"))
      expect((yield* auth.payWithCard(id, "4242 4242 4242 4242")).status).toBe("succeeded")
      expect(yield* read(id)).toMatchObject({ status: "succeeded", receivedPence: 500 })
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a new PaymentIntent for what is owed, paid with the test cards as they behave", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const auth = yield* SandboxAuthentication
      const card = yield* saved(TEST_CARDS.chargesDeclinedInsufficientFunds)
      const declined = yield* charge(card)
      expect(declined._tag).toBe("Declined")
      const ask = (key: string) =>
        payments.paymentForCustomer({
          sessionId: SESSION,
          paymentIntentId: Option.none(),
          amountPence: pence(650),
          customerId: card.customerId,
          idempotencyKey: key
        })
      const page = yield* ask(`${chargeKeyFor(SESSION)}-link-1`)
      expect(page).toMatchObject({ status: "requires_payment_method", amountPence: 650 })
      expect(yield* ask(`${chargeKeyFor(SESSION)}-link-1`)).toEqual(page)
      const id = page.paymentIntentId
      expect(yield* read(id)).toMatchObject({ purpose: "charge", sessionId: SESSION, receivedPence: 0 })

      const tries = [
        [TEST_CARDS.chargesDeclinedLostCard, "requires_payment_method", "lost_card"],
        [TEST_CARDS.declinedAtConfirm, "requires_payment_method", "card_declined"],
        ["1234123412341234", "requires_payment_method", "invalid_number"],
        [TEST_CARDS.chargesNeedAuthentication, "requires_action", null]
      ] as const
      for (const [number, status, code] of tries) {
        const outcome = yield* auth.payWithCard(id, number)
        expect(outcome.status, number).toBe(status)
        expect(Option.getOrNull(Option.map(outcome.lastPaymentError, (e) => e.code)), number).toBe(code)
      }
      expect((yield* auth.complete(id, "succeeded")).status).toBe("succeeded")
      expect(yield* read(id)).toMatchObject({ status: "succeeded", receivedPence: 650 })
      const paid = yield* Effect.flip(auth.payWithCard(id, TEST_CARDS.succeeds))
      expect(paid).toMatchObject({ _tag: "SandboxPaymentNotOpen", status: "succeeded" })
      // The pay page's PaymentIntent is not the session's charge: the charge read back is still the decline.
      const reading = yield* payments.readCharge({ sessionId: SESSION, paymentIntentId: Option.none() })
      expect(Option.map(reading, (r) => r._tag)).toEqual(Option.some("Declined"))
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a cancelled PaymentIntent is replaced by a new one; unknown ones are not found", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const auth = yield* SandboxAuthentication
      const card = yield* saved(TEST_CARDS.chargesNeedAuthentication)
      const held = idOf(yield* hold(card))
      yield* release(held)
      const page = yield* payments.paymentForCustomer({
        sessionId: SESSION,
        paymentIntentId: Option.some(held),
        amountPence: pence(500),
        customerId: card.customerId,
        idempotencyKey: "link-2"
      })
      expect(page.paymentIntentId).not.toBe(held)
      expect(page.status).toBe("requires_payment_method")
      expect(yield* Effect.flip(auth.complete("pi_nothing", "succeeded"))).toMatchObject({
        _tag: "SandboxPaymentNotFound",
        paymentIntentId: "pi_nothing"
      })
      expect(yield* payments.readPayment("pi_nothing")).toEqual(Option.none())
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("a hold that needed authentication is held once completed, and captures", () =>
    Effect.gen(function* () {
      const auth = yield* SandboxAuthentication
      const card = yield* saved(TEST_CARDS.chargesNeedAuthentication)
      const id = idOf(yield* hold(card))
      expect((yield* auth.complete(id, "succeeded")).status).toBe("requires_capture")
      expect(yield* capture(id, 900)).toEqual({ _tag: "Captured", amountPence: 900 })
    }).pipe(Effect.provide(sandbox))
  )
})
