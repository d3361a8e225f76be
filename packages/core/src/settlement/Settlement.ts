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
import { type Outcome, Paid, PaymentUnknown } from "../session/Session.js"
import { loadSession, loadSessionWithPod, now, persist, retryWhenStale } from "../session/SessionSteps.js"
import { captureForEnd } from "./CardHolds.js"
import { chargeFixedPrice, followUpsFor, outcomeOf, owedPence, stillOwedPence } from "./ChargeOutcome.js"
import { capturedPence } from "./Collection.js"
import { startDunning } from "./Dunning.js"

/**
 * Settles a charge whose outcome is unknown by reading it back (background work). A card
 * check hold not yet captured is captured first (same key, same amount: a capture made
 * before answers again). If the provider has no charge for the session, it was never made:
 * charge what is still owed now, same key. With nothing left after the capture, it is paid.
 */
export const settleUnknownCharge = Effect.fn("Settlement.settleUnknownCharge")(function* (sessionId: SessionId) {
  const payments = yield* boundedPayments
  const loaded = yield* loadSession(sessionId)
  if (loaded.state._tag !== "Ended" || loaded.state.outcome._tag !== "PaymentUnknown") return loaded
  const session = yield* captureForEnd(loaded, owedPence(loaded))
  const captured = capturedPence(session.collection)
  const remainder = stillOwedPence(session)
  const paidByHold = Option.filter(session.collection.hold, () => remainder === 0 && captured > 0)
  const reading = Option.isSome(paidByHold)
    ? Option.none()
    : yield* payments.readCharge({
        sessionId,
        paymentIntentId: Option.none(),
        customerId: session.card.customerId
      })
  const outcome: Outcome = Option.isSome(paidByHold)
    ? new Paid({ paymentIntentId: paidByHold.value.paymentIntentId, amountPence: captured })
    : Option.isNone(reading)
      ? yield* chargeFixedPrice(session, remainder)
      : reading.value._tag === "Processing"
        ? new PaymentUnknown({ detail: `PaymentIntent ${reading.value.paymentIntentId} still processing` })
        : outcomeOf(reading.value, captured)
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
      const dunning = yield* startDunning(current, pod.name, outcome, at)
      return yield* persist(current, {
        transition: settle(current, outcome, at, dunning.collection),
        work: [...followUpsFor(current, pod.name, outcome, at, settleDelay), ...dunning.work]
      })
    })
  )
