/**
 * Card set-up and charging, in the platform's words. Stripe in production; a sandbox that
 * honours Stripe's test cards when no key is configured.
 */
import { Context, type Effect, type Option, Schema } from "effect"
import type { PodId, SessionId, SetupIntentId } from "../Ids.js"
import type { Pence } from "../tariff/Money.js"

/** A request to the payment provider failed in a way that may succeed later (network, 5xx, rate limit). */
export class PaymentsUnavailable extends Schema.TaggedError<PaymentsUnavailable>()("PaymentsUnavailable", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `payment provider unavailable during ${this.operation}: ${this.reason}`
  }
}

export class SetupIntentNotFound extends Schema.TaggedError<SetupIntentNotFound>()("SetupIntentNotFound", {
  setupIntentId: Schema.String
}) {
  override get message() {
    return `card set-up ${this.setupIntentId} does not exist`
  }
}

export interface CardSetUpStarted {
  readonly setupIntentId: SetupIntentId
  readonly clientSecret: string
  readonly customerId: string
}

/** What the provider says about a card set-up. */
export interface CardSetUpResult {
  readonly setupIntentId: SetupIntentId
  /** `succeeded` when the card can be charged off-session. */
  readonly status: "succeeded" | "processing" | "requires_action" | "requires_payment_method" | "canceled"
  readonly podId: Option.Option<string>
  readonly customerId: Option.Option<string>
  readonly paymentMethodId: Option.Option<string>
  /** The card holder's email, or `FALLBACK_CUSTOMER_EMAIL` when they gave none. */
  readonly email: string
}

export interface ChargeRequest {
  readonly sessionId: SessionId
  readonly amountPence: Pence
  readonly customerId: string
  readonly paymentMethodId: string
  readonly receiptEmail: string
  /** Stable for the session: a retried charge is the same charge. */
  readonly idempotencyKey: string
}

/** A definite answer to a charge. Transient failures are `PaymentsUnavailable` instead. */
export type ChargeResult =
  | { readonly _tag: "Succeeded"; readonly paymentIntentId: string; readonly amountPence: Pence }
  | {
      readonly _tag: "Declined"
      readonly paymentIntentId: Option.Option<string>
      readonly code: string
      readonly message: string
    }
  | { readonly _tag: "NeedsAuthentication"; readonly paymentIntentId: string }

/** What reading a charge back finds. */
export type ChargeReading = ChargeResult | { readonly _tag: "Processing"; readonly paymentIntentId: string }

export interface PaymentsShape {
  /** Creates a customer and an off-session card set-up for a pod. */
  readonly setUpCard: (request: {
    readonly podId: PodId
    readonly idempotencyKey: string
  }) => Effect.Effect<CardSetUpStarted, PaymentsUnavailable>
  readonly readCardSetUp: (
    id: SetupIntentId
  ) => Effect.Effect<CardSetUpResult, PaymentsUnavailable | SetupIntentNotFound>
  /** Charges a saved card off-session in GBP. */
  readonly chargeSession: (request: ChargeRequest) => Effect.Effect<ChargeResult, PaymentsUnavailable>
  /**
   * Reads a session's charge back (by PaymentIntent id when known, else by the session id).
   * `customerId`, when given, lets the provider look among that customer's charges only
   * (each booking has its own customer), which is exact where a search may lag.
   */
  readonly readCharge: (request: {
    readonly sessionId: SessionId
    readonly paymentIntentId: Option.Option<string>
    readonly customerId?: string | undefined
  }) => Effect.Effect<Option.Option<ChargeReading>, PaymentsUnavailable>
}

export class Payments extends Context.Tag("@qwip/core/Payments")<Payments, PaymentsShape>() {}

/** The idempotency key of a session's charge: the same for every retry, by anyone. */
export const chargeKeyFor = (sessionId: SessionId): string => `qwip-session-charge-${sessionId}`
