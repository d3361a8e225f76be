/**
 * The crash tests' fault injection is inert unless `QWIP_TEST_CRASH_AT` names a point: the
 * platform's services come back untouched; a mistyped point stops start-up instead of never
 * crashing. (The kills themselves are exercised by tests/crash against the real service.)
 */
import { describe, expect, it } from "@effect/vitest"
import { LockAccess, Mailer, PaymentEventInbox, Payments, StaticCodes } from "@qwip/core"
import { ConfigProvider, Context, Effect, Layer, Option } from "effect"
import { parseCrashPlan, withCrashPoints } from "../../src/platform/CrashPoints.js"
import type { PlatformServices } from "../../src/platform/Platform.js"

const unused = () => Effect.die("not used by this test")
const services = Context.empty().pipe(
  Context.add(Payments, {
    setUpCard: unused,
    readCardSetUp: unused,
    chargeSession: unused,
    readCharge: unused
  } as unknown as Context.Tag.Service<Payments>),
  Context.add(StaticCodes, { codesFor: unused, seal: unused, open: unused }),
  Context.add(LockAccess, {
    createCode: unused,
    readCode: unused,
    revokeCode: unused,
    lockStatus: unused
  } as unknown as Context.Tag.Service<LockAccess>),
  Context.add(Mailer, { send: unused }),
  Context.add(PaymentEventInbox, {
    receive: unused,
    decode: () => Option.none(),
    markProcessed: unused,
    markFailed: unused
  })
) as unknown as Context.Context<PlatformServices>

const build = (env: Record<string, string>) =>
  Layer.build(withCrashPoints(Layer.succeedContext(services))).pipe(
    Effect.scoped,
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

describe("crash points (QWIP_TEST_CRASH_AT)", () => {
  it("reads point[:n]; refuses anything else", () => {
    expect(parseCrashPlan("")).toEqual(Option.none())
    expect(parseCrashPlan(" after-charge ")).toEqual(Option.some({ point: "after-charge", nth: 1 }))
    expect(parseCrashPlan("webhook:3")).toEqual(Option.some({ point: "webhook", nth: 3 }))
    for (const bad of ["after_charge", "webhook:0", "webhook:x", "webhook:1:2", "charge"]) {
      expect(typeof parseCrashPlan(bad), bad).toBe("string")
    }
  })

  it.effect("unset or empty: every service is the platform's own", () =>
    Effect.gen(function* () {
      for (const env of [{}, { QWIP_TEST_CRASH_AT: "" }]) {
        const built = yield* build(env)
        for (const tag of [Payments, StaticCodes, LockAccess, Mailer, PaymentEventInbox] as const) {
          expect(Context.get(built, tag as never)).toBe(Context.get(services, tag as never))
        }
      }
    })
  )

  it.effect("armed: the ports are wrapped; a mistyped point stops start-up naming the setting", () =>
    Effect.gen(function* () {
      const armed = yield* build({ QWIP_TEST_CRASH_AT: "after-charge:2" })
      expect(Context.get(armed, Payments)).not.toBe(Context.get(services, Payments))
      const refused = yield* Effect.flip(build({ QWIP_TEST_CRASH_AT: "after-charges" }))
      expect(refused.message).toContain("QWIP_TEST_CRASH_AT")
      expect(refused.message).toContain("after-charges")
    })
  )
})
