/**
 * The crash tests' fault injection is inert unless `QWIP_TEST_CRASH_AT` names a point: the
 * platform's services come back untouched; a mistyped point stops start-up instead of never
 * crashing. (The kills themselves are exercised by tests/crash against the real service.)
 */
import { describe, expect, it } from "@effect/vitest"
import {
  LockAccess,
  Mailer,
  PaymentEventInbox,
  Payments,
  type PaymentsShape,
  pence,
  type SessionId,
  type SetupIntentId,
  StaticCodes
} from "@qwip/core"
import { ConfigProvider, Context, Effect, Exit, Layer, Option } from "effect"
import {
  armCrashPoint,
  CRASH_POINTS,
  type CrashPlan,
  type CrashPoint,
  parseCrashPlan,
  withCrashPoints
} from "../../src/platform/CrashPoints.js"
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
    for (const point of ["before-hold", "after-capture", "before-release", "after-refund", "before-charge"]) {
      expect(parseCrashPlan(`${point}:2`)).toEqual(Option.some({ point, nth: 2 }))
    }
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

/**
 * Where each payment point stops a call: `before-*` before the provider hears of it,
 * `after-*` once it answered. The crash is swapped for a defect naming the point, so the test
 * sees whether the provider was called and that the core never got the answer.
 */
describe("crash points around the payment calls", () => {
  const SESSION = "0b8a7f7e-4c1b-4a65-9c1e-5d7c2b7d1a10" as SessionId

  const recordingPayments = (calls: Array<string>) => {
    const answer =
      <A>(name: string, value: A) =>
      () =>
        Effect.sync(() => {
          calls.push(name)
          return value
        })
    return {
      setUpCard: unused,
      readCardSetUp: unused,
      readCharge: unused,
      refundsOf: unused,
      sessionPayments: unused,
      paymentForCustomer: unused,
      readPayment: unused,
      chargeSession: answer("chargeSession", {
        _tag: "Succeeded",
        paymentIntentId: "pi_1",
        amountPence: pence(500)
      } as const),
      placeHold: answer("placeHold", { _tag: "Held", paymentIntentId: "pi_h", amountPence: pence(1500) } as const),
      captureHold: answer("captureHold", { _tag: "Captured", amountPence: pence(500) } as const),
      releaseHold: answer("releaseHold", "released" as const),
      refund: answer("refund", {
        refundId: "re_1",
        paymentIntentId: "pi_1",
        amountPence: pence(100),
        status: "succeeded",
        key: Option.some("k")
      } as const)
    } as unknown as PaymentsShape
  }

  const calls: Record<string, (p: PaymentsShape) => Effect.Effect<unknown, unknown>> = {
    chargeSession: (p) =>
      p.chargeSession({
        sessionId: SESSION,
        amountPence: pence(500),
        customerId: "cus_1",
        paymentMethodId: "pm_1",
        receiptEmail: "ada@example.com",
        idempotencyKey: "k-charge"
      }),
    placeHold: (p) =>
      p.placeHold({
        sessionId: SESSION,
        setupIntentId: "seti_1" as SetupIntentId,
        amountPence: pence(1500),
        customerId: "cus_1",
        paymentMethodId: "pm_1",
        idempotencyKey: "k-hold"
      }),
    captureHold: (p) =>
      p.captureHold({ sessionId: SESSION, paymentIntentId: "pi_h", amountPence: pence(500), idempotencyKey: "k-cap" }),
    releaseHold: (p) => p.releaseHold({ sessionId: SESSION, paymentIntentId: "pi_h", idempotencyKey: "k-rel" }),
    refund: (p) =>
      p.refund({
        sessionId: SESSION,
        paymentIntentId: "pi_1",
        amountPence: pence(100),
        idempotencyKey: "k-ref",
        reason: "pod was dirty"
      })
  }

  const pointsOf: ReadonlyArray<readonly [string, CrashPoint, CrashPoint]> = [
    ["chargeSession", "before-charge", "after-charge"],
    ["placeHold", "before-hold", "after-hold"],
    ["captureHold", "before-capture", "after-capture"],
    ["releaseHold", "before-release", "after-release"],
    ["refund", "before-refund", "after-refund"]
  ]

  const armedPayments = (plan: CrashPlan, log: Array<string>) => {
    const context = Context.add(services, Payments, recordingPayments(log)) as Context.Context<PlatformServices>
    const crash = (p: CrashPlan) => Effect.dieMessage(`crashed at ${p.point}`)
    return Context.get(armCrashPoint(context, plan, crash), Payments)
  }

  it("every payment point is one QWIP_TEST_CRASH_AT accepts", () => {
    for (const [, before, after] of pointsOf) {
      expect(CRASH_POINTS).toContain(before)
      expect(CRASH_POINTS).toContain(after)
    }
  })

  for (const [name, before, after] of pointsOf) {
    it.effect(`${before} stops ${name} before the provider hears of it; ${after} after it answered`, () =>
      Effect.gen(function* () {
        const call = calls[name] as (p: PaymentsShape) => Effect.Effect<unknown, unknown>

        const sentBefore: Array<string> = []
        const stoppedBefore = yield* Effect.exit(call(armedPayments({ point: before, nth: 1 }, sentBefore)))
        expect(Exit.isFailure(stoppedBefore) && String(stoppedBefore.cause)).toContain(`crashed at ${before}`)
        expect(sentBefore).toEqual([])

        const sentAfter: Array<string> = []
        const stoppedAfter = yield* Effect.exit(call(armedPayments({ point: after, nth: 1 }, sentAfter)))
        expect(Exit.isFailure(stoppedAfter) && String(stoppedAfter.cause)).toContain(`crashed at ${after}`)
        expect(sentAfter).toEqual([name])

        // Armed elsewhere, the call goes through untouched.
        const untouched: Array<string> = []
        expect(Exit.isSuccess(yield* Effect.exit(call(armedPayments({ point: "webhook", nth: 1 }, untouched))))).toBe(
          true
        )
        expect(untouched).toEqual([name])
      })
    )
  }

  it.effect("the n-th time: earlier calls go through, the n-th stops", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const payments = armedPayments({ point: "after-capture", nth: 2 }, log)
      const capture = calls.captureHold as (p: PaymentsShape) => Effect.Effect<unknown, unknown>
      expect(Exit.isSuccess(yield* Effect.exit(capture(payments)))).toBe(true)
      expect(Exit.isFailure(yield* Effect.exit(capture(payments)))).toBe(true)
      expect(log).toEqual(["captureHold", "captureHold"])
    })
  )
})
