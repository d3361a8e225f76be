/** Stripe: the `Payments` port, and verification and decoding of Stripe's webhooks. */
export * from "./StripePayments.js"
export * from "./StripeWebhooks.js"
