/**
 * The customer's side of a payment the sandbox could not take off-session: what Stripe's
 * test 3-D Secure page and Stripe.js's card field do in test mode, so the pay page's whole
 * path runs with no keys. Present only when the sandbox is the payment provider
 * (`PaymentsFromEnv` adds it then and only then): read it with
 * `Effect.serviceOption(SandboxAuthentication)`, `None` meaning real Stripe.
 *
 * The sandbox sends no webhooks: what these change is recorded on the session when the pay
 * page reads the PaymentIntent back (`PayPage.confirmPayPage`).
 */
import type { ProviderPayment } from "@qwip/core"
import { Context, type Effect, type Option, Schema } from "effect"

/** A PaymentIntent's state after the customer acted on it, as Stripe reports it. */
export interface SandboxPaymentStatus {
  readonly paymentIntentId: string
  /** `succeeded` (paid), `requires_capture` (a hold now authorised), `requires_action`
   * (the card wants authentication: call `complete`), `requires_payment_method` (failed). */
  readonly status: ProviderPayment["status"]
  /** Why the last attempt failed, as Stripe's `last_payment_error` (`authentication_failed`,
   * `card_declined`, `insufficient_funds`, ...); `None` when it did not fail. */
  readonly lastPaymentError: Option.Option<{ readonly code: string; readonly message: string }>
}

export class SandboxPaymentNotFound extends Schema.TaggedError<SandboxPaymentNotFound>()("SandboxPaymentNotFound", {
  paymentIntentId: Schema.String
}) {
  override get message() {
    return `the sandbox has no PaymentIntent ${this.paymentIntentId}`
  }
}

/** The PaymentIntent is not waiting for the customer (already paid, cancelled, or not asking for authentication). */
export class SandboxPaymentNotOpen extends Schema.TaggedError<SandboxPaymentNotOpen>()("SandboxPaymentNotOpen", {
  paymentIntentId: Schema.String,
  status: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `PaymentIntent ${this.paymentIntentId} is ${this.status}: ${this.reason}`
  }
}

export interface SandboxAuthenticationShape {
  /**
   * Stripe's test 3-D Secure page: a PaymentIntent in `requires_action` becomes `succeeded`
   * (`requires_capture` for a hold) or, when the customer fails it, `requires_payment_method`
   * with `authentication_failed`.
   */
  readonly complete: (
    paymentIntentId: string,
    outcome: "succeeded" | "failed"
  ) => Effect.Effect<SandboxPaymentStatus, SandboxPaymentNotFound | SandboxPaymentNotOpen>
  /**
   * The pay page's card field: pays an open PaymentIntent on-session with a test card, which
   * behaves as at set-up (`4242...` pays, `...0341` and the sandbox's decline cards are declined,
   * `4000002760003184` asks for authentication first). An unknown number is declined `invalid_number`.
   */
  readonly payWithCard: (
    paymentIntentId: string,
    cardNumber: string
  ) => Effect.Effect<SandboxPaymentStatus, SandboxPaymentNotFound | SandboxPaymentNotOpen>
}

export class SandboxAuthentication extends Context.Tag("@qwip/adapters/SandboxAuthentication")<
  SandboxAuthentication,
  SandboxAuthenticationShape
>() {}
