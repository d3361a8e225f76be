/**
 * Whom Qwip writes to about a booking. A card saved without a billing email still books: its
 * mail goes to Qwip's own inbox instead, as the old service did, so someone can follow it up.
 */

/** Where a booking's mail goes when the card holder gave no email. */
export const FALLBACK_CUSTOMER_EMAIL = "hello@qwip.co.uk"

/** The card's billing email as given, or the fallback when it is missing or blank. */
export const customerEmail = (billingEmail: string | null | undefined): string =>
  billingEmail === null || billingEmail === undefined || billingEmail.trim() === ""
    ? FALLBACK_CUSTOMER_EMAIL
    : billingEmail
