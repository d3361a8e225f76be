/**
 * The core's `Policy` from the environment: `PROMO_MODE`, `USE_STATIC_CODES`,
 * `REQUIRE_CHECKOUT_PHOTO`, `MAX_CHARGE_PENCE`, `OVERDUE_GRACE_MINUTES`, and collecting payment:
 * `BOOKING_HOLD_PENCE`, `STRAY_HOLD_AGE`, `DUNNING_SCHEDULE`, `PAY_LINK_DAYS`, `RECONCILE_EVERY`,
 * `RECONCILE_WINDOW`; the rest are the core's defaults. A bad value, or timings that contradict
 * each other (a charge chain outlasting its lease), stop the start with the setting's name.
 */
import { makePolicy, Policy, type PolicyShape } from "@qwip/core"
import { Config, Duration, Effect, Either, Option } from "effect"
import { fromConfigError, PlatformStartError } from "./StartError.js"

const UNITS: Record<string, number> = {
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000
}

/**
 * A duration as staff write it in a setting or on the command line: a whole number and a unit,
 * `30m`, `24h`, `7d` (or `2 hours`, `1 day`). `None` when it is not one.
 */
export const parseDurationText = (text: string): Option.Option<Duration.Duration> => {
  const match = /^(\d+)\s*([a-z]+)$/i.exec(text.trim())
  const unit = match === null ? undefined : UNITS[(match[2] ?? "").toLowerCase()]
  if (match === null || unit === undefined) return Option.none()
  const n = Number(match[1])
  return n > 0 && Number.isSafeInteger(n * unit) ? Option.some(Duration.millis(n * unit)) : Option.none()
}

/**
 * `1d,3d,7d` (each retry counted from the decline), or `off` for no retries. Only the syntax is
 * checked here; that the list grows is the core's rule (`validatePolicy`).
 */
export const parseDunningSchedule = (raw: string): Either.Either<ReadonlyArray<Duration.Duration>, string> => {
  if (raw.trim().toLowerCase() === "off") return Either.right([])
  const schedule: Array<Duration.Duration> = []
  for (const part of raw.split(",").map((p) => p.trim())) {
    const parsed = parseDurationText(part)
    if (Option.isNone(parsed)) {
      return Either.left(`"${part}" is not a duration: list them like 1d,3d,7d (units m, h, d), or off`)
    }
    schedule.push(parsed.value)
  }
  return Either.right(schedule)
}

/** The setting behind each policy field the core may refuse. */
const SETTING_OF: ReadonlyArray<readonly [field: string, setting: string]> = [
  ["bookingHoldPence", "BOOKING_HOLD_PENCE"],
  ["strayHoldAge", "STRAY_HOLD_AGE"],
  ["dunningSchedule", "DUNNING_SCHEDULE"],
  ["payLinkValidity", "PAY_LINK_DAYS"],
  ["reconcileWindow", "RECONCILE_WINDOW"],
  ["reconcileEvery", "RECONCILE_EVERY"]
]

const policyConfig = Config.all({
  promo: Config.boolean("PROMO_MODE").pipe(Config.withDefault(false)),
  staticCodesOnly: Config.boolean("USE_STATIC_CODES").pipe(Config.withDefault(false)),
  requireCheckoutPhoto: Config.boolean("REQUIRE_CHECKOUT_PHOTO").pipe(Config.withDefault(false)),
  maxChargePence: Config.option(Config.integer("MAX_CHARGE_PENCE")),
  overdueGraceMinutes: Config.option(Config.integer("OVERDUE_GRACE_MINUTES")),
  bookingHoldPence: Config.option(Config.string("BOOKING_HOLD_PENCE")),
  strayHoldAge: Config.option(Config.string("STRAY_HOLD_AGE")),
  dunningSchedule: Config.option(Config.string("DUNNING_SCHEDULE")),
  payLinkDays: Config.option(Config.string("PAY_LINK_DAYS")),
  reconcileEvery: Config.option(Config.string("RECONCILE_EVERY")),
  reconcileWindow: Config.option(Config.string("RECONCILE_WINDOW"))
})

/** Empty counts as unset, as for every other setting. */
const given = (value: Option.Option<string>) => Option.filter(value, (v) => v.trim() !== "")

const fail = (setting: string, reason: string) => Effect.fail(new PlatformStartError({ setting, reason }))

/** A duration setting (`30m`, `24h`, `7d`), `undefined` when unset. */
const durationOf = (setting: string, value: Option.Option<string>) =>
  Option.match(given(value), {
    onNone: () => Effect.succeed(undefined),
    onSome: (raw) =>
      Option.match(parseDurationText(raw), {
        onNone: () => fail(setting, `"${raw}" is not a duration: give a whole number and a unit, e.g. 30m, 24h or 7d`),
        onSome: (d) => Effect.succeed<Duration.Duration | undefined>(d)
      })
  })

/** A whole-number setting of at least `atLeast`, `undefined` when unset. */
const wholeOf = (setting: string, value: Option.Option<string>, what: string, atLeast: number) =>
  Option.match(given(value), {
    onNone: () => Effect.succeed(undefined),
    onSome: (raw) => {
      const text = raw.trim()
      const n = Number(text)
      return /^\d+$/.test(text) && Number.isSafeInteger(n) && n >= atLeast
        ? Effect.succeed<number | undefined>(n)
        : fail(setting, `"${raw}" must be ${what}, at least ${atLeast}`)
    }
  })

export const policyFromEnv: Effect.Effect<PolicyShape, PlatformStartError> = Effect.gen(function* () {
  const settings = yield* policyConfig.pipe(Effect.mapError(fromConfigError))

  // BOOKING_HOLD_PENCE: unset, empty or 0 leaves the card check off (today's flow).
  const hold = yield* wholeOf(
    "BOOKING_HOLD_PENCE",
    settings.bookingHoldPence,
    "a whole number of pence (e.g. 1500), or 0 for off",
    0
  )
  const bookingHoldPence = hold !== undefined && hold > 0 ? hold : undefined
  const strayHoldAge = yield* durationOf("STRAY_HOLD_AGE", settings.strayHoldAge)
  const payLinkDays = yield* wholeOf("PAY_LINK_DAYS", settings.payLinkDays, "a whole number of days", 1)

  let dunningSchedule: ReadonlyArray<Duration.Duration> | undefined
  const dunning = given(settings.dunningSchedule)
  if (Option.isSome(dunning)) {
    const parsed = parseDunningSchedule(dunning.value)
    if (Either.isLeft(parsed)) return yield* fail("DUNNING_SCHEDULE", parsed.left)
    dunningSchedule = parsed.right
  }

  const reconcileEvery = yield* durationOf("RECONCILE_EVERY", settings.reconcileEvery)
  const reconcileWindow = yield* durationOf("RECONCILE_WINDOW", settings.reconcileWindow)

  const overrides: Partial<PolicyShape> = {
    ...Policy.promo(settings.promo),
    staticCodesOnly: settings.staticCodesOnly,
    requireCheckoutPhoto: settings.requireCheckoutPhoto,
    ...(Option.isSome(settings.maxChargePence) ? { maxChargePence: settings.maxChargePence.value } : {}),
    ...(Option.isSome(settings.overdueGraceMinutes)
      ? { overdueGrace: Duration.minutes(settings.overdueGraceMinutes.value) }
      : {}),
    ...(bookingHoldPence === undefined ? {} : { bookingHoldPence }),
    ...(strayHoldAge === undefined ? {} : { strayHoldAge }),
    ...(dunningSchedule === undefined ? {} : { dunningSchedule }),
    ...(payLinkDays === undefined ? {} : { payLinkValidity: Duration.days(payLinkDays) }),
    ...(reconcileEvery === undefined ? {} : { reconcileEvery }),
    ...(reconcileWindow === undefined ? {} : { reconcileWindow })
  }
  return yield* Either.match(makePolicy(overrides), {
    onLeft: (e) => {
      // Name the setting to fix: the field the core's reason starts with. A window shorter than
      // the interval is the window's fault only if it was set.
      const field = SETTING_OF.find(([name]) => e.reason.startsWith(name))
      const setting =
        field === undefined
          ? "policy"
          : field[0] === "reconcileWindow" && reconcileWindow === undefined
            ? "RECONCILE_EVERY"
            : field[1]
      return fail(setting, e.message)
    },
    onRight: Effect.succeed
  })
})
