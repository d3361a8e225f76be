/**
 * Stripe: the `Payments` port (its client, the charge's outcome, the read-back of a lost answer,
 * its configuration), verification of Stripe's webhooks, and what their events mean.
 */

export * from "./ChargeReadBack.js"
export * from "./StripeAnswer.js"
export * from "./StripeClient.js"
export * from "./StripeConfig.js"
export * from "./StripeEvents.js"
export * from "./StripeFailures.js"
export * from "./StripeHolds.js"
export * from "./StripeListing.js"
export * from "./StripePayments.js"
export * from "./StripeRefunds.js"
export * from "./StripeWebhooks.js"
