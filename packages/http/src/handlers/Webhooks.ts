/**
 * `POST /webhook/stripe`: the signature is checked on the raw body; each event is stored once by
 * its id, then applied through the core (`handlePaymentEvent`, idempotent). A duplicate of a
 * processed event changes nothing; types Qwip does not act on are stored and acknowledged; an
 * event the core ignored or refused (a payment the session did not ask for) is acknowledged with
 * the reason kept on its row, since a retry would change nothing; a processing failure answers
 * 500 so Stripe retries. A signed body that is not an event is refused with 400 before anything
 * is stored. Payloads are never logged.
 */
import { HttpApiBuilder } from "@effect/platform"
import { handlePaymentEvent } from "@qwip/core"
import { Cause, Effect, Option } from "effect"
import { StripeWebhooks, WebhookEvents } from "../Adapters.js"
import { QwipApi } from "../Api.js"
import { orProblem, problem } from "../Problem.js"

const success = { status: "success" as const }

export const WebhooksLive = HttpApiBuilder.group(QwipApi, "webhooks", (handlers) =>
  Effect.gen(function* () {
    const webhooks = yield* StripeWebhooks
    const events = yield* WebhookEvents
    return handlers.handle("stripe", ({ request }) =>
      Effect.gen(function* () {
        const signature = request.headers["stripe-signature"]
        if (signature === undefined || signature.length === 0) {
          return yield* Effect.fail(problem(400, "invalid_signature", "The Stripe-Signature header is missing"))
        }
        // Unreadable or too large: a defect the service middleware answers as 400 or 413.
        const raw = Buffer.from(yield* Effect.orDie(request.arrayBuffer))
        const envelope = yield* orProblem(webhooks.verify(raw, signature))
        const log = Effect.annotateLogs({ eventId: envelope.id, eventType: envelope.type })

        const status = yield* events.receive({ id: envelope.id, type: envelope.type, payload: envelope.event })
        if (status === "processed") {
          yield* Effect.logInfo("stripe event already processed").pipe(log)
          return success
        }
        const decoded = webhooks.decode(envelope)
        if (Option.isNone(decoded)) {
          yield* events.markProcessed(envelope.id)
          yield* Effect.logDebug("stripe event stored, not acted on").pipe(log)
          return success
        }
        const outcome = yield* handlePaymentEvent(decoded.value).pipe(Effect.sandbox, Effect.either)
        if (outcome._tag === "Left") {
          const reason = Cause.squash(outcome.left)
          const text = reason instanceof Error ? reason.message : String(reason)
          yield* events.markFailed(envelope.id, text)
          yield* Effect.logError("stripe event failed; Stripe will retry", outcome.left).pipe(log)
          return yield* Effect.fail(
            problem(500, "webhook_failed", "The event could not be processed now; it will be retried")
          )
        }
        const result = outcome.right
        switch (result._tag) {
          case "Applied":
            yield* events.markProcessed(envelope.id)
            yield* Effect.logInfo("stripe event applied").pipe(
              Effect.annotateLogs({ sessionId: result.sessionId }),
              log
            )
            break
          case "Ignored":
            yield* events.markProcessed(envelope.id, result.reason)
            yield* Effect.logInfo("stripe event ignored").pipe(Effect.annotateLogs({ reason: result.reason }), log)
            break
          case "Unexpected":
            // Acknowledged: Stripe's retries would change nothing; staff were told by the core.
            yield* events.markProcessed(envelope.id, result.reason)
            yield* Effect.logWarning("stripe event refused: not the session's charge").pipe(
              Effect.annotateLogs({ sessionId: result.sessionId, reason: result.reason }),
              log
            )
        }
        return success
      })
    )
  })
)
