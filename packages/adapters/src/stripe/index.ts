/** Stripe: the `Payments` port, verification of Stripe's webhooks, and what their events mean. */
export * from "./StripeEvents.js"
export * from "./StripePayments.js"
export * from "./StripeWebhooks.js"
