/**
 * Test-only fault injection at the composition edge, for the crash tests (`tests/crash/`).
 *
 * `QWIP_TEST_CRASH_AT=<point>[:<n>]` makes the service kill itself with SIGKILL the n-th time
 * (default: the first) it reaches `<point>`, so a test can stop it at a precise step and check
 * that a restart finishes what it left. The points wrap the ports' implementations, never the
 * core's rules:
 *
 * | Point            | Where the process dies                                                                 |
 * | ---------------- | -------------------------------------------------------------------------------------- |
 * | `before-charge`  | a charge (the end's, or a dunning attempt recorded `pending`) is about to be sent      |
 * | `after-charge`   | the provider answered a charge; the answer never reaches the core (charged, not closed) |
 * | `before-hold`    | a card check hold is about to be placed (the session is open, no hold recorded)        |
 * | `after-hold`     | the provider placed the hold; the core never records it (no door code yet)             |
 * | `before-capture` | the end is about to capture the hold                                                   |
 * | `after-capture`  | the provider captured the hold; the core never learns it (remainder not charged yet)   |
 * | `before-release` | a hold is about to be cancelled                                                        |
 * | `after-release`  | the provider cancelled the hold; the work that asked is not marked done                |
 * | `before-refund`  | a refund (recorded `pending`) is about to be sent                                      |
 * | `after-refund`   | the provider refunded; the core never records it done                                  |
 * | `provisioning`   | provisioning asks for a door code (a static pod's code list, or the lock provider)     |
 * | `after-mail`     | an email was sent (or kept in the outbox); the work that sent it is not marked done    |
 * | `webhook`        | a Stripe event was stored; it is not applied                                           |
 *
 * Unset or empty (production): the platform is returned untouched. An unknown point stops
 * start-up with one line, so a mistyped test cannot pass by never crashing.
 */
import { LockAccess, Mailer, PaymentEventInbox, Payments, StaticCodes } from "@qwip/core"
import { Config, Context, Effect, Layer, Option } from "effect"
import { type PlatformServices, PlatformStartError } from "./Platform.js"

export const CRASH_POINTS = [
  "before-charge",
  "after-charge",
  "before-hold",
  "after-hold",
  "before-capture",
  "after-capture",
  "before-release",
  "after-release",
  "before-refund",
  "after-refund",
  "provisioning",
  "after-mail",
  "webhook"
] as const
export type CrashPoint = (typeof CRASH_POINTS)[number]

export interface CrashPlan {
  readonly point: CrashPoint
  /** Crash the n-th time the point is reached (1 = the first). */
  readonly nth: number
}

/** Reads `point[:n]`; `None` for an empty setting. */
export const parseCrashPlan = (raw: string): Option.Option<CrashPlan> | string => {
  const text = raw.trim()
  if (text === "") return Option.none()
  const [point, count, ...rest] = text.split(":")
  const nth = count === undefined ? 1 : Number(count)
  if (!CRASH_POINTS.includes(point as CrashPoint) || rest.length > 0 || !Number.isInteger(nth) || nth < 1) {
    return `expected <point>[:<n>] with a point among ${CRASH_POINTS.join(", ")} and n ≥ 1, got "${text}"`
  }
  return Option.some({ point: point as CrashPoint, nth })
}

/** What reaching the armed point does: in the service, SIGKILL; a test passes its own to see where it happens. */
export type Crash = (plan: CrashPlan) => Effect.Effect<never>

const sigkill: Crash = () =>
  Effect.suspend(() => {
    // Nothing after this line runs: SIGKILL cannot be caught, and the process stops here.
    process.kill(process.pid, "SIGKILL")
    return Effect.never
  })

const arm = (plan: CrashPlan, crash: Crash) => {
  let reached = 0
  return (point: CrashPoint): Effect.Effect<void> =>
    point !== plan.point
      ? Effect.void
      : Effect.suspend(() => {
          reached++
          return reached === plan.nth ? crash(plan) : Effect.void
        })
}

/** Dies at `before` when the call starts, at `after` once the provider answered it (a failure is no answer). */
const around =
  (reach: (point: CrashPoint) => Effect.Effect<void>, before: CrashPoint, after: CrashPoint) =>
  <A, E>(call: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.zipRight(
      reach(before),
      Effect.tap(call, () => reach(after))
    )

/** The platform's ports with `plan`'s point armed (exported for the tests of the points themselves). */
export const armCrashPoint = (
  context: Context.Context<PlatformServices>,
  plan: CrashPlan,
  crash: Crash = sigkill
): Context.Context<PlatformServices> => {
  const reach = arm(plan, crash)
  const payments = Context.get(context, Payments)
  const codes = Context.get(context, StaticCodes)
  const lock = Context.get(context, LockAccess)
  const mailer = Context.get(context, Mailer)
  const inbox = Context.get(context, PaymentEventInbox)
  return context.pipe(
    Context.add(Payments, {
      ...payments,
      chargeSession: (request) => around(reach, "before-charge", "after-charge")(payments.chargeSession(request)),
      placeHold: (request) => around(reach, "before-hold", "after-hold")(payments.placeHold(request)),
      captureHold: (request) => around(reach, "before-capture", "after-capture")(payments.captureHold(request)),
      releaseHold: (request) => around(reach, "before-release", "after-release")(payments.releaseHold(request)),
      refund: (request) => around(reach, "before-refund", "after-refund")(payments.refund(request))
    }),
    Context.add(StaticCodes, {
      ...codes,
      codesFor: (podId) => Effect.zipRight(reach("provisioning"), codes.codesFor(podId))
    }),
    Context.add(LockAccess, {
      ...lock,
      createCode: (request) => Effect.zipRight(reach("provisioning"), lock.createCode(request))
    }),
    Context.add(Mailer, { send: (message) => Effect.tap(mailer.send(message), () => reach("after-mail")) }),
    Context.add(PaymentEventInbox, {
      ...inbox,
      receive: (event) => Effect.tap(inbox.receive(event), () => reach("webhook"))
    })
  )
}

/**
 * The platform with the crash point `QWIP_TEST_CRASH_AT` names armed, or untouched when it
 * is unset. For the service's entry points only (`qwip serve`), never for staff commands.
 */
export const withCrashPoints = <E, R>(
  platform: Layer.Layer<PlatformServices, E, R>
): Layer.Layer<PlatformServices, E | PlatformStartError, R> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const raw = yield* Config.string("QWIP_TEST_CRASH_AT").pipe(
        Config.withDefault(""),
        Effect.mapError((e) => new PlatformStartError({ setting: "QWIP_TEST_CRASH_AT", reason: String(e) }))
      )
      const plan = parseCrashPlan(raw)
      if (typeof plan === "string") {
        return yield* new PlatformStartError({ setting: "QWIP_TEST_CRASH_AT", reason: plan })
      }
      if (Option.isNone(plan)) return platform
      const armed = plan.value
      yield* Effect.logWarning(`QWIP_TEST_CRASH_AT: this process kills itself at ${armed.point} (#${armed.nth})`)
      return Layer.map(platform, (context) => armCrashPoint(context, armed))
    })
  )
