/**
 * What staff type for money and time windows: `--amount` read as whole pence exactly, and
 * `--since` as how far back or a zoned time; anything else refused with what to type instead.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { penceOf, sinceOf } from "../src/Common.js"

const amount = (text: string) => Effect.runSync(Effect.either(penceOf("--amount", text)))

describe("--amount", () => {
  it.each([
    ["£12.50", 1250],
    ["12.50", 1250],
    ["12.5", 1250],
    ["12", 1200],
    ["£0.01", 1],
    [" £ 3.07 ", 307],
    // 0.1 + 0.2 in floating point is not 0.3; read as digits it is exact.
    ["0.30", 30],
    ["1234567.89", 123456789]
  ])("%s is %i pence", (text, expected) => {
    expect(amount(text)).toEqual(Either.right(expected))
  })

  it.each([
    ["12.505", "more than 2 decimal places"],
    ["£1.999", "more than 2 decimal places"],
    ["-5", "negative"],
    ["£-5.00", "negative"],
    ["0", "zero"],
    ["£0.00", "zero"],
    ["twelve", "not an amount"],
    ["12,50", "not an amount"],
    ["$12", "not an amount"],
    ["", "not an amount"]
  ])("%s is refused (%s)", (text, why) => {
    const result = amount(text)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left._tag).toBe("UsageError")
      expect(result.left.message).toContain(why)
      expect(result.left.message).toContain("e.g. £12.50")
    }
  })
})

describe("--since", () => {
  const now = new Date("2026-03-10T12:00:00Z")
  const since = (text: string) => Effect.runSync(Effect.either(sinceOf(text, now)))

  it.each([
    ["24h", "2026-03-09T12:00:00.000Z"],
    ["30m", "2026-03-10T11:30:00.000Z"],
    ["7d", "2026-03-03T12:00:00.000Z"],
    ["2026-03-01T09:30Z", "2026-03-01T09:30:00.000Z"]
  ])("%s starts at %s", (text, expected) => {
    expect(Either.map(since(text), (d) => d.toISOString())).toEqual(Either.right(expected))
  })

  it.each(["yesterday", "24", "0h", "-2h", "2026-03-01", "2027-01-01T00:00Z"])("%s is refused", (text) => {
    const result = since(text)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(result.left.message).toContain("e.g. 30m, 24h, 7d")
  })
})
