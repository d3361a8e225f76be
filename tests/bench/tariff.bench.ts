/**
 * The tariff is on every end and preview; it must stay far below a request's cost.
 * `npm run bench -- tests/bench/tariff.bench.ts`
 */
import { quoteSession, Tariff } from "@qwip/core"
import { Effect } from "effect"
import { bench, describe } from "vitest"

const startedAt = new Date("2025-01-01T09:00:00Z")
const endedAt = new Date("2025-01-01T10:17:43.512Z")

describe("tariff", () => {
  bench("quoteSession (plain)", () => {
    quoteSession({ startedAt, endedAt, ratePerMinute: "0.125", promoFreeMinutes: 10 })
  })
  bench("Tariff.quote (Effect, parsed terms)", () => {
    Effect.runSync(
      Tariff.quote(startedAt, endedAt, { rate: 1250 as never, promoFreeMinutes: 10, minimumChargePence: 30 })
    )
  })
})
