/** Stripe events for black-box tests, shared with @qwip/http's own tests. */
export * from "../../../packages/http/test/support/StripeEvents.js"
