import { describe, expect, it } from "@effect/vitest"
import {
  Checkout,
  chargeKeyFor,
  Payments,
  type PodId,
  Policy,
  pence,
  SessionEnd,
  type SessionId,
  Worker
} from "@qwip/core"
import * as TestKit from "@qwip/core/testing"
import { Duration, Effect, Layer, Option, TestClock } from "effect"
import { SandboxConsole, TEST_CARDS } from "../../src/sandbox/SandboxConsole.js"
import { layerMemoryLedger } from "../../src/sandbox/SandboxLedger.js"
import { layerSandboxPayments } from "../../src/sandbox/SandboxPayments.js"

const sandbox = layerSandboxPayments.pipe(Layer.provide(layerMemoryLedger))
const SESSION = "6f1d3c52-1b7a-4c1e-9d59-0d2b8a1c9e11" as SessionId

const setUp = (card: string, email = "ada@example.com") =>
  Effect.gen(function* () {
    const payments = yield* Payments
    const console = yield* SandboxConsole
    const started = yield* payments.setUpCard({ podId: "pod-1" as PodId, idempotencyKey: `checkout-${card}-${email}` })
    const confirmed = yield* Effect.either(
      console.confirmSetupIntent(started.setupIntentId, { cardNumber: card, email })
    )
    return { started, confirmed, result: yield* payments.readCardSetUp(started.setupIntentId) }
  })

const charge = (paymentMethodId: string, key = chargeKeyFor(SESSION)) =>
  Effect.flatMap(Payments, (p) =>
    p.chargeSession({
      sessionId: SESSION,
      amountPence: pence(500),
      customerId: "cus_x",
      paymentMethodId,
      receiptEmail: "ada@example.com",
      idempotencyKey: key
    })
  )

describe("sandbox payments", () => {
  it.effect("set-up intents look like Stripe's and 4242 charges succeed", () =>
    Effect.gen(function* () {
      const { started, result } = yield* setUp(TEST_CARDS.succeeds)
      expect(started.setupIntentId).toMatch(/^seti_/)
      expect(started.clientSecret.startsWith(`${started.setupIntentId}_secret_`)).toBe(true)
      expect(result.status).toBe("succeeded")
      expect(result.podId).toEqual(Option.some("pod-1"))
      expect(result.email).toBe("ada@example.com")
      const pm = Option.getOrThrow(result.paymentMethodId)
      const first = yield* charge(pm)
      expect(first._tag).toBe("Succeeded")
      expect(yield* charge(pm)).toEqual(first) // same idempotency key, same charge
      const listed = yield* Effect.flatMap(SandboxConsole, (c) => c.listPayments)
      expect(listed.filter((r) => r.object === "payment_intent")).toHaveLength(1)
      const read = yield* Effect.flatMap(Payments, (p) =>
        p.readCharge({ sessionId: SESSION, paymentIntentId: Option.none() })
      )
      expect(read).toEqual(Option.some(first))
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("the same checkout key returns the same set-up intent", () =>
    Effect.gen(function* () {
      const payments = yield* Payments
      const a = yield* payments.setUpCard({ podId: "pod-1" as PodId, idempotencyKey: "k" })
      const b = yield* payments.setUpCard({ podId: "pod-1" as PodId, idempotencyKey: "k" })
      expect(b).toEqual(a)
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("4000000000000002 is declined at confirm and the set-up stays unconfirmed", () =>
    Effect.gen(function* () {
      const { confirmed, result } = yield* setUp(TEST_CARDS.declinedAtConfirm)
      expect(confirmed._tag === "Left" && confirmed.left._tag).toBe("SandboxCardDeclined")
      expect(result.status).toBe("requires_payment_method")
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("0341 attaches but charges are declined; 3184 charges need authentication", () =>
    Effect.gen(function* () {
      const declines = yield* setUp(TEST_CARDS.chargesDeclined)
      expect(declines.result.status).toBe("succeeded")
      const d = yield* charge(Option.getOrThrow(declines.result.paymentMethodId), "k1")
      expect(d._tag === "Declined" && d.code).toBe("card_declined")
      const auth = yield* setUp(TEST_CARDS.chargesNeedAuthentication)
      const a = yield* charge(Option.getOrThrow(auth.result.paymentMethodId), "k2")
      expect(a._tag).toBe("NeedsAuthentication")
      // Older tests' 3155 still asks for authentication in the sandbox.
      const older = yield* setUp(TEST_CARDS.chargesNeedAuthenticationAtSetUp)
      const o = yield* charge(Option.getOrThrow(older.result.paymentMethodId), "k3")
      expect(o._tag).toBe("NeedsAuthentication")
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("an unknown card number is refused, naming the field; the email falls back", () =>
    Effect.gen(function* () {
      const { confirmed } = yield* setUp("1234123412341234")
      expect(confirmed._tag === "Left" && confirmed.left.message).toMatch(/card_number/)
      const blank = yield* setUp(TEST_CARDS.succeeds, " ")
      expect(blank.result.email).toBe("hello@qwip.co.uk")
    }).pipe(Effect.provide(sandbox))
  )

  it.effect("runs the core's booking and end with exactly one charge", () =>
    Effect.gen(function* () {
      const codes = yield* TestKit.FakeStaticCodes
      codes.setCodes("pod-1" as PodId, ["04726"])
      const payments = yield* Payments
      const console = yield* SandboxConsole
      const started = yield* Checkout.startCheckout("pod-1" as PodId)
      yield* console.confirmSetupIntent(started.setupIntentId, { cardNumber: TEST_CARDS.succeeds, email: "a@b.co" })
      const session = yield* Checkout.finalizeBooking(started)
      // Billing starts when the door code is ready: make it, then use the pod for 10 minutes.
      yield* Worker.runDueWork("test")
      yield* TestClock.adjust(Duration.minutes(10))
      const ended = yield* SessionEnd.endSession(session.id)
      yield* SessionEnd.endSession(session.id)
      expect(ended.state._tag === "Ended" && ended.state.outcome._tag).toBe("Paid")
      const charges = (yield* console.listPayments).filter((r) => r.object === "payment_intent")
      expect(charges).toHaveLength(1)
      expect(charges[0]?.amountPence).toBe(500)
      expect(yield* payments.readCharge({ sessionId: session.id, paymentIntentId: Option.none() })).not.toEqual(
        Option.none()
      )
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          sandbox,
          TestKit.layerMemoryStore([TestKit.demoPod()]),
          TestKit.layerFakeStaticCodes,
          TestKit.layerFakeLock,
          TestKit.layerFakeMailer,
          Policy.layer(TestKit.testPolicy)
        )
      )
    )
  )
})
