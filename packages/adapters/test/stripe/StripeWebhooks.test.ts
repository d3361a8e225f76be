import { describe, expect, it } from "@effect/vitest"
import { paymentIntentFixture } from "@qwip/test-support/StripeServer"
import { Effect, Redacted, TestClock } from "effect"
import { makeStripeWebhooks } from "../../src/stripe/StripeWebhooks.js"
import { eventPayload, NOW, SECRET, signed } from "../support/SignedEvents.js"

const webhooks = makeStripeWebhooks({ webhookSecret: Redacted.make(SECRET) })

/** Verifies at `NOW` on the test clock, as the HTTP layer would on receipt. */
const verifyNow = (payload: string | Uint8Array, header: string) =>
  TestClock.setTime(NOW * 1000).pipe(Effect.zipRight(webhooks.verify(payload, header)))

describe("StripeWebhooks.verify", () => {
  it.effect("accepts an event signed with the endpoint's secret and says what it is", () =>
    Effect.gen(function* () {
      const payload = eventPayload("customer.created", { id: "cus_1", object: "customer" })
      const envelope = yield* verifyNow(payload, signed(payload))
      expect(envelope.id).toBe(JSON.parse(payload).id)
      expect(envelope.type).toBe("customer.created")
      expect(envelope.created).toEqual(new Date((NOW - 5) * 1000))
      expect(envelope.livemode).toBe(false)
    })
  )

  it.effect("accepts the raw body as bytes", () =>
    Effect.gen(function* () {
      const payload = eventPayload("customer.created", { id: "cus_1", object: "customer" })
      const envelope = yield* verifyNow(new TextEncoder().encode(payload), signed(payload))
      expect(envelope.type).toBe("customer.created")
    })
  )

  it.effect("rejects a signature older than 300 s (a replay) and accepts one just inside", () =>
    Effect.gen(function* () {
      const payload = eventPayload("customer.created", { id: "cus_1", object: "customer" })
      const stale = yield* Effect.flip(verifyNow(payload, signed(payload, { signedAt: NOW - 301 })))
      expect(stale._tag).toBe("InvalidWebhookSignature")
      expect(stale.reason).toBe("the signature is more than 300 s old (a replay, or a clock far off)")

      const fresh = yield* verifyNow(payload, signed(payload, { signedAt: NOW - 299 }))
      expect(fresh.type).toBe("customer.created")
    })
  )

  it.effect("rejects a signature dated more than 5 minutes ahead of our clock and accepts one just inside", () =>
    Effect.gen(function* () {
      const payload = eventPayload("customer.created", { id: "cus_1", object: "customer" })
      const ahead = yield* Effect.flip(verifyNow(payload, signed(payload, { signedAt: NOW + 301 })))
      expect(ahead._tag).toBe("InvalidWebhookSignature")
      expect(ahead.reason).toBe("the signature is dated more than 300 s in the future (a clock far off)")

      const skewed = yield* verifyNow(payload, signed(payload, { signedAt: NOW + 300 }))
      expect(skewed.type).toBe("customer.created")
    })
  )

  it.effect("uses the configured tolerance, read against Effect's clock", () =>
    Effect.gen(function* () {
      const strict = makeStripeWebhooks({ webhookSecret: Redacted.make(SECRET), toleranceSeconds: 60 })
      const payload = eventPayload("customer.created", { id: "cus_1", object: "customer" })
      const header = signed(payload)
      yield* TestClock.setTime((NOW + 60) * 1000)
      expect((yield* strict.verify(payload, header)).type).toBe("customer.created")
      yield* TestClock.adjust("1 second")
      expect((yield* Effect.flip(strict.verify(payload, header))).reason).toMatch(/more than 60 s old/)
      expect(() => makeStripeWebhooks({ webhookSecret: Redacted.make(SECRET), toleranceSeconds: 0 })).toThrow(
        RangeError
      )
    })
  )

  it.effect("rejects an event signed with another secret", () =>
    Effect.gen(function* () {
      const payload = eventPayload("customer.created", { id: "cus_1", object: "customer" })
      const error = yield* Effect.flip(verifyNow(payload, signed(payload, { secret: "whsec_someone_else" })))
      expect(error.reason).toMatch(/^the signature does not match the body/)
    })
  )

  it.effect("rejects a body changed after signing", () =>
    Effect.gen(function* () {
      const payload = eventPayload(
        "payment_intent.succeeded",
        paymentIntentFixture({ amount: 100, amount_received: 100 })
      )
      const tampered = payload.replace('"amount": 100', '"amount": 1')
      expect(tampered).not.toBe(payload)
      const error = yield* Effect.flip(verifyNow(tampered, signed(payload)))
      expect(error.reason).toMatch(/^the signature does not match the body/)
    })
  )

  it.effect("rejects a missing or malformed Stripe-Signature header", () =>
    Effect.gen(function* () {
      const payload = eventPayload("customer.created", { id: "cus_1", object: "customer" })
      expect((yield* Effect.flip(verifyNow(payload, ""))).reason).toBe("No stripe-signature header value was provided.")
      expect((yield* Effect.flip(verifyNow(payload, "nonsense"))).reason).toBe(
        "Unable to extract timestamp and signatures from header"
      )
    })
  )

  it.effect("rejects a correctly signed body that is not a JSON event", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(verifyNow("not json", signed("not json")))
      expect(error.reason).toBe("the body is not JSON")
    })
  )

  it.effect("rejects a correctly signed body with no event id, or a JSON array, as not an event", () =>
    Effect.gen(function* () {
      const noId = JSON.stringify({ object: "event", type: "customer.created", data: { object: {} } })
      const missing = yield* Effect.flip(verifyNow(noId, signed(noId)))
      expect(missing).toMatchObject({ _tag: "MalformedWebhookEvent", reason: "the body has no event id or type" })

      const array = JSON.stringify([{ id: "evt_1", type: "customer.created" }])
      const listed = yield* Effect.flip(verifyNow(array, signed(array)))
      expect(listed).toMatchObject({ _tag: "MalformedWebhookEvent", reason: "the body is a JSON array" })

      const nothing = yield* Effect.flip(verifyNow("null", signed("null")))
      expect(nothing._tag).toBe("MalformedWebhookEvent")
    })
  )

  it.effect("rejects a correctly signed event holding text no store can keep (NUL, a lone surrogate)", () =>
    Effect.gen(function* () {
      const nul = '{"id":"evt_nul","type":"customer.created","data":{"object":{"name":"a\\u0000b"}}}'
      const withNul = yield* Effect.flip(verifyNow(nul, signed(nul)))
      expect(withNul).toMatchObject({ _tag: "MalformedWebhookEvent" })
      expect(withNul.reason).toContain("data.object.name")

      const lone = '{"id":"evt_sur","type":"customer.created","data":{"object":{"\\ud800":1}}}'
      const withSurrogate = yield* Effect.flip(verifyNow(lone, signed(lone)))
      expect(withSurrogate).toMatchObject({ _tag: "MalformedWebhookEvent" })
    })
  )

  it.effect("never puts the secret, the header or the body in the error", () =>
    Effect.gen(function* () {
      const payload = eventPayload("customer.created", { id: "cus_secretive", object: "customer" })
      const header = signed(payload, { secret: "whsec_someone_else" })
      const error = yield* Effect.flip(verifyNow(payload, header))
      const shown = `${JSON.stringify(error)} ${error.message} ${String(error)}`
      expect(shown).not.toContain(SECRET)
      expect(shown).not.toContain(header)
      expect(shown).not.toContain("cus_secretive")
    })
  )
})
