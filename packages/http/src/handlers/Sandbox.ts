/**
 * The sandbox's customer side, only when running on sandbox payments: confirm a card set-up
 * with one of Stripe's test cards (what Stripe.js does in test mode), list what the sandbox
 * holds, and on the pay page pass or fail a test authentication (Stripe's test 3-D Secure page)
 * or pay with a test card. With real Stripe configured all answer 404.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { Sandbox, SandboxAuthentication, type SandboxPaymentStatus } from "../Adapters.js"
import { QwipApi } from "../Api.js"
import { orProblem, problem } from "../Problem.js"

const disabled = () =>
  problem(404, "sandbox_disabled", "Sandbox endpoints exist only when the service runs on sandbox payments")

export const SandboxLive = HttpApiBuilder.group(QwipApi, "sandbox", (handlers) =>
  Effect.gen(function* () {
    const sandbox = yield* Sandbox
    // Present only when the sandbox is the payment provider (see PaymentsFromEnv).
    const authentication = yield* Effect.serviceOption(SandboxAuthentication)
    const paymentStatus = (s: SandboxPaymentStatus) => ({
      payment_intent_id: s.paymentIntentId,
      status: s.status,
      last_payment_error: Option.getOrNull(s.lastPaymentError)
    })
    return handlers
      .handle("confirmSetupIntent", ({ path, payload }) =>
        Option.match(sandbox, {
          onNone: () => Effect.fail(disabled()),
          onSome: (console) =>
            console.confirmSetupIntent(path.id, { cardNumber: payload.card_number, email: payload.email }).pipe(
              Effect.map((r) => ({ setup_intent_id: r.setupIntentId, status: r.status })),
              orProblem
            )
        })
      )
      .handle("payments", () =>
        Option.match(sandbox, {
          onNone: () => Effect.fail(disabled()),
          onSome: (console) =>
            Effect.map(console.listPayments, (records) => ({
              payments: records.map((r) => ({
                id: r.id,
                object: r.object,
                status: r.status,
                amount_pence: r.amountPence,
                session_id: r.sessionId,
                created_at: r.createdAt.toISOString()
              }))
            }))
        })
      )
      .handle("authenticatePayment", ({ path, payload }) =>
        Option.match(authentication, {
          onNone: () => Effect.fail(disabled()),
          onSome: (auth) =>
            auth.complete(path.payment_intent_id, payload.result).pipe(Effect.map(paymentStatus), orProblem)
        })
      )
      .handle("payWithCard", ({ path, payload }) =>
        Option.match(authentication, {
          onNone: () => Effect.fail(disabled()),
          onSome: (auth) =>
            auth.payWithCard(path.payment_intent_id, payload.card).pipe(Effect.map(paymentStatus), orProblem)
        })
      )
  })
)
