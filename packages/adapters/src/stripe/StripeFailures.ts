/**
 * Stripe's failures in the port's words: what may pass (a timeout, a 5xx, a rate limit, the same
 * key still running) is `PaymentsUnavailable`; a request Stripe refused for how we made it is a
 * defect (`StripeRequestRejected`), since every caller would fail alike.
 */
import { PaymentsUnavailable } from "@qwip/core"
import { Data, Effect } from "effect"
import Stripe from "stripe"
import type { StripeError } from "./StripeClient.js"

/**
 * Stripe refused a request because of how we made it: a bug, not something a caller can
 * handle, so it travels as a defect. Carries Stripe's words and request id, not the raw error
 * (whose embedded objects hold card holders' details).
 */
export class StripeRequestRejected extends Data.TaggedError("StripeRequestRejected")<{
  readonly operation: string
  readonly errorType: string
  readonly status: number | undefined
  readonly code: string | undefined
  readonly detail: string
  readonly requestId: string | undefined
}> {
  override get message() {
    const code = this.code === undefined ? "" : ` ${this.code}`
    const request = this.requestId === undefined ? "" : ` [request ${this.requestId}]`
    return `Stripe rejected ${this.operation} (${this.errorType} ${this.status ?? "?"}${code}): ${this.detail}${request}`
  }
}

const rejected = (operation: string, error: StripeError) =>
  new StripeRequestRejected({
    operation,
    errorType: error.type,
    status: error.statusCode,
    code: error.code,
    detail: error.message,
    requestId: error.requestId
  })

const withRequestId = (reason: string, error: StripeError) =>
  error.requestId === undefined ? reason : `${reason} [request ${error.requestId}]`

/**
 * Stripe's 409 `idempotency_key_in_use`: a request with the same key is still running, so
 * its outcome is not known yet. Read from the status and code, never from the error's class:
 * which class the SDK maps a 409 to is its choice, and a decline must never be recorded for it.
 */
export const isKeyInUse = (error: Pick<StripeError, "statusCode" | "code">): boolean =>
  error.statusCode === 409 && error.code === "idempotency_key_in_use"

/**
 * Failures that may pass: the network, Stripe's own faults (5xx, and 409 for a request with
 * the same key still running), rate limits, and a refused key (an operator can fix it; until
 * then a charge stays "unknown" and is settled later rather than lost). `undefined` otherwise.
 */
const transientReason = (error: StripeError): string | undefined => {
  if (isKeyInUse(error)) return "a request with the same key is still in progress at Stripe; ask again later"
  if (error instanceof Stripe.errors.StripeConnectionError) return `could not reach Stripe: ${error.message}`
  if (error instanceof Stripe.errors.StripeRateLimitError) return `Stripe is rate limiting requests: ${error.message}`
  if (error instanceof Stripe.errors.StripeAuthenticationError) {
    return "Stripe refused the API key (401): check STRIPE_SECRET"
  }
  if (error instanceof Stripe.errors.StripePermissionError) {
    return `the API key may not do this (403): ${error.message}`
  }
  if (error instanceof Stripe.errors.StripeAPIError || (error.statusCode ?? 0) >= 500) {
    return `Stripe failed (${error.statusCode ?? "no status"}): ${error.message}`
  }
  return undefined
}

/** A Stripe failure as `PaymentsUnavailable` when it may pass, else a defect. */
export const unavailableOrDie =
  (operation: string) =>
  (error: StripeError): Effect.Effect<never, PaymentsUnavailable> => {
    const reason = transientReason(error)
    return reason === undefined
      ? Effect.die(rejected(operation, error))
      : Effect.fail(new PaymentsUnavailable({ operation, reason: withRequestId(reason, error) }))
  }

export const isMissing = (error: StripeError) =>
  error instanceof Stripe.errors.StripeInvalidRequestError &&
  (error.code === "resource_missing" || error.statusCode === 404)
