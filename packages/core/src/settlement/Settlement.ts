/**
 * Settling a payment outcome learnt after the end: a charge whose answer never came, read
 * back from the provider (background work), or an outcome a payment event reports.
 */
import { Effect, Option } from "effect"
import { WorkNotDone } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { boundedPayments } from "../OutsideCalls.js"
import { Policy } from "../Policy.js"
import { settle } from "../session/Lifecycle.js"
import { type Outcome, PaymentUnknown } from "../session/Session.js"
import { loadSession, loadSessionWithPod, now, persist, retryWhenStale } from "../session/SessionSteps.js"
import { chargeFixedPrice, followUpsFor, outcomeOf } from "./ChargeOutcome.js"

/**
 * Settles a charge whose outcome is unknown by reading it back (background work). If the
 * provider has no charge for the session, it was never made: charge now, same key.
 */
export const settleUnknownCharge = Effect.fn("Settlement.settleUnknownCharge")(function* (sessionId: SessionId) {
  const payments = yield* boundedPayments
  const session = yield* loadSession(sessionId)
  if (session.state._tag !== "Ended" || session.state.outcome._tag !== "PaymentUnknown") return session
  const reading = yield* payments.readCharge({
    sessionId,
    paymentIntentId: Option.none(),
    customerId: session.card.customerId
  })
  const outcome: Outcome = Option.isNone(reading)
    ? yield* chargeFixedPrice(session, session.state.quote.chargePence)
    : reading.value._tag === "Processing"
      ? new PaymentUnknown({ detail: `PaymentIntent ${reading.value.paymentIntentId} still processing` })
      : outcomeOf(reading.value)
  if (outcome._tag === "PaymentUnknown") return yield* new WorkNotDone({ reason: outcome.detail })
  return yield* recordSettlement(sessionId, outcome)
})

/** Records a payment outcome learnt later (read back, or from a payment event). */
export const recordSettlement = (sessionId: SessionId, outcome: Outcome) =>
  retryWhenStale(
    Effect.gen(function* () {
      const { session: current, pod } = yield* loadSessionWithPod(sessionId)
      const { settleDelay } = yield* Policy
      const at = yield* now
      return yield* persist(current, {
        transition: settle(current, outcome, at),
        work: followUpsFor(current, pod.name, outcome, at, settleDelay)
      })
    })
  )
