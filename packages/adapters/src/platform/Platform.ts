/**
 * The one place that turns the environment into running adapters. With nothing set:
 * embedded PGlite under `QWIP_DATA_DIR`, sandbox payments, static door codes, outbox mail,
 * keys generated on first run. Each real adapter switches on with its own variables; a
 * half-configured one stops start-up with one line naming what is missing.
 */
import { resolve } from "node:path"
import {
  LockAccess,
  LockRejected,
  Mailer,
  makePolicy,
  type Payments,
  Policy,
  type PolicyShape,
  type SessionId,
  type SessionStore,
  StaticCodes
} from "@qwip/core"
import { Config, type ConfigError, Context, Duration, Effect, Either, Layer, Option, Redacted, Schema } from "effect"
import { layerCryptoRandom } from "../CryptoRandom.js"
import { makeOutboxMailer, type OutboxShape } from "../mail/OutboxMailer.js"
import { makeResendMailer, resendConfig } from "../mail/ResendMailer.js"
import { manageSessionUrl } from "../mail/Templates.js"
import { SandboxConsole } from "../sandbox/SandboxConsole.js"
import { layerSandboxPayments } from "../sandbox/SandboxPayments.js"
import * as SeamLockAccess from "../seam/SeamLockAccess.js"
import { makeStaticCodeCipher, type StaticCodeCipher } from "../static-codes/StaticCodeCipher.js"
import { makeStaticCodes } from "../static-codes/StaticCodes.js"
import { StoreBackend, type StoreBackendShape } from "../store/Backend.js"
import * as Migrator from "../store/Migrator.js"
import { StoreRecords, type StoreRecordsShape } from "../store/Records.js"
import { describeChoice, layerFor, storeChoice, supabaseStorageConfigured } from "../store/StoreConfig.js"
import * as StripePayments from "../stripe/StripePayments.js"
import { StripeWebhooks } from "../stripe/StripeWebhooks.js"
import { AccessTokens, accessTokensConfig, makeAccessTokens } from "../tokens/AccessTokens.js"
import { seedDemoPod } from "./DemoPod.js"
import { deriveSandboxWebhookSecret, loadLocalSecrets } from "./LocalSecrets.js"
import { layerSandboxLedger } from "./SandboxLedgerSql.js"
import { PlatformInfo, type PlatformInfoShape, Readiness, Sandbox, WebhookEvents } from "./Services.js"

/** Start-up stopped: `setting` is what to fix. */
export class PlatformStartError extends Schema.TaggedError<PlatformStartError>()("PlatformStartError", {
  setting: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.setting}: ${this.reason}`
  }
}

/** The cipher for static codes and sealed door codes, for tools that rekey tokens. */
export class CodeCipher extends Context.Tag("@qwip/adapters/CodeCipher")<CodeCipher, StaticCodeCipher>() {}

/** Everything an entry point gets from `layerFromEnv`. */
export type PlatformServices =
  | SessionStore
  | StoreRecords
  | StoreBackend
  | Payments
  | LockAccess
  | StaticCodes
  | CodeCipher
  | Mailer
  | Policy
  | AccessTokens
  | StripeWebhooks
  | Sandbox
  | PlatformInfo
  | Readiness
  | WebhookEvents

const fromConfigError = (e: ConfigError.ConfigError): PlatformStartError => {
  const text = String(e)
  const setting = /at ([A-Z0-9_]+)/.exec(text)?.[1] ?? "configuration"
  return new PlatformStartError({ setting, reason: text.replace(/^\(|\)$/g, "") })
}

const optionalSecret = (name: string) =>
  Config.option(Config.redacted(name)).pipe(
    Config.map(Option.filter((v) => Redacted.value(v).trim() !== "")),
    Effect.mapError(fromConfigError)
  )

/** Locks are optional: without Seam, a lock-provider pod cannot be provisioned (static pods work). */
const noLockProvider = Layer.succeed(LockAccess, {
  createCode: ({ deviceId }) =>
    Effect.fail(new LockRejected({ deviceId, reason: "no lock provider is configured (set SEAM_API_KEY)" })),
  readCode: (deviceId) =>
    Effect.fail(new LockRejected({ deviceId, reason: "no lock provider is configured (set SEAM_API_KEY)" })),
  revokeCode: (deviceId) =>
    Effect.fail(new LockRejected({ deviceId, reason: "no lock provider is configured (set SEAM_API_KEY)" })),
  lockStatus: (deviceId) =>
    Effect.fail(new LockRejected({ deviceId, reason: "no lock provider is configured (set SEAM_API_KEY)" }))
})

const policyConfig = Config.all({
  promo: Config.boolean("PROMO_MODE").pipe(Config.withDefault(false)),
  staticCodesOnly: Config.boolean("USE_STATIC_CODES").pipe(Config.withDefault(false)),
  requireCheckoutPhoto: Config.boolean("REQUIRE_CHECKOUT_PHOTO").pipe(Config.withDefault(false)),
  maxChargePence: Config.option(Config.integer("MAX_CHARGE_PENCE")),
  overdueGraceMinutes: Config.option(Config.integer("OVERDUE_GRACE_MINUTES")),
  seedDemoPod: Config.option(Config.boolean("QWIP_SEED_DEMO_POD"))
})

/** The store's outbox as the mailer's `Outbox`. */
const outboxOver = (records: StoreRecordsShape): OutboxShape => ({
  record: (entry) =>
    records.addToOutbox({
      messageKey: entry.messageKey,
      recipient: entry.recipient,
      kind: entry.kind,
      message: entry.message,
      rendered: entry.rendered
    }),
  list: (limit) =>
    Effect.map(records.listOutbox(limit), (entries) =>
      entries.map((e) => ({
        id: e.id,
        messageKey: e.messageKey,
        recipient: e.recipient,
        kind: e.kind as never,
        rendered: e.rendered as never,
        createdAt: e.createdAt
      }))
    ),
  get: () => Effect.succeed(Option.none())
})

/**
 * The platform from the environment. Built once per process; fails with one line
 * (`PlatformStartError`) naming the setting to fix.
 */
export const layerFromEnv: Layer.Layer<PlatformServices, PlatformStartError> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const choice = yield* storeChoice.pipe(
      Effect.mapError((e) => new PlatformStartError({ setting: e.setting, reason: e.reason }))
    )
    const embedded = choice._tag === "Embedded"
    const dataDir = resolve(
      embedded
        ? choice.dataDir
        : Option.getOrElse(yield* Config.option(Config.string("QWIP_DATA_DIR")).pipe(Effect.orDie), () => ".qwip")
    )
    const local = embedded
      ? Option.some(
          yield* loadLocalSecrets(dataDir).pipe(
            Effect.mapError((e) => new PlatformStartError({ setting: "QWIP_DATA_DIR", reason: e.message }))
          )
        )
      : Option.none()
    const required = (name: string, fromLocal: (s: Option.Option.Value<typeof local>) => Redacted.Redacted<string>) =>
      Effect.flatMap(optionalSecret(name), (value) =>
        Option.isSome(value)
          ? Effect.succeed(value.value)
          : Option.isSome(local)
            ? Effect.succeed(fromLocal(local.value))
            : Effect.fail(
                new PlatformStartError({
                  setting: name,
                  reason:
                    "required when the store is shared (DATABASE_URL or SUPABASE_URL): every instance needs the same key"
                })
              )
      )

    // Tokens.
    const tokenSettings = yield* accessTokensConfig.pipe(
      Config.orElse(() =>
        // JWT_SECRET_KEY unset: the other settings still apply.
        Config.all({
          secret: Config.succeed(Redacted.make("")),
          previousSecrets: Config.succeed([] as Array<Redacted.Redacted<string>>),
          acceptLegacy: Config.boolean("JWT_ACCEPT_LEGACY").pipe(Config.withDefault(true)),
          sessionTtl: Config.duration("SESSION_TOKEN_TTL").pipe(Config.withDefault(Duration.hours(24)))
        })
      ),
      Effect.mapError(fromConfigError)
    )
    const jwtSecret = yield* required("JWT_SECRET_KEY", (s) => s.jwtSecret)
    const tokens = yield* makeAccessTokens({ ...tokenSettings, secret: jwtSecret }).pipe(
      Effect.mapError((e) => new PlatformStartError({ setting: e.variable, reason: e.reason }))
    )
    const appOrigin = yield* Config.string("APP_ORIGIN").pipe(
      Config.withDefault("https://qwip.co.uk"),
      Effect.mapError(fromConfigError)
    )
    const manageLink = (sessionId: SessionId) =>
      Effect.map(tokens.mintSession({ session_id: sessionId }), (t) => manageSessionUrl(t, appOrigin))

    // Static codes (also seal lock-provider codes at rest).
    const staticKey = yield* required("STATIC_CODE_B64_KEY", (s) => s.staticCodeKey)
    const previousKeys = yield* optionalSecret("STATIC_CODE_PREVIOUS_KEYS")
    const cipher = yield* makeStaticCodeCipher({
      current: staticKey,
      previous: Option.match(previousKeys, {
        onNone: () => [],
        onSome: (v) =>
          Redacted.value(v)
            .split(",")
            .map((k) => k.trim())
            .filter((k) => k.length > 0)
            .map(Redacted.make)
      })
    }).pipe(Effect.mapError((e) => new PlatformStartError({ setting: e.variable, reason: e.reason })))

    const policySettings = yield* policyConfig.pipe(Effect.mapError(fromConfigError))
    const overrides: Partial<PolicyShape> = {
      ...Policy.promo(policySettings.promo),
      staticCodesOnly: policySettings.staticCodesOnly,
      requireCheckoutPhoto: policySettings.requireCheckoutPhoto,
      ...(Option.isSome(policySettings.maxChargePence) ? { maxChargePence: policySettings.maxChargePence.value } : {}),
      ...(Option.isSome(policySettings.overdueGraceMinutes)
        ? { overdueGrace: Duration.minutes(policySettings.overdueGraceMinutes.value) }
        : {})
    }

    // Timings that contradict each other (a charge chain outlasting its lease) must not start.
    const policy = yield* Either.match(makePolicy(overrides), {
      onLeft: (e) => Effect.fail(new PlatformStartError({ setting: "policy", reason: e.message })),
      onRight: Effect.succeed
    })
    // Every adapter's own deadline per outside call is the policy's.
    const callDeadlineMs = Duration.toMillis(policy.outsideCallDeadline)

    // Payments: Stripe when configured, else the sandbox.
    const stripe = yield* StripePayments.stripeSettings.pipe(Effect.mapError(fromConfigError))
    const sandboxWebhookSecret = yield* optionalSecret("QWIP_SANDBOX_WEBHOOK_SECRET")
    const payments = Option.match(stripe, {
      onSome: (s) =>
        Layer.mergeAll(
          StripePayments.layer(
            Option.match(s.apiBase, {
              onNone: () => ({ secretKey: s.secretKey, timeoutMs: callDeadlineMs }),
              onSome: (apiBase) => ({ secretKey: s.secretKey, apiBase, timeoutMs: callDeadlineMs })
            })
          ),
          StripeWebhooks.layer({ webhookSecret: s.webhookSecret }),
          Layer.succeed(Sandbox, Option.none())
        ),
      onNone: () =>
        Layer.mergeAll(
          Layer.effect(Sandbox, Effect.map(SandboxConsole, Option.some)),
          StripeWebhooks.layer({
            // A shared database: every instance must accept what any of them (or a tester) signed.
            webhookSecret: Option.getOrElse(sandboxWebhookSecret, () =>
              Option.match(local, {
                onSome: (l) => l.sandboxWebhookSecret,
                onNone: () => deriveSandboxWebhookSecret(jwtSecret)
              })
            )
          })
        ).pipe(Layer.provideMerge(layerSandboxPayments), Layer.provide(layerSandboxLedger))
    })

    // Mail: Resend when configured, else the outbox.
    const resend = yield* resendConfig.pipe(Effect.mapError(fromConfigError))
    const mailer = Option.match(resend, {
      onSome: (r) =>
        Layer.succeed(
          Mailer,
          makeResendMailer({
            apiKey: r.apiKey,
            staffEmails: r.staffEmails,
            manageLink,
            deadline: policy.outsideCallDeadline,
            ...(Option.isSome(r.baseUrl) ? { baseUrl: r.baseUrl.value } : {})
          })
        ),
      onNone: () =>
        Layer.effect(
          Mailer,
          Effect.map(StoreRecords, (records) => makeOutboxMailer({ outbox: outboxOver(records), manageLink }))
        )
    })

    // Locks: Seam when configured.
    const seamKey = yield* optionalSecret("SEAM_API_KEY")
    const locks = Option.isSome(seamKey)
      ? SeamLockAccess.layerFromConfigWith({ timeoutMs: callDeadlineMs }).pipe(Layer.mapError(fromConfigError))
      : noLockProvider

    const info: PlatformInfoShape = {
      store: choice._tag === "Embedded" ? "pglite" : choice._tag === "Postgres" ? "postgres" : "supabase",
      payments: Option.isSome(stripe) ? "stripe" : "sandbox",
      mail: Option.isSome(resend) ? "resend" : "outbox",
      locks: Option.isSome(seamKey) ? "seam" : "none",
      photos: (yield* supabaseStorageConfigured) ? "supabase-storage" : "local",
      dataDir
    }
    yield* Effect.logInfo(
      `platform: store ${describeChoice(choice)}; payments ${info.payments}; mail ${info.mail}; locks ${info.locks}; photos ${info.photos}`
    )

    const store = layerFor(choice).pipe(
      Layer.mapError((e) => new PlatformStartError({ setting: e.setting, reason: e.reason }))
    )
    const storeServices = Layer.mergeAll(
      Layer.effect(
        StaticCodes,
        Effect.map(StoreRecords, (records) => makeStaticCodes({ cipher, codesFor: records.codesFor }))
      ),
      Layer.effect(Readiness, Effect.map(StoreBackend, readinessOf)),
      Layer.effect(WebhookEvents, Effect.map(StoreRecords, webhookEventsOf)),
      payments,
      mailer,
      // The embedded default seeds a demo pod into an empty store; others only when asked.
      Option.getOrElse(policySettings.seedDemoPod, () => embedded) ? Layer.effectDiscard(seedDemoPod) : Layer.empty
    )
    return Layer.mergeAll(
      storeServices,
      locks,
      Layer.succeed(CodeCipher, cipher),
      Layer.succeed(AccessTokens, tokens),
      Layer.succeed(PlatformInfo, info),
      Layer.succeed(Policy, policy),
      layerCryptoRandom
    ).pipe(Layer.provideMerge(store))
  })
)

/** Store reachable and its schema the one this code expects. */
const readinessOf = (backend: StoreBackendShape) => ({
  check: Effect.gen(function* () {
    const latest = yield* Migrator.latestVersion
    const version = yield* backend.call("qwip_schema_version", {})
    return Number(version) === latest
      ? { ok: true, detail: `schema version ${latest}` }
      : { ok: false, detail: `schema version ${String(version)}, code expects ${latest}` }
  }).pipe(
    Effect.catchAllCause(() => Effect.succeed({ ok: false, detail: "store unreachable" })),
    Effect.timeoutTo({
      duration: Duration.seconds(3),
      onTimeout: () => ({ ok: false, detail: "store did not answer within 3 s" }),
      onSuccess: (r) => r
    })
  )
})

const webhookEventsOf = (records: StoreRecordsShape) => ({
  receive: (event: { readonly id: string; readonly type: string; readonly payload: unknown }) =>
    Effect.map(
      records.recordWebhookEvent({ eventId: event.id, type: event.type, payload: event.payload }),
      (d) => d.status
    ),
  markProcessed: (id: string, note?: string) =>
    Effect.asVoid(records.finishWebhookEvent(id, { status: "processed", note })),
  markFailed: (id: string, error: string) => Effect.asVoid(records.finishWebhookEvent(id, { status: "failed", error }))
})
