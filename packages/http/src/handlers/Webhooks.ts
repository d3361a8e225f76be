/**
 * `POST /webhook/stripe`: the signature is checked on the raw body (the Stripe adapter), then the
 * event is taken in by the core (`PaymentInbox.receivePaymentEvent`: stored once, applied, marked). Every
 * outcome is acknowledged except a processing failure, answered 500 so Stripe retries. A signed
 * body that is not an event is refused with 400 before anything is stored.
 */
import { HttpApiBuilder } from "@effect/platform"
import { PaymentInbox } from "@qwip/core"
import { Effect } from "effect"
import { StripeWebhooks } from "../Adapters.js"
import { QwipApi } from "../Api.js"
import { orProblem, problem } from "../Problem.js"

export const WebhooksLive = HttpApiBuilder.group(QwipApi, "webhooks", (handlers) =>
  Effect.gen(function* () {
    const webhooks = yield* StripeWebhooks
    return handlers.handle("stripe", ({ request }) =>
      Effect.gen(function* () {
        const signature = request.headers["stripe-signature"]
        if (signature === undefined || signature.length === 0) {
          return yield* Effect.fail(problem(400, "invalid_signature", "The Stripe-Signature header is missing"))
        }
        // Unreadable or too large: a defect the service middleware answers as 400 or 413.
        const raw = Buffer.from(yield* Effect.orDie(request.arrayBuffer))
        const envelope = yield* orProblem(webhooks.verify(raw, signature))
        yield* PaymentInbox.receivePaymentEvent({ id: envelope.id, type: envelope.type, payload: envelope.event }).pipe(
          Effect.catchTag("PaymentEventNotProcessed", () =>
            Effect.fail(problem(500, "webhook_failed", "The event could not be processed now; it will be retried"))
          )
        )
        return { status: "success" as const }
      })
    )
  })
)
