/**
 * What the sandbox payment provider exposes beyond the `Payments` port: the customer's
 * side of Stripe's test mode (confirming a card set-up with a test card number) and a
 * listing for staff. Only present when the platform runs with sandbox payments.
 */

import type { Pence, ProviderRefund, RefundRefused, SetupIntentNotFound } from "@qwip/core"
import { Context, type Effect, Schema } from "effect"

/**
 * The test cards the sandbox honours: Stripe's, and two of its own (Stripe has no card that
 * saves and is then declined with a given code, so these exist only here).
 */
export const TEST_CARDS = {
  /** Succeeds, and so do its charges and holds. */
  succeeds: "4242424242424242",
  /** Declined when the card is confirmed. */
  declinedAtConfirm: "4000000000000002",
  /** Saves, but every charge and hold is declined (`card_declined`). */
  chargesDeclined: "4000000000000341",
  /** Saves, but every off-session charge and hold needs the customer's authentication (Stripe's "always authenticate"). */
  chargesNeedAuthentication: "4000002760003184",
  /**
   * Kept for older tests: in the sandbox its off-session charges need authentication too.
   * (In Stripe this card authenticates at set-up only; use `chargesNeedAuthentication`.)
   */
  chargesNeedAuthenticationAtSetUp: "4000002500003155",
  /** Sandbox only: saves, every charge and hold is declined `insufficient_funds` (soft: dunning retries it). */
  chargesDeclinedInsufficientFunds: "4242420000009951",
  /** Sandbox only: saves, every charge and hold is declined `lost_card` (hard: never retried). */
  chargesDeclinedLostCard: "4242420000009985"
} as const

/** The test card was declined, or the number is not one the sandbox knows. */
export class SandboxCardDeclined extends Schema.TaggedError<SandboxCardDeclined>()("SandboxCardDeclined", {
  setupIntentId: Schema.String,
  code: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export interface SandboxPaymentRecord {
  readonly id: string
  readonly object: "customer" | "setup_intent" | "payment_intent"
  readonly status: string
  readonly amountPence: number | null
  readonly sessionId: string | null
  readonly createdAt: Date
}

export interface SandboxConsoleShape {
  /** The customer enters a card for a set-up intent (what Stripe.js does in test mode). */
  readonly confirmSetupIntent: (
    setupIntentId: string,
    card: { readonly cardNumber: string; readonly email: string }
  ) => Effect.Effect<
    { readonly setupIntentId: string; readonly status: string },
    SandboxCardDeclined | SetupIntentNotFound
  >
  /** Every sandbox object, newest first. */
  readonly listPayments: Effect.Effect<ReadonlyArray<SandboxPaymentRecord>>
  /**
   * A refund made by hand in the provider's dashboard (no idempotency key of ours), as staff
   * would in Stripe's: what the webhook and reconciliation must find. Refused above what is left.
   */
  readonly refundFromDashboard: (
    paymentIntentId: string,
    amountPence: Pence
  ) => Effect.Effect<ProviderRefund, RefundRefused>
}

export class SandboxConsole extends Context.Tag("@qwip/adapters/SandboxConsole")<
  SandboxConsole,
  SandboxConsoleShape
>() {}
