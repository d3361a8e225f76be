/**
 * The Stripe SDK as the adapters use it: pinned to one API version, no SDK retries unless asked
 * (the core retries under its own deadline), and called in one place, with a span per call,
 * Stripe's errors typed and anything else a defect.
 */
import { Effect, Redacted } from "effect"
import Stripe from "stripe"

/**
 * The API version requests are pinned to: the one the installed SDK's types describe. Pinned
 * here rather than left to the account's default so a dashboard upgrade cannot change the
 * objects under us; `satisfies` makes an SDK upgrade that moves the version fail to compile.
 */
export const STRIPE_API_VERSION = "2026-10-28.endive" satisfies Stripe.LatestApiVersion

export interface StripeApiBase {
  readonly host: string
  readonly port: number
  readonly protocol: "http" | "https"
}

export interface StripePaymentsOptions {
  readonly secretKey: Redacted.Redacted<string>
  /** Another API origin (a local stand-in); Stripe's own when absent. */
  readonly apiBase?: StripeApiBase
  /**
   * The SDK's own retries of one call (same idempotency key, backoff). Default 0: the core
   * retries (its policy counts every attempt against the work's lease), and its deadline on
   * each call must hold the SDK's retries too.
   */
  readonly maxNetworkRetries?: number
  /** Per request, in milliseconds: the policy's `outsideCallDeadline`. Default 10 000. */
  readonly timeoutMs?: number
}

export type StripeError = Stripe.errors.StripeError

/** One SDK call: `operation` names its span (`Stripe.<operation>`). */
export type StripeCall = <A>(
  operation: string,
  run: (stripe: Stripe) => Promise<A>,
  attributes?: Record<string, unknown>
) => Effect.Effect<A, StripeError>

export const makeStripeCall = (options: StripePaymentsOptions): StripeCall => {
  const client = new Stripe(Redacted.value(options.secretKey), {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: options.maxNetworkRetries ?? 0,
    timeout: options.timeoutMs ?? 10_000,
    appInfo: { name: "qwip-platform" },
    ...(options.apiBase === undefined
      ? {}
      : { host: options.apiBase.host, port: options.apiBase.port, protocol: options.apiBase.protocol })
  })

  return (operation, run, attributes = {}) =>
    Effect.tryPromise({ try: () => run(client), catch: (cause) => cause }).pipe(
      Effect.catchAll((cause) => (cause instanceof Stripe.errors.StripeError ? Effect.fail(cause) : Effect.die(cause))),
      Effect.withSpan(`Stripe.${operation}`, { attributes })
    )
}
