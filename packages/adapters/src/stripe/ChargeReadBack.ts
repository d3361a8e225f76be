/**
 * Reading a charge back when its answer was lost: by its PaymentIntent when one was recorded,
 * else by the session. The session's own customer is listed first (exact and small); then search
 * on `metadata.session_id`, which lags writes, so an empty search is checked against the last
 * hour of the consistent list before saying no charge exists. The session's card check hold
 * (`metadata.purpose = hold`) is never taken for its charge.
 */
import { PaymentsUnavailable, type SessionId } from "@qwip/core"
import { Clock, Effect, Option } from "effect"
import type Stripe from "stripe"
import { readingOf } from "./StripeAnswer.js"
import type { StripeCall, StripeError } from "./StripeClient.js"
import { isMissing, unavailableOrDie } from "./StripeFailures.js"
import { isHold } from "./StripeHolds.js"

/** Stripe's documented worst case for a new object to reach search (during incidents). */
const SEARCH_LAG_SECONDS = 60 * 60
/** Bounds the consistent fallback scan; Qwip makes far fewer charges than this in an hour. */
const MAX_SCANNED = 1000

/** Of several intents for one session (there should be one): a success, else the newest. */
const mostTelling = (intents: ReadonlyArray<Stripe.PaymentIntent>): Option.Option<Stripe.PaymentIntent> => {
  const succeeded = intents.find((intent) => intent.status === "succeeded")
  if (succeeded !== undefined) return Option.some(succeeded)
  return Option.fromNullable([...intents].sort((a, b) => b.created - a.created)[0])
}

/** Stripe's search syntax quotes values in `'`; a backslash escapes. */
const quoted = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`

/** A session's charge: its `session_id`, and never its card check hold, whatever state that is in. */
const isChargeFor = (sessionId: SessionId, intent: Stripe.PaymentIntent) =>
  intent.metadata?.session_id === sessionId && !isHold(intent)

export const makeReadCharge = (call: StripeCall) => {
  /**
   * Search finds a session's intents across all time but lags writes (usually under a minute,
   * up to an hour during incidents), so a charge made moments ago may be missing from it. When
   * search finds nothing, the consistent list endpoint is scanned for the last hour too.
   * `None` therefore means no intent exists, not merely that search has not seen it.
   */
  const intentsForSession = (sessionId: SessionId, customerId: string | undefined) =>
    Effect.gen(function* () {
      // Each booking has its own customer: its list is exact and small, unlike search.
      if (customerId !== undefined) {
        const listed = yield* call(
          "paymentIntents.list",
          async (stripe) => {
            const matches: Array<Stripe.PaymentIntent> = []
            for await (const intent of stripe.paymentIntents.list({ customer: customerId, limit: 100 })) {
              if (isChargeFor(sessionId, intent)) matches.push(intent)
            }
            return matches
          },
          { sessionId }
        )
        if (listed.length > 0) return listed
      }
      const found = yield* call(
        "paymentIntents.search",
        (stripe) => stripe.paymentIntents.search({ query: `metadata['session_id']:${quoted(sessionId)}`, limit: 100 }),
        { sessionId }
      )
      // The hold is filtered before deciding search found nothing: a hold indexed and a charge
      // not indexed yet must still fall back to the list.
      const charges = found.data.filter((intent) => !isHold(intent))
      if (charges.length > 0) return charges
      const since = Math.floor((yield* Clock.currentTimeMillis) / 1000) - SEARCH_LAG_SECONDS
      const scan = yield* call(
        "paymentIntents.list",
        async (stripe) => {
          const matches: Array<Stripe.PaymentIntent> = []
          let scanned = 0
          for await (const intent of stripe.paymentIntents.list({ created: { gte: since }, limit: 100 })) {
            if (isChargeFor(sessionId, intent)) matches.push(intent)
            scanned += 1
            if (scanned >= MAX_SCANNED) return { matches, complete: false }
          }
          return { matches, complete: true }
        },
        { sessionId }
      )
      if (scan.matches.length === 0 && !scan.complete) {
        return yield* new PaymentsUnavailable({
          operation: "readCharge",
          reason: `search has no charge for session ${sessionId} and over ${MAX_SCANNED} charges were made in the last hour; try again once search catches up`
        })
      }
      return scan.matches
    })

  const readCharge = Effect.fn("StripePayments.readCharge")(function* (request: {
    readonly sessionId: SessionId
    readonly paymentIntentId: Option.Option<string>
    readonly customerId?: string | undefined
  }) {
    if (Option.isNone(request.paymentIntentId)) {
      const intents = yield* intentsForSession(request.sessionId, request.customerId).pipe(
        Effect.catchIf(
          (error): error is StripeError => !(error instanceof PaymentsUnavailable),
          unavailableOrDie("readCharge")
        )
      )
      return Option.map(mostTelling(intents), readingOf)
    }
    const paymentIntentId = request.paymentIntentId.value
    const intent = yield* call("paymentIntents.retrieve", (stripe) => stripe.paymentIntents.retrieve(paymentIntentId), {
      sessionId: request.sessionId,
      paymentIntentId
    }).pipe(
      Effect.map(Option.some),
      Effect.catchAll((error) => (isMissing(error) ? Effect.succeedNone : unavailableOrDie("readCharge")(error)))
    )
    const chargedSession = Option.flatMap(intent, (found) => Option.fromNullable(found.metadata?.session_id))
    // Another session's charge must never settle this one: a mix-up in stored ids is a bug.
    if (Option.isSome(chargedSession) && chargedSession.value !== request.sessionId) {
      return yield* Effect.dieMessage(
        `PaymentIntent ${paymentIntentId} belongs to session ${chargedSession.value}, not ${request.sessionId}`
      )
    }
    // A hold's id recorded as the charge is a mix-up of stored ids too: it must not settle the session.
    if (Option.isSome(intent) && isHold(intent.value)) {
      return yield* Effect.dieMessage(
        `PaymentIntent ${paymentIntentId} is session ${request.sessionId}'s card check hold, not its charge`
      )
    }
    return Option.map(intent, readingOf)
  })

  return readCharge
}
