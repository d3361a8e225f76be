import { expect, layer } from "@effect/vitest"
import { Payments, PodId } from "@qwip/core"
import { StripeServer } from "@qwip/test-support/StripeServer"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { layerFromConfig, stripeSettings } from "../../src/stripe/StripeConfig.js"
import { StripeWebhooks } from "../../src/stripe/StripeWebhooks.js"

const SECRET = "sk_test_config_secret"
const WEBHOOK_SECRET = "whsec_config_secret"

const fromEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

/** How the entry point would show a failed layer: its error's one line. */
const failureOf = (env: Record<string, string>) =>
  Layer.build(layerFromConfig.pipe(Layer.provide(fromEnv(env)))).pipe(Effect.scoped, Effect.flip, Effect.map(String))

layer(StripeServer.layer)("Stripe configuration", (it) => {
  it.effect(
    "STRIPE_SECRET and STRIPE_WEBHOOK_SECRET give Payments and StripeWebhooks; STRIPE_API_BASE points them elsewhere",
    () =>
      Effect.gen(function* () {
        const server = yield* StripeServer
        yield* server.reset
        const env = {
          STRIPE_SECRET: SECRET,
          STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
          STRIPE_API_BASE: `http://${server.apiBase.host}:${server.apiBase.port}`
        }
        const started = yield* Effect.gen(function* () {
          yield* StripeWebhooks
          const payments = yield* Payments
          return yield* payments.setUpCard({ podId: PodId.make("pod-soho-1"), idempotencyKey: "qwip-checkout-config" })
        }).pipe(Effect.provide(layerFromConfig.pipe(Layer.provide(fromEnv(env)))))
        expect(started.setupIntentId).toMatch(/^seti_/)
        expect(yield* server.customers).toHaveLength(1)
      })
  )

  it.effect("STRIPE_SECRET without STRIPE_WEBHOOK_SECRET fails with one line naming the missing variable", () =>
    Effect.gen(function* () {
      const message = yield* failureOf({ STRIPE_SECRET: SECRET })
      expect(message).toContain("STRIPE_WEBHOOK_SECRET is not set but STRIPE_SECRET is; set both")
      expect(message).not.toContain("\n")
      expect(message).not.toContain(SECRET)
    })
  )

  it.effect("STRIPE_WEBHOOK_SECRET without STRIPE_SECRET fails naming STRIPE_SECRET", () =>
    Effect.gen(function* () {
      const message = yield* failureOf({ STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET })
      expect(message).toContain("STRIPE_SECRET is not set but STRIPE_WEBHOOK_SECRET is; set both")
      expect(message).not.toContain(WEBHOOK_SECRET)
    })
  )

  it.effect(
    "neither secret: the settings are None (the entry point may choose the sandbox); the Stripe layer fails",
    () =>
      Effect.gen(function* () {
        const settings = yield* stripeSettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
        expect(settings).toEqual(Option.none())
        expect(yield* failureOf({})).toContain("STRIPE_SECRET and STRIPE_WEBHOOK_SECRET are not set")
      })
  )

  it.effect("an empty secret or a STRIPE_API_BASE that is not an http(s) origin is refused by name", () =>
    Effect.gen(function* () {
      expect(yield* failureOf({ STRIPE_SECRET: " ", STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET })).toContain(
        "STRIPE_SECRET is set but empty"
      )
      const withBase = (base: string) =>
        failureOf({ STRIPE_SECRET: SECRET, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_BASE: base })
      expect(yield* withBase("ftp://127.0.0.1:21")).toContain("STRIPE_API_BASE must be an http(s) origin")
      expect(yield* withBase("http://127.0.0.1:12111/v1")).toContain("STRIPE_API_BASE must be an http(s) origin")
      expect(yield* withBase("not a url")).toContain("STRIPE_API_BASE")
    })
  )

  it.effect("the secrets stay redacted in the settings", () =>
    Effect.gen(function* () {
      const settings = yield* stripeSettings.pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(
            new Map([
              ["STRIPE_SECRET", SECRET],
              ["STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET],
              ["STRIPE_API_BASE", "https://stripe.internal"]
            ])
          )
        )
      )
      const value = Option.getOrThrow(settings)
      expect(String(value.secretKey)).not.toContain(SECRET)
      expect(Redacted.value(value.secretKey)).toBe(SECRET)
      expect(value.apiBase).toEqual(Option.some({ host: "stripe.internal", port: 443, protocol: "https" }))
    })
  )
})
