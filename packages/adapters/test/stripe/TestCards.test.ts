/**
 * The test cards, end to end through the adapter against the local Stripe: saved at set-up (or
 * not), then charged and held off-session, each with the answer the sandbox gives for it.
 */

import { randomUUID } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { chargeKeyFor, HARD_DECLINE_CODES, pence, SessionId } from "@qwip/core"
import { StripeServer, TestCards } from "@qwip/test-support/StripeServer"
import { Effect, Option } from "effect"
import { fresh, setUpAndComplete } from "../support/StripePaymentsKit.js"

/** What a card answers to a charge and a hold: a tag, and the decline code when declined. */
const answer = (result: { readonly _tag: string; readonly code?: string }) =>
  result._tag === "Declined" ? `Declined ${result.code}` : result._tag

const cases = [
  { number: TestCards.pays, charge: "Succeeded", hold: "Held" },
  { number: TestCards.chargesDeclined, charge: "Declined generic_decline", hold: "Declined generic_decline" },
  { number: TestCards.needsAuthentication, charge: "NeedsAuthentication", hold: "NeedsAuthentication" },
  { number: TestCards.insufficientFunds, charge: "Declined insufficient_funds", hold: "Declined insufficient_funds" },
  { number: TestCards.lostCard, charge: "Declined lost_card", hold: "Declined lost_card" }
] as const

layer(StripeServer.layer)("Stripe test cards", (it) => {
  for (const { number, charge, hold } of cases) {
    it.effect(`${number} saves, then a charge is ${charge} and a hold is ${hold}`, () =>
      Effect.gen(function* () {
        const { server, payments } = yield* fresh()
        const started = yield* setUpAndComplete(payments, server, { number, email: "ada@example.com" })
        const setUp = yield* payments.readCardSetUp(started.setupIntentId)
        expect(setUp.status).toBe("succeeded")
        const paymentMethodId = Option.getOrThrow(setUp.paymentMethodId)
        const sessionId = SessionId.make(randomUUID())

        const held = yield* payments.placeHold({
          sessionId,
          setupIntentId: started.setupIntentId,
          amountPence: pence(1500),
          customerId: started.customerId,
          paymentMethodId,
          idempotencyKey: `qwip-booking-hold-${sessionId}`
        })
        const charged = yield* payments.chargeSession({
          sessionId,
          amountPence: pence(1234),
          customerId: started.customerId,
          paymentMethodId,
          receiptEmail: setUp.email,
          idempotencyKey: chargeKeyFor(sessionId)
        })

        expect(answer(held)).toBe(hold)
        expect(answer(charged)).toBe(charge)
      })
    )
  }

  it.effect("only the lost card's decline is hard (not retried)", () =>
    Effect.sync(() => {
      expect(HARD_DECLINE_CODES.has("lost_card")).toBe(true)
      expect(HARD_DECLINE_CODES.has("insufficient_funds")).toBe(false)
      expect(HARD_DECLINE_CODES.has("generic_decline")).toBe(false)
    })
  )

  it.effect("4000000000000002 is declined at set-up: the SetupIntent keeps no card", () =>
    Effect.gen(function* () {
      const { server, payments } = yield* fresh()
      const started = yield* setUpAndComplete(payments, server, { number: TestCards.declinedAtSetUp })
      const setUp = yield* payments.readCardSetUp(started.setupIntentId)
      expect(setUp.status).toBe("requires_payment_method")
      expect(setUp.paymentMethodId).toEqual(Option.none())
    })
  )

  it.effect("a card number the local Stripe does not know fails loudly", () =>
    Effect.gen(function* () {
      const { server } = yield* fresh()
      const exit = yield* Effect.exit(server.savedCard({ number: "4111111111111111" }))
      expect(exit._tag).toBe("Failure")
    })
  )
})
