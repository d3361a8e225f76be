/**
 * The Stripe adapter pointed at the Stripe stand-in, and the requests its tests make.
 */
import { randomUUID } from "node:crypto"
import { type ChargeRequest, chargeKeyFor, type PaymentsShape, PodId, pence, SessionId } from "@qwip/core"
import { StripeServer, type StripeServerShape } from "@qwip/test-support/StripeServer"
import { Cause, Effect, Exit, Redacted } from "effect"
import type { StripePaymentsOptions } from "../../src/stripe/StripeClient.js"
import { makeStripePayments } from "../../src/stripe/StripePayments.js"

export const secretKey = Redacted.make("sk_test_qwip_fake_key")
export const soho = PodId.make("pod-soho-1")

export const paymentsFor = (server: StripeServerShape, options: Partial<StripePaymentsOptions> = {}) =>
  makeStripePayments({ secretKey, apiBase: server.apiBase, maxNetworkRetries: 0, timeoutMs: 5_000, ...options })

/** A clean fake and an adapter pointed at it (no SDK retries unless a test asks). */
export const fresh = (options: Partial<StripePaymentsOptions> = {}) =>
  Effect.gen(function* () {
    const server = yield* StripeServer
    yield* server.reset
    return { server, payments: yield* paymentsFor(server, options) }
  })

export const chargeFor = (
  card: { readonly customerId: string; readonly paymentMethodId: string },
  overrides: Partial<ChargeRequest> = {}
): ChargeRequest => {
  const sessionId = SessionId.make(randomUUID())
  return {
    sessionId,
    amountPence: pence(1234),
    customerId: card.customerId,
    paymentMethodId: card.paymentMethodId,
    receiptEmail: "ada@example.com",
    idempotencyKey: chargeKeyFor(sessionId),
    ...overrides
  }
}

/** The defect an effect died with, or a test failure if it did not die. */
export const defectOf = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(effect)
    if (Exit.isSuccess(exit) || !Cause.isDie(exit.cause)) {
      throw new Error(`expected a defect, got ${Exit.isSuccess(exit) ? "success" : Cause.pretty(exit.cause)}`)
    }
    return Cause.squash(exit.cause)
  })

export const setUpAndComplete = (
  payments: PaymentsShape,
  server: StripeServerShape,
  card: Parameters<StripeServerShape["completeCardSetUp"]>[1]
) =>
  Effect.gen(function* () {
    const started = yield* payments.setUpCard({ podId: soho, idempotencyKey: `qwip-checkout-${randomUUID()}` })
    yield* server.completeCardSetUp(started.setupIntentId, card)
    return started
  })
