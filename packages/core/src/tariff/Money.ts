/**
 * Money in Qwip is always an integer number of pence. Floats never hold an amount.
 */
import { Schema } from "effect"

/** A non-negative whole number of pence. */
export const Pence = Schema.Int.pipe(Schema.nonNegative(), Schema.brand("Pence"))
export type Pence = typeof Pence.Type

/** Builds `Pence` from a whole, non-negative number; throws `RangeError` otherwise. */
export const pence = (amount: number): Pence => {
  if (!Number.isSafeInteger(amount) || amount < 0) {
    throw new RangeError(`pence must be a whole, non-negative number, got ${amount}`)
  }
  return amount as Pence
}

/** `1234` pence as `"12.34"`: for display and for today's `cost` field. */
export const formatPounds = (amount: Pence): string => {
  const pounds = Math.trunc(amount / 100)
  const rest = amount % 100
  return `${pounds}.${rest.toString().padStart(2, "0")}`
}

/** Pence as pounds in a JSON number, as today's API returns `cost`. Exact to 2 dp. */
export const toPoundsNumber = (amount: Pence): number => Number(formatPounds(amount))

/** The one currency Qwip charges in, as the payment provider writes it. */
export const CHARGE_CURRENCY = "gbp"
/** The smallest amount the payment provider charges (or holds) in GBP: Stripe refuses less than 30p. */
export const SMALLEST_CHARGE_PENCE = 30
