/**
 * The collection settings read into the policy: defaults when unset, each value parsed, and a
 * bad value stopping the start with a message naming the setting.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit } from "effect"
import { parseDunningSchedule, policyFromEnv } from "../../src/platform/PolicyFromEnv.js"

const policyWith = (env: Record<string, string>) =>
  policyFromEnv.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

const refusal = (env: Record<string, string>) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(policyWith(env))
    if (Exit.isSuccess(exit)) throw new Error(`expected ${JSON.stringify(env)} to be refused`)
    return yield* Effect.flip(policyWith(env))
  })

describe("collection settings", () => {
  it.effect("unset: the card check off, dunning after 1, 3 and 7 days, links for 14 days, daily reconciliation", () =>
    Effect.gen(function* () {
      const p = yield* policyWith({})
      expect(p.bookingHoldPence).toBeUndefined()
      expect(p.dunningSchedule.map(Duration.toMillis)).toEqual([1, 3, 7].map((d) => d * 86_400_000))
      expect(Duration.toMillis(p.payLinkValidity)).toBe(14 * 86_400_000)
      expect(Duration.toMillis(p.reconcileEvery)).toBe(24 * 3_600_000)
      expect(Duration.toMillis(p.reconcileWindow)).toBe(48 * 3_600_000)
      // Empty counts as unset; 0 is off.
      expect((yield* policyWith({ BOOKING_HOLD_PENCE: "" })).bookingHoldPence).toBeUndefined()
      expect((yield* policyWith({ BOOKING_HOLD_PENCE: "0" })).bookingHoldPence).toBeUndefined()
    })
  )

  it.effect("reads each setting", () =>
    Effect.gen(function* () {
      const p = yield* policyWith({
        BOOKING_HOLD_PENCE: "1500",
        STRAY_HOLD_AGE: "45m",
        DUNNING_SCHEDULE: "12h, 2d,5d",
        PAY_LINK_DAYS: "7",
        RECONCILE_EVERY: "6h",
        RECONCILE_WINDOW: "1 day"
      })
      expect(p.bookingHoldPence).toBe(1500)
      expect(Duration.toMinutes(p.strayHoldAge)).toBe(45)
      expect(p.dunningSchedule.map(Duration.toHours)).toEqual([12, 48, 120])
      expect(Duration.toHours(p.payLinkValidity)).toBe(7 * 24)
      expect(Duration.toHours(p.reconcileEvery)).toBe(6)
      expect(Duration.toHours(p.reconcileWindow)).toBe(24)
      expect((yield* policyWith({ DUNNING_SCHEDULE: "off" })).dunningSchedule).toEqual([])
    })
  )

  it.effect.each([
    [{ BOOKING_HOLD_PENCE: "15.00" }, "BOOKING_HOLD_PENCE", "whole number of pence"],
    [{ BOOKING_HOLD_PENCE: "-100" }, "BOOKING_HOLD_PENCE", "whole number of pence"],
    [{ BOOKING_HOLD_PENCE: "20" }, "BOOKING_HOLD_PENCE", "smallest charge"],
    [{ STRAY_HOLD_AGE: "soon" }, "STRAY_HOLD_AGE", "not a duration"],
    [{ DUNNING_SCHEDULE: "1d,tomorrow" }, "DUNNING_SCHEDULE", "not a duration"],
    [{ DUNNING_SCHEDULE: "3d,1d" }, "DUNNING_SCHEDULE", "must grow"],
    [{ PAY_LINK_DAYS: "0" }, "PAY_LINK_DAYS", "at least 1"],
    [{ PAY_LINK_DAYS: "two" }, "PAY_LINK_DAYS", "whole number of days"],
    [{ RECONCILE_EVERY: "0h" }, "RECONCILE_EVERY", "not a duration"],
    [{ RECONCILE_EVERY: "72h" }, "RECONCILE_EVERY", "must be at least reconcileEvery"],
    [{ RECONCILE_WINDOW: "1h" }, "RECONCILE_WINDOW", "must be at least reconcileEvery"]
  ] as const)("%j stops the start naming %s", ([env, setting, why]) =>
    Effect.gen(function* () {
      const e = yield* refusal(env)
      expect(e.setting).toBe(setting)
      expect(e.message).toContain(why)
    })
  )

  it("parses a schedule exactly", () => {
    expect(parseDunningSchedule("30m").pipe((e) => e._tag)).toBe("Right")
    expect(parseDunningSchedule("1d,1d")._tag).toBe("Right")
    expect(parseDunningSchedule("")._tag).toBe("Left")
  })
})
