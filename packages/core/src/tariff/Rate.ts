/**
 * A pod's price per minute, held exactly. `pods.price` stores pounds per minute as a
 * decimal (0.5, "0.125"); we keep it as a whole number of ten-thousandths of a pound
 * (hundredths of a penny) so no cost is ever computed with a float.
 */
import { Either, ParseResult, Schema } from "effect"

/** Decimal places of pounds a rate may have. */
export const RATE_DECIMALS = 4
const SCALE = 10 ** RATE_DECIMALS

/** Rate per minute in ten-thousandths of a pound: 0.5 £/min is 5000. */
export const RatePerMinute = Schema.Int.pipe(
  Schema.nonNegative(),
  Schema.lessThanOrEqualTo(100_000_000),
  Schema.brand("RatePerMinute")
)
export type RatePerMinute = typeof RatePerMinute.Type

const DECIMAL = /^(\d{1,6})(?:\.(\d+))?$/

/**
 * Reads a rate from its decimal text ("0.125", "1", "0.07") or from a number, which is
 * taken by its shortest decimal form (what a database float prints), never multiplied.
 */
export const parseRate = (input: number | string): Either.Either<RatePerMinute, string> => {
  const text = typeof input === "number" ? numberToDecimalText(input) : input.trim()
  if (text === undefined) return Either.left(`rate must be a finite, non-negative number, got ${input}`)
  const match = DECIMAL.exec(text)
  if (match === null) return Either.left(`rate must be a decimal number of pounds per minute, got "${text}"`)
  const whole = match[1] ?? "0"
  const fraction = (match[2] ?? "").replace(/0+$/, "")
  if (fraction.length > RATE_DECIMALS) {
    return Either.left(`rate may have at most ${RATE_DECIMALS} decimal places of pounds, got "${text}"`)
  }
  return Either.right((Number(whole) * SCALE + Number(fraction.padEnd(RATE_DECIMALS, "0"))) as RatePerMinute)
}

const numberToDecimalText = (n: number): string | undefined => {
  if (!Number.isFinite(n) || n < 0) return undefined
  // Shortest round-trip form; spell out exponents such as 1e-7 so the pattern check rejects them.
  const text = String(n)
  return text.includes("e") ? n.toFixed(20) : text
}

/** Like `parseRate`, throwing `RangeError` on bad input. */
export const rate = (input: number | string): RatePerMinute =>
  Either.getOrThrowWith(parseRate(input), (message) => new RangeError(message))

/** The rate as decimal pounds text, shortest form: 5000 → "0.5", 1250 → "0.125". */
export const formatRate = (r: RatePerMinute): string => {
  const whole = Math.trunc(r / SCALE)
  const fraction = (r % SCALE).toString().padStart(RATE_DECIMALS, "0").replace(/0+$/, "")
  return fraction.length === 0 ? `${whole}` : `${whole}.${fraction}`
}

/** The rate for people: "£0.50 a minute", at least two decimals as money is written ("£0.125 a minute"). */
export const describeRate = (r: RatePerMinute): string => {
  const [whole, fraction = ""] = formatRate(r).split(".")
  return `£${whole}.${fraction.padEnd(2, "0")} a minute`
}

/** The rate as a JSON number of pounds, as today's `price_per_minute` field carries it. */
export const rateToPoundsNumber = (r: RatePerMinute): number => Number(formatRate(r))

/** Schema for a rate given as decimal text or number (API and database edges). */
export const RateFromDecimal = Schema.transformOrFail(Schema.Union(Schema.String, Schema.Number), RatePerMinute, {
  strict: true,
  decode: (input, _, ast) =>
    Either.match(parseRate(input), {
      onLeft: (message) => Either.left(new ParseResult.Type(ast, input, message)),
      onRight: (r) => Either.right(r)
    }),
  encode: (r) => Either.right(formatRate(r as RatePerMinute))
})
