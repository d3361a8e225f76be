/**
 * The sandbox's customer side, only when running on sandbox payments: confirm a card set-up
 * with one of Stripe's test cards (what Stripe.js does in test mode), and list what the sandbox
 * holds. With real Stripe configured both answer 404.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { Sandbox } from "../Adapters.js"
import { QwipApi } from "../Api.js"
import { orProblem, problem } from "../Problem.js"

const disabled = () =>
  problem(404, "sandbox_disabled", "Sandbox endpoints exist only when the service runs on sandbox payments")

export const SandboxLive = HttpApiBuilder.group(QwipApi, "sandbox", (handlers) =>
  Effect.gen(function* () {
    const sandbox = yield* Sandbox
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
  })
)
