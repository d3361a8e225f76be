import { describe, expect, it } from "@effect/vitest"
import { formatRate, parseRate, quoteSession, rate, Tariff } from "@qwip/core"
import { Effect, Either } from "effect"
import * as fc from "fast-check"

const start = new Date("2025-03-01T10:00:00.000Z")
const after = (ms: number) => new Date(start.getTime() + ms)
const SEC = 1000
const MIN = 60 * SEC

describe("quoteSession: the issue's table", () => {
  const cases = [
    {
      name: "10 min at 0.50",
      ms: 10 * MIN,
      rate: 0.5 as number | string,
      promo: 0,
      cap: undefined,
      expect: { billableSeconds: 600, grossPence: 500, chargePence: 500, reason: "charge" }
    },
    {
      name: "90 s at 1.00",
      ms: 90 * SEC,
      rate: 1.0,
      promo: 0,
      cap: undefined,
      expect: { billableSeconds: 90, grossPence: 150, chargePence: 150, reason: "charge" }
    },
    {
      name: "35 s at 0.50",
      ms: 35 * SEC,
      rate: 0.5,
      promo: 0,
      cap: undefined,
      expect: { billableSeconds: 35, grossPence: 29, chargePence: 0, reason: "below_minimum" }
    },
    {
      name: "36 s at 0.50",
      ms: 36 * SEC,
      rate: 0.5,
      promo: 0,
      cap: undefined,
      expect: { billableSeconds: 36, grossPence: 30, chargePence: 30, reason: "charge" }
    },
    {
      name: "15 min at 0.50, promo 10",
      ms: 15 * MIN,
      rate: 0.5,
      promo: 10,
      cap: undefined,
      expect: { billableSeconds: 300, grossPence: 250, chargePence: 250, reason: "charge" }
    },
    {
      name: "9 min at 0.50, promo 10",
      ms: 9 * MIN,
      rate: 0.5,
      promo: 10,
      cap: undefined,
      expect: { billableSeconds: 0, grossPence: 0, chargePence: 0, reason: "below_minimum" }
    },
    {
      name: '3 min at "0.125"',
      ms: 3 * MIN,
      rate: "0.125",
      promo: 0,
      cap: undefined,
      expect: { billableSeconds: 180, grossPence: 38, chargePence: 38, reason: "charge" }
    },
    {
      name: "100 min at 0.07",
      ms: 100 * MIN,
      rate: 0.07,
      promo: 0,
      cap: undefined,
      expect: { billableSeconds: 6000, grossPence: 700, chargePence: 700, reason: "charge" }
    },
    {
      name: "5 h at 0.50, cap 6000",
      ms: 5 * 60 * MIN,
      rate: 0.5,
      promo: 0,
      cap: 6000,
      expect: { billableSeconds: 18000, grossPence: 15000, chargePence: 6000, reason: "charge" }
    }
  ] as const
  for (const c of cases) {
    it(c.name, () => {
      const result = quoteSession({
        startedAt: start,
        endedAt: after(c.ms),
        ratePerMinute: c.rate,
        promoFreeMinutes: c.promo,
        ...(c.cap === undefined ? {} : { maxChargePence: c.cap })
      })
      expect(result).toEqual(c.expect)
    })
  }

  it("floors milliseconds: 35.999 s is 35 s", () => {
    expect(quoteSession({ startedAt: start, endedAt: after(35_999), ratePerMinute: 0.5 }).billableSeconds).toBe(35)
  })

  it("throws RangeError when the end is before the start", () => {
    expect(() => quoteSession({ startedAt: start, endedAt: after(-1), ratePerMinute: 0.5 })).toThrow(RangeError)
  })

  it("throws RangeError naming the field for a bad rate or promo", () => {
    expect(() => quoteSession({ startedAt: start, endedAt: after(MIN), ratePerMinute: "0.12345" })).toThrow(
      /ratePerMinute/
    )
    expect(() => quoteSession({ startedAt: start, endedAt: after(MIN), ratePerMinute: "abc" })).toThrow(/ratePerMinute/)
    expect(() => quoteSession({ startedAt: start, endedAt: after(MIN), ratePerMinute: -0.5 })).toThrow(/ratePerMinute/)
    expect(() =>
      quoteSession({ startedAt: start, endedAt: after(MIN), ratePerMinute: 0.5, promoFreeMinutes: 1.5 })
    ).toThrow(/promoFreeMinutes/)
  })

  it.effect("the Effect API fails with a typed EndBeforeStart", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(
        Tariff.quoteSessionEffect({ startedAt: start, endedAt: after(-SEC), ratePerMinute: 0.5 })
      )
      expect(Either.isLeft(result) && result.left._tag).toBe("EndBeforeStart")
    })
  )
})

describe("rates are exact decimals", () => {
  it("parses text and numbers by their decimal form, never as floats", () => {
    expect(rate("0.125")).toBe(1250)
    expect(rate(0.07)).toBe(700)
    expect(rate(1)).toBe(10_000)
  })
  it("rejects more than 4 decimal places, including float noise", () => {
    expect(Either.isLeft(parseRate(0.1 + 0.2))).toBe(true) // 0.30000000000000004
    expect(Either.isLeft(parseRate("1e-3"))).toBe(true)
    expect(Either.isLeft(parseRate(Number.NaN))).toBe(true)
  })
  it("formats back to the shortest decimal", () => {
    expect(formatRate(rate("0.5000"))).toBe("0.5")
    expect(formatRate(rate("12"))).toBe("12")
    expect(formatRate(rate("0.0001"))).toBe("0.0001")
  })
})

// ---- properties ----------------------------------------------------------------------

const rateText = fc
  .tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 9999 }))
  .map(([pounds, tenThousandths]) => `${pounds}.${tenThousandths.toString().padStart(4, "0")}`)
const seconds = fc.integer({ min: 0, max: 7 * 24 * 3600 })
const promo = fc.integer({ min: 0, max: 120 })
const minimum = fc.integer({ min: 0, max: 500 })
const cap = fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined })

const quoteFor = (s: number, r: string, p = 0, min = 30, max?: number) =>
  quoteSession({
    startedAt: start,
    endedAt: after(s * SEC),
    ratePerMinute: r,
    promoFreeMinutes: p,
    minimumChargePence: min,
    ...(max === undefined ? {} : { maxChargePence: max })
  })

/** An independent exact reference: rationals as BigInt numerator/denominator, half-up. */
const referenceGross = (billable: number, r: string): number => {
  const [whole = "0", frac = ""] = r.split(".")
  const rateNum = BigInt(whole + frac) // pounds × 10^len(frac)
  const rateDen = 10n ** BigInt(frac.length)
  const num = BigInt(billable) * rateNum * 100n // pence
  const den = 60n * rateDen
  const q = num / den
  const rem = num % den
  return Number(2n * rem >= den ? q + 1n : q)
}

describe("tariff properties", () => {
  it("is never negative and always whole pence", () => {
    fc.assert(
      fc.property(seconds, rateText, promo, minimum, cap, (s, r, p, min, max) => {
        const q = quoteFor(s, r, p, min, max)
        return (
          Number.isInteger(q.grossPence) &&
          Number.isInteger(q.chargePence) &&
          Number.isInteger(q.billableSeconds) &&
          q.grossPence >= 0 &&
          q.chargePence >= 0 &&
          q.billableSeconds >= 0
        )
      })
    )
  })
  it("never decreases as time grows (without a minimum or below it)", () => {
    fc.assert(
      fc.property(seconds, seconds, rateText, promo, cap, (a, b, r, p, max) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        return quoteFor(lo, r, p, 30, max).chargePence <= quoteFor(hi, r, p, 30, max).chargePence
      })
    )
  })
  it("promo minutes never raise the charge", () => {
    fc.assert(
      fc.property(seconds, rateText, promo, cap, (s, r, p, max) => {
        return quoteFor(s, r, p, 30, max).chargePence <= quoteFor(s, r, 0, 30, max).chargePence
      })
    )
  })
  it("respects the minimum and the cap", () => {
    fc.assert(
      fc.property(seconds, rateText, promo, minimum, cap, (s, r, p, min, max) => {
        const q = quoteFor(s, r, p, min, max)
        if (q.grossPence < min) return q.chargePence === 0 && q.reason === "below_minimum"
        return (
          q.reason === "charge" &&
          (max === undefined ? q.chargePence === q.grossPence : q.chargePence === Math.min(q.grossPence, max))
        )
      })
    )
  })
  it("equals an exact rational reference", () => {
    fc.assert(
      fc.property(seconds, rateText, promo, (s, r, p) => {
        const q = quoteFor(s, r, p, 0)
        return q.billableSeconds === Math.max(0, s - p * 60) && q.grossPence === referenceGross(q.billableSeconds, r)
      })
    )
  })
})
