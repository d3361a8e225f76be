/**
 * What a session costs. The one place Qwip's pricing rules live:
 * - time counts in whole seconds (milliseconds dropped);
 * - promo minutes come off the front, never below zero;
 * - gross = billable seconds × rate / 60, exact, rounded half-up to the penny once;
 * - below the minimum (30p) nothing is charged;
 * - an optional cap applies last.
 */
import { Effect, Either, Schema } from "effect"
import { parseRate, type RatePerMinute } from "./Rate.js"

export const DEFAULT_MINIMUM_CHARGE_PENCE = 30
/** Free minutes at the start of a session when `PROMO_MODE=true`. */
export const PROMO_FREE_MINUTES = 10

/** Why a quote charges what it does. */
export const QuoteReason = Schema.Literal("charge", "below_minimum")
export type QuoteReason = typeof QuoteReason.Type

/** The priced outcome of a span of time at a rate. */
export class Quote extends Schema.Class<Quote>("Quote")({
  billableSeconds: Schema.Int.pipe(Schema.nonNegative()),
  grossPence: Schema.Int.pipe(Schema.nonNegative()),
  chargePence: Schema.Int.pipe(Schema.nonNegative()),
  reason: QuoteReason
}) {}

/** Plain input for `quoteSession`, for apps that do not use Effect. */
export interface QuoteInput {
  readonly startedAt: Date
  readonly endedAt: Date
  /** Pounds per minute as `pods.price` stores it: 0.5, "0.125". At most 4 decimal places. */
  readonly ratePerMinute: number | string
  /** Free minutes at the start; default 0 (`PROMO_MODE=true` means 10). */
  readonly promoFreeMinutes?: number
  /** Below this gross amount nothing is charged; default 30. */
  readonly minimumChargePence?: number
  /** Optional most a session can cost. */
  readonly maxChargePence?: number
}

/** Plain output of `quoteSession`. */
export interface QuoteResult {
  readonly billableSeconds: number
  readonly grossPence: number
  readonly chargePence: number
  readonly reason: QuoteReason
}

/** The session's end is before its start. */
export class EndBeforeStart extends Schema.TaggedError<EndBeforeStart>()("EndBeforeStart", {
  startedAt: Schema.DateFromSelf,
  endedAt: Schema.DateFromSelf
}) {
  override get message() {
    return `endedAt ${this.endedAt.toISOString()} is before startedAt ${this.startedAt.toISOString()}`
  }
}

/** A tariff setting is out of range (bad rate text, negative promo, fractional pence). */
export class InvalidTariff extends Schema.TaggedError<InvalidTariff>()("InvalidTariff", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.field}: ${this.reason}`
  }
}

/** Tariff terms with the rate already parsed; what the use cases work with. */
export interface Terms {
  readonly rate: RatePerMinute
  readonly promoFreeMinutes: number
  readonly minimumChargePence: number
  readonly maxChargePence?: number | undefined
}

const RATE_SCALE = 10_000n // ten-thousandths of a pound per minute
const SECONDS_PER_MINUTE = 60n
const PENCE_PER_POUND = 100n

/**
 * Prices `seconds` of billable time. Pure and total: terms must already be valid.
 * gross pence = seconds × rate / (60 × 10000 / 100), rounded half-up once.
 */
export const priceSeconds = (billableSeconds: number, terms: Terms): Quote => {
  const numerator = BigInt(billableSeconds) * BigInt(terms.rate) * PENCE_PER_POUND
  const denominator = SECONDS_PER_MINUTE * RATE_SCALE
  const grossPence = Number((2n * numerator + denominator) / (2n * denominator))
  if (grossPence < terms.minimumChargePence) {
    return new Quote({ billableSeconds, grossPence, chargePence: 0, reason: "below_minimum" })
  }
  const chargePence = terms.maxChargePence === undefined ? grossPence : Math.min(grossPence, terms.maxChargePence)
  return new Quote({ billableSeconds, grossPence, chargePence, reason: "charge" })
}

/** Whole billable seconds between two instants after promo minutes. */
export const billableSeconds = (startedAt: Date, endedAt: Date, promoFreeMinutes: number): number => {
  const elapsed = Math.floor((endedAt.getTime() - startedAt.getTime()) / 1000)
  return Math.max(0, elapsed - promoFreeMinutes * 60)
}

/** Quotes a session under already-valid terms; the Effect API used by the use cases. */
export const quote = (startedAt: Date, endedAt: Date, terms: Terms): Effect.Effect<Quote, EndBeforeStart> =>
  endedAt.getTime() < startedAt.getTime()
    ? Effect.fail(new EndBeforeStart({ startedAt, endedAt }))
    : Effect.succeed(priceSeconds(billableSeconds(startedAt, endedAt, terms.promoFreeMinutes), terms))

const checkWhole = (field: string, value: number | undefined): Either.Either<number | undefined, InvalidTariff> =>
  value === undefined || (Number.isSafeInteger(value) && value >= 0)
    ? Either.right(value)
    : Either.left(new InvalidTariff({ field, reason: `must be a whole, non-negative number, got ${value}` }))

const checkDate = (field: string, value: Date): Either.Either<Date, InvalidTariff> =>
  value instanceof Date && !Number.isNaN(value.getTime())
    ? Either.right(value)
    : Either.left(new InvalidTariff({ field, reason: "must be a valid Date" }))

/** Validates plain quote input into `Terms`. */
export const termsFromInput = (input: QuoteInput): Either.Either<Terms, InvalidTariff> =>
  Either.gen(function* () {
    const rate = yield* Either.mapLeft(
      parseRate(input.ratePerMinute),
      (reason) => new InvalidTariff({ field: "ratePerMinute", reason })
    )
    const promoFreeMinutes = (yield* checkWhole("promoFreeMinutes", input.promoFreeMinutes)) ?? 0
    const minimumChargePence =
      (yield* checkWhole("minimumChargePence", input.minimumChargePence)) ?? DEFAULT_MINIMUM_CHARGE_PENCE
    const maxChargePence = yield* checkWhole("maxChargePence", input.maxChargePence)
    return { rate, promoFreeMinutes, minimumChargePence, maxChargePence }
  })

/** The Effect form of `quoteSession`: typed errors instead of exceptions. */
export const quoteSessionEffect = (input: QuoteInput): Effect.Effect<Quote, EndBeforeStart | InvalidTariff> =>
  Effect.gen(function* () {
    const startedAt = yield* checkDate("startedAt", input.startedAt)
    const endedAt = yield* checkDate("endedAt", input.endedAt)
    const terms = yield* termsFromInput(input)
    return yield* quote(startedAt, endedAt, terms)
  })

/**
 * Prices a session. Plain function for apps that do not use Effect.
 * Throws `RangeError` when `endedAt` is before `startedAt` or an input is invalid.
 *
 * @example
 * quoteSession({ startedAt, endedAt, ratePerMinute: "0.125" })
 * // { billableSeconds: 180, grossPence: 38, chargePence: 38, reason: "charge" }
 */
export const quoteSession = (input: QuoteInput): QuoteResult => {
  // Plain code path (no Effect runtime): it is the same rules as `quoteSessionEffect`.
  const terms = Either.gen(function* () {
    const startedAt = yield* checkDate("startedAt", input.startedAt)
    const endedAt = yield* checkDate("endedAt", input.endedAt)
    if (endedAt.getTime() < startedAt.getTime()) return yield* Either.left(new EndBeforeStart({ startedAt, endedAt }))
    return { startedAt, endedAt, terms: yield* termsFromInput(input) }
  })
  if (Either.isLeft(terms)) throw new RangeError(terms.left.message)
  const { startedAt, endedAt } = terms.right
  const q = priceSeconds(billableSeconds(startedAt, endedAt, terms.right.terms.promoFreeMinutes), terms.right.terms)
  return { billableSeconds: q.billableSeconds, grossPence: q.grossPence, chargePence: q.chargePence, reason: q.reason }
}
