/**
 * Stripe from the environment: `STRIPE_SECRET` and `STRIPE_WEBHOOK_SECRET` go together,
 * `STRIPE_API_BASE` points both elsewhere (a local stand-in).
 */
import type { Payments } from "@qwip/core"
import { Config, ConfigError, Effect, Either, Layer, Option, Redacted } from "effect"
import type { StripeApiBase } from "./StripeClient.js"
import { layer } from "./StripePayments.js"
import { StripeWebhooks } from "./StripeWebhooks.js"

/** Stripe's settings from the environment. */
export interface StripeSettings {
  readonly secretKey: Redacted.Redacted<string>
  readonly webhookSecret: Redacted.Redacted<string>
  /** `STRIPE_API_BASE`: a local stand-in's origin, for tests and development. */
  readonly apiBase: Option.Option<StripeApiBase>
}

const apiBaseOf = (url: URL): Either.Either<StripeApiBase, ConfigError.ConfigError> => {
  const protocol = url.protocol === "http:" ? "http" : url.protocol === "https:" ? "https" : undefined
  if (protocol === undefined || (url.pathname !== "/" && url.pathname !== "") || url.search !== "") {
    return Either.left(
      ConfigError.InvalidData(
        ["STRIPE_API_BASE"],
        "STRIPE_API_BASE must be an http(s) origin such as http://127.0.0.1:12111"
      )
    )
  }
  const port = url.port === "" ? (protocol === "https" ? 443 : 80) : Number(url.port)
  return Either.right({ host: url.hostname, port, protocol })
}

const nonBlank = (name: string, secret: Option.Option<Redacted.Redacted<string>>) =>
  Option.isSome(secret) && Redacted.value(secret.value).trim() === ""
    ? Either.left(ConfigError.InvalidData([name], `${name} is set but empty`))
    : Either.right(secret)

/**
 * `STRIPE_SECRET` and `STRIPE_WEBHOOK_SECRET` go together: `None` when neither is set (the
 * entry point may then use the sandbox), a one-line error naming the missing one when only one
 * is. `STRIPE_API_BASE` is optional.
 */
export const stripeSettings: Config.Config<Option.Option<StripeSettings>> = Config.all({
  secretKey: Config.option(Config.redacted("STRIPE_SECRET")),
  webhookSecret: Config.option(Config.redacted("STRIPE_WEBHOOK_SECRET")),
  apiBase: Config.option(Config.url("STRIPE_API_BASE"))
}).pipe(
  Config.mapOrFail((raw) =>
    Either.gen(function* () {
      const secretKey = yield* nonBlank("STRIPE_SECRET", raw.secretKey)
      const webhookSecret = yield* nonBlank("STRIPE_WEBHOOK_SECRET", raw.webhookSecret)
      const apiBase = Option.isSome(raw.apiBase) ? Option.some(yield* apiBaseOf(raw.apiBase.value)) : Option.none()
      if (Option.isSome(secretKey) && Option.isSome(webhookSecret)) {
        return Option.some<StripeSettings>({ secretKey: secretKey.value, webhookSecret: webhookSecret.value, apiBase })
      }
      if (Option.isSome(secretKey)) {
        return yield* Either.left(
          ConfigError.MissingData(
            ["STRIPE_WEBHOOK_SECRET"],
            "STRIPE_WEBHOOK_SECRET is not set but STRIPE_SECRET is; set both"
          )
        )
      }
      if (Option.isSome(webhookSecret)) {
        return yield* Either.left(
          ConfigError.MissingData(["STRIPE_SECRET"], "STRIPE_SECRET is not set but STRIPE_WEBHOOK_SECRET is; set both")
        )
      }
      return Option.none()
    })
  )
)

/** `Payments` and `StripeWebhooks` from the environment; both secrets are required. */
export const layerFromConfig: Layer.Layer<Payments | StripeWebhooks, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const settings = yield* stripeSettings
    if (Option.isNone(settings)) {
      return yield* Effect.fail(
        ConfigError.MissingData(["STRIPE_SECRET"], "STRIPE_SECRET and STRIPE_WEBHOOK_SECRET are not set")
      )
    }
    const { secretKey, webhookSecret, apiBase } = settings.value
    return Layer.merge(
      layer(Option.match(apiBase, { onNone: () => ({ secretKey }), onSome: (base) => ({ secretKey, apiBase: base }) })),
      StripeWebhooks.layer({ webhookSecret })
    )
  })
)
