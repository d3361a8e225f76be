/**
 * `pickStaticCode`: a static pod's code is picked from its list, avoiding codes other live
 * sessions on the pod hold while one is free. (The booking scenarios that use it run against
 * every store in tests/store/usecases.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { AccessCode, pickStaticCode } from "@qwip/core"
import { Effect, Option, Schema } from "effect"

describe("static code picks", () => {
  it.effect("static picks avoid codes other live sessions hold when one is free", () =>
    Effect.gen(function* () {
      const codes = ["11111", "22222", "33333"].map((c) => Schema.decodeSync(AccessCode)(c))
      for (let i = 0; i < 50; i++) {
        const picked = yield* pickStaticCode(codes, [codes[0] as AccessCode, codes[2] as AccessCode])
        expect(picked).toEqual(Option.some(codes[1]))
      }
      const allHeld = yield* pickStaticCode(codes, codes)
      expect(Option.isSome(allHeld)).toBe(true)
      expect(yield* pickStaticCode([], [])).toEqual(Option.none())
    })
  )
})
