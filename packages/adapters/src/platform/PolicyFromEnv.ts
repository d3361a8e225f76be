/**
 * The core's `Policy` from the environment: `PROMO_MODE`, `USE_STATIC_CODES`,
 * `REQUIRE_CHECKOUT_PHOTO`, `MAX_CHARGE_PENCE`, `OVERDUE_GRACE_MINUTES`; the rest are the core's
 * defaults. Timings that contradict each other (a charge chain outlasting its lease) must not start.
 */
import { makePolicy, Policy, type PolicyShape } from "@qwip/core"
import { Config, Duration, Effect, Either, Option } from "effect"
import { fromConfigError, PlatformStartError } from "./StartError.js"

const policyConfig = Config.all({
  promo: Config.boolean("PROMO_MODE").pipe(Config.withDefault(false)),
  staticCodesOnly: Config.boolean("USE_STATIC_CODES").pipe(Config.withDefault(false)),
  requireCheckoutPhoto: Config.boolean("REQUIRE_CHECKOUT_PHOTO").pipe(Config.withDefault(false)),
  maxChargePence: Config.option(Config.integer("MAX_CHARGE_PENCE")),
  overdueGraceMinutes: Config.option(Config.integer("OVERDUE_GRACE_MINUTES"))
})

export const policyFromEnv: Effect.Effect<PolicyShape, PlatformStartError> = Effect.gen(function* () {
  const settings = yield* policyConfig.pipe(Effect.mapError(fromConfigError))
  const overrides: Partial<PolicyShape> = {
    ...Policy.promo(settings.promo),
    staticCodesOnly: settings.staticCodesOnly,
    requireCheckoutPhoto: settings.requireCheckoutPhoto,
    ...(Option.isSome(settings.maxChargePence) ? { maxChargePence: settings.maxChargePence.value } : {}),
    ...(Option.isSome(settings.overdueGraceMinutes)
      ? { overdueGrace: Duration.minutes(settings.overdueGraceMinutes.value) }
      : {})
  }
  return yield* Either.match(makePolicy(overrides), {
    onLeft: (e) => Effect.fail(new PlatformStartError({ setting: "policy", reason: e.message })),
    onRight: Effect.succeed
  })
})
