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

/** A card check hold at booking: a manual-capture PaymentIntent, off-session, in GBP. */
export interface HoldRequest {
  readonly sessionId: SessionId
  readonly setupIntentId: SetupIntentId
  readonly amountPence: Pence
  readonly customerId: string
  readonly paymentMethodId: string
  /** Stable for the booking (from the card set-up): a retried finalize places the same hold. */
  readonly idempotencyKey: string
}

export type HoldResult =
  | { readonly _tag: "Held"; readonly paymentIntentId: string; readonly amountPence: Pence }
  | {
      readonly _tag: "Declined"
      readonly paymentIntentId: Option.Option<string>
      readonly code: string
      readonly message: string
    }
  | { readonly _tag: "NeedsAuthentication"; readonly paymentIntentId: string }

/** Capturing a hold: what was captured, or why it cannot be (expired, cancelled, never held). */
export type CaptureResult =
  | { readonly _tag: "Captured"; readonly amountPence: Pence }
  | { readonly _tag: "NotCapturable"; readonly status: string }

/** A refund as the provider records it. */
export interface ProviderRefund {
  readonly refundId: string
  readonly paymentIntentId: string
  readonly amountPence: Pence
  readonly status: "pending" | "succeeded" | "failed" | "canceled"
  /** Ours carry the idempotency key in the refund's metadata; dashboard refunds have none. */
  readonly key: Option.Option<string>
}

/** A PaymentIntent the provider holds for a Qwip session (`metadata.session_id`). */
export interface ProviderPayment {
  readonly paymentIntentId: string
  readonly sessionId: SessionId
  /** `hold`: a card check hold at booking; `charge`: any charge (end, dunning, pay link, staff). */
  readonly purpose: "hold" | "charge"
  readonly status:
    | "succeeded"
    | "processing"
    | "requires_action"
    | "requires_payment_method"
    | "requires_confirmation"
    | "requires_capture"
    | "canceled"
  readonly amountPence: Pence
  /** What the provider received (captured), 0 unless `succeeded`. */
  readonly receivedPence: Pence
  readonly refundedPence: Pence
  readonly createdAt: Date
}

/** What the pay page needs to let the customer finish a payment on-session. */
export interface PaymentForCustomer {
  readonly paymentIntentId: string
  readonly clientSecret: string
  readonly status: ProviderPayment["status"]
  readonly amountPence: Pence
}

/** A refund the provider refused (more than is left on the PaymentIntent, a charge that failed). */
export class RefundRefused extends Schema.TaggedError<RefundRefused>()("RefundRefused", {
  paymentIntentId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `the payment provider refused to refund ${this.paymentIntentId}: ${this.reason}`
  }
}

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
  /** Places a card check hold (manual capture). Never counted by `readCharge`. */
  readonly placeHold: (request: HoldRequest) => Effect.Effect<HoldResult, PaymentsUnavailable>
  /** Captures up to the hold; a repeat with the same key answers the first capture. */
  readonly captureHold: (request: {
    readonly sessionId: SessionId
    readonly paymentIntentId: string
    readonly amountPence: Pence
    readonly idempotencyKey: string
  }) => Effect.Effect<CaptureResult, PaymentsUnavailable>
  /** Cancels a hold; one already cancelled answers the same, one captured says so. */
  readonly releaseHold: (request: {
    readonly sessionId: SessionId
    readonly paymentIntentId: string
    readonly idempotencyKey: string
  }) => Effect.Effect<"released" | "captured", PaymentsUnavailable>
  /** Refunds part or all of a succeeded PaymentIntent; a repeated key refunds nothing more. */
  readonly refund: (request: {
    readonly sessionId: SessionId
    readonly paymentIntentId: string
    readonly amountPence: Pence
    readonly idempotencyKey: string
    readonly reason: string
  }) => Effect.Effect<ProviderRefund, PaymentsUnavailable | RefundRefused>
  /** Every refund of a PaymentIntent, however it was made (ours or the dashboard's). */
  readonly refundsOf: (paymentIntentId: string) => Effect.Effect<ReadonlyArray<ProviderRefund>, PaymentsUnavailable>
  /** The PaymentIntents for Qwip sessions created in `[since, until)`, holds included. */
  readonly sessionPayments: (window: {
    readonly since: Date
    readonly until: Date
  }) => Effect.Effect<ReadonlyArray<ProviderPayment>, PaymentsUnavailable>
  /**
   * A PaymentIntent the customer completes on the pay page: the one given (it needs their
   * authentication) or, when none, a new one for `amountPence` created with `idempotencyKey`,
   * confirmable on-session with the saved card or another.
   */
  readonly paymentForCustomer: (request: {
    readonly sessionId: SessionId
    readonly paymentIntentId: Option.Option<string>
    readonly amountPence: Pence
    readonly customerId: string
    readonly idempotencyKey: string
  }) => Effect.Effect<PaymentForCustomer, PaymentsUnavailable>
  /** Reads one PaymentIntent (the pay page's read-back). */
  readonly readPayment: (paymentIntentId: string) => Effect.Effect<Option.Option<ProviderPayment>, PaymentsUnavailable>
}

export class Payments extends Context.Tag("@qwip/core/Payments")<Payments, PaymentsShape>() {}

/** The idempotency key of a session's charge: the same for every retry, by anyone. */
export const chargeKeyFor = (sessionId: SessionId): string => `qwip-session-charge-${sessionId}`

/**
 * Stripe's decline codes that must not be retried (its "do not try again" guidance): the
 * card is lost, stolen, fraudulent, closed, wrong or expired. Retrying these is refused by
 * card networks and can cost fees. See `Dunning`.
 */
export const HARD_DECLINE_CODES: ReadonlySet<string> = new Set([
  "lost_card",
  "stolen_card",
  "pickup_card",
  "fraudulent",
  "merchant_blacklist",
  "restricted_card",
  "security_violation",
  "revocation_of_all_authorizations",
  "revocation_of_authorization",
  "stop_payment_order",
  "invalid_account",
  "new_account_information_available",
  "incorrect_number",
  "invalid_number",
  "incorrect_cvc",
  "invalid_cvc",
  "invalid_expiry_month",
  "invalid_expiry_year",
  "expired_card",
  "card_not_supported",
  "currency_not_supported",
  "do_not_honor_permanently",
  "do_not_try_again"
])
