/**
 * Booking: start a card set-up for a pod (a provisioning token carries it to finalize), then
 * finalize into a session and its session token. Finalize is idempotent per set-up intent.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Checkout } from "@qwip/core"
import { Effect } from "effect"
import { AccessTokens } from "../Adapters.js"
import { CurrentProvisioning, QwipApi } from "../Api.js"
import { orProblem } from "../Problem.js"

export const BookingLive = HttpApiBuilder.group(QwipApi, "booking", (handlers) =>
  Effect.gen(function* () {
    const tokens = yield* AccessTokens
    return handlers
      .handle("setupIntent", ({ payload }) =>
        Effect.gen(function* () {
          const started = yield* orProblem(Checkout.startCheckout(payload.pod_id))
          const token = yield* tokens.mintProvisioning({
            setup_intent_id: started.setupIntentId,
            pod_id: started.podId,
            provisioning_id: started.provisioningId
          })
          return { client_secret: started.clientSecret, provisioning_jwt_token: token }
        })
      )
      .handle("finalize", () =>
        Effect.gen(function* () {
          const claims = yield* CurrentProvisioning
          const session = yield* orProblem(
            Checkout.finalizeBooking({
              setupIntentId: claims.setup_intent_id,
              podId: claims.pod_id,
              provisioningId: claims.provisioning_id
            })
          )
          yield* Effect.logInfo("booking finalized").pipe(
            Effect.annotateLogs({ sessionId: session.id, podId: session.podId })
          )
          return { session_jwt_token: yield* tokens.mintSession({ session_id: session.id }) }
        })
      )
  })
)
