/**
 * What the sandbox payment provider exposes beyond the `Payments` port: the customer's
 * side of Stripe's test mode (confirming a card set-up with a test card number) and a
 * listing for staff. Only present when the platform runs with sandbox payments.
 */

import type { SetupIntentNotFound } from "@qwip/core"
import { Context, type Effect, Schema } from "effect"

/** Stripe's test cards the sandbox honours. */
export const TEST_CARDS = {
  /** Succeeds, and so do its off-session charges. */
  succeeds: "4242424242424242",
  /** Declined when the card is confirmed. */
  declinedAtConfirm: "4000000000000002",
  /** Attaches, but off-session charges are declined. */
  chargesDeclined: "4000000000000341",
  /** Attaches, but off-session charges need the customer's authentication. */
  chargesNeedAuthentication: "4000002500003155"
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
}

export class SandboxConsole extends Context.Tag("@qwip/adapters/SandboxConsole")<
  SandboxConsole,
  SandboxConsoleShape
>() {}
