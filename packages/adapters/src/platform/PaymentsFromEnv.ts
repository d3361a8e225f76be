/**
 * Payments from the environment: Stripe when `STRIPE_SECRET` and `STRIPE_WEBHOOK_SECRET` are
 * set, else the sandbox (its objects in the store, its webhooks signed with
 * `QWIP_SANDBOX_WEBHOOK_SECRET` or the platform's default). Either way Stripe-shaped events
 * arrive at the store's payment-event inbox.
 *
 * On the sandbox the layer also carries `SandboxAuthentication` (the pay page's test 3-D Secure
 * step and card field); on Stripe it does not, so it is read with `Effect.serviceOption`.
 */
import type { PaymentEventInbox, Payments } from "@qwip/core"
import { Duration, Effect, Layer, Option, type Redacted } from "effect"
import { SandboxConsole } from "../sandbox/SandboxConsole.js"
import { layerSandboxPayments } from "../sandbox/SandboxPayments.js"
import type { StoreRecords } from "../store/Records.js"
import { stripeSettings } from "../stripe/StripeConfig.js"
import * as StripePayments from "../stripe/StripePayments.js"
import { StripeWebhooks } from "../stripe/StripeWebhooks.js"
import { layerSandboxLedger } from "./SandboxLedgerSql.js"
import { Sandbox } from "./Services.js"
import { fromConfigError, optionalSecret, type PlatformStartError } from "./StartError.js"
import { layerStripeEventInbox } from "./StripeEventInbox.js"

export interface PlatformPayments {
  readonly kind: "stripe" | "sandbox"
  /** Also `SandboxAuthentication` when `kind` is `sandbox` (not in the type: absent on Stripe). */
  readonly layer: Layer.Layer<Payments | StripeWebhooks | Sandbox | PaymentEventInbox, never, StoreRecords>
}

export const paymentsFromEnv = (options: {
  /** Each call to the provider gives up after this. */
  readonly callDeadline: Duration.Duration
  /** The sandbox's webhook secret unless `QWIP_SANDBOX_WEBHOOK_SECRET` is set. */
  readonly sandboxWebhookSecret: Redacted.Redacted<string>
}): Effect.Effect<PlatformPayments, PlatformStartError> =>
  Effect.gen(function* () {
    const stripe = yield* stripeSettings.pipe(Effect.mapError(fromConfigError))
    const sandboxWebhookSecret = yield* optionalSecret("QWIP_SANDBOX_WEBHOOK_SECRET")
    const timeoutMs = Duration.toMillis(options.callDeadline)
    const payments: Layer.Layer<Payments | StripeWebhooks | Sandbox, never, StoreRecords> = Option.match(stripe, {
      onSome: (s) =>
        Layer.mergeAll(
          StripePayments.layer(
            Option.match(s.apiBase, {
              onNone: () => ({ secretKey: s.secretKey, timeoutMs }),
              onSome: (apiBase) => ({ secretKey: s.secretKey, apiBase, timeoutMs })
            })
          ),
          StripeWebhooks.layer({ webhookSecret: s.webhookSecret }),
          Layer.succeed(Sandbox, Option.none())
        ),
      onNone: () =>
        Layer.mergeAll(
          Layer.effect(Sandbox, Effect.map(SandboxConsole, Option.some)),
          StripeWebhooks.layer({
            webhookSecret: Option.getOrElse(sandboxWebhookSecret, () => options.sandboxWebhookSecret)
          })
        ).pipe(Layer.provideMerge(layerSandboxPayments), Layer.provide(layerSandboxLedger))
    })
    return {
      kind: Option.isSome(stripe) ? "stripe" : "sandbox",
      layer: Layer.merge(payments, layerStripeEventInbox)
    }
  })
