import { describe, expect, it } from "@effect/vitest"
import { newSessionId } from "@qwip/core"
import { Effect } from "effect"
import { cryptoRandom } from "../../src/CryptoRandom.js"

describe("cryptographic Random", () => {
  it.effect("gives the core unique v4 session ids", () =>
    Effect.gen(function* () {
      const ids = yield* Effect.replicateEffect(newSessionId, 2000).pipe(Effect.withRandom(cryptoRandom))
      expect(new Set(ids).size).toBe(2000)
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    })
  )
  it.effect("keeps Effect's ranges: nextIntBetween is [min, max), next is [0, 1)", () =>
    Effect.gen(function* () {
      const ints = yield* Effect.replicateEffect(cryptoRandom.nextIntBetween(0, 10), 2000)
      expect(Math.min(...ints)).toBe(0)
      expect(Math.max(...ints)).toBe(9)
      const floats = yield* Effect.replicateEffect(cryptoRandom.next, 2000)
      expect(floats.every((f) => f >= 0 && f < 1)).toBe(true)
      expect(yield* cryptoRandom.nextIntBetween(5, 5)).toBe(5)
    })
  )
})
