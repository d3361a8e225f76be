/**
 * The HTTP service's own settings (the adapters read theirs). Every one has a default that
 * suits a local run, so `npm start` needs no environment at all.
 */
import { Config, Context, Duration, Layer, Option } from "effect"

/** Requests allowed per client IP in a window. */
export interface RateLimit {
  readonly limit: number
  readonly window: Duration.Duration
}

export interface HttpConfigShape {
  readonly port: number
  readonly host: string
  /** Origins allowed by CORS; `["*"]` allows any (local use). */
  readonly corsOrigins: ReadonlyArray<string>
  /** Take the client IP from `X-Forwarded-For` (behind a proxy you trust). */
  readonly trustProxy: boolean
  /** Largest JSON body accepted. */
  readonly maxJsonBytes: number
  /** Largest Stripe webhook body accepted. */
  readonly maxWebhookBytes: number
  /**
   * Stripe's publishable key (`pk_…`) for the booking page's card form (Stripe.js Payment
   * Element); without it, the page books only on sandbox payments.
   */
  readonly stripePublishableKey: Option.Option<string>
  readonly rateLimits: {
    /** `POST /api/setup-intent`: each call creates a Stripe Customer. */
    readonly setupIntent: RateLimit
    /** Reads by `session_id` query (no token). */
    readonly sessionLookup: RateLimit
    /** Every other public endpoint. */
    readonly general: RateLimit
  }
  readonly worker: {
    readonly enabled: boolean
    /** Pause between polls when there was nothing to do. */
    readonly interval: Duration.Duration
    /** Background work items run at once by this instance (`WORKER_CONCURRENCY`). */
    readonly concurrency: number
    readonly overdueInterval: Duration.Duration
  }
  /** How long shutdown waits for in-flight background work before interrupting it. */
  readonly shutdownGrace: Duration.Duration
}

export const defaultHttpConfig: HttpConfigShape = {
  port: 8000,
  host: "0.0.0.0",
  corsOrigins: ["*"],
  trustProxy: false,
  maxJsonBytes: 64 * 1024,
  maxWebhookBytes: 1024 * 1024,
  stripePublishableKey: Option.none(),
  rateLimits: {
    setupIntent: { limit: 10, window: Duration.minutes(10) },
    sessionLookup: { limit: 30, window: Duration.minutes(1) },
    general: { limit: 300, window: Duration.minutes(1) }
  },
  worker: {
    enabled: true,
    interval: Duration.seconds(1),
    concurrency: 8,
    overdueInterval: Duration.minutes(5)
  },
  shutdownGrace: Duration.seconds(10)
}

const list = (name: string, fallback: ReadonlyArray<string>) =>
  Config.string(name).pipe(
    Config.map((raw) =>
      raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
    ),
    Config.withDefault(fallback)
  )

const perWindow = (name: string, fallback: RateLimit) =>
  Config.integer(name).pipe(
    Config.validate({ message: "must be a positive whole number", validation: (n) => n > 0 }),
    Config.map((limit): RateLimit => ({ limit, window: fallback.window })),
    Config.withDefault(fallback)
  )

/**
 * `PORT`, `HOST`, `CORS_ORIGINS` (comma-separated), `TRUST_PROXY`, `STRIPE_PUBLISHABLE_KEY`,
 * `RATE_LIMIT_SETUP_INTENT` (per 10 min), `RATE_LIMIT_SESSION_LOOKUP` and `RATE_LIMIT_GENERAL`
 * (per minute), `WORKER_ENABLED`, `WORKER_INTERVAL`, `WORKER_CONCURRENCY`, `SHUTDOWN_GRACE`.
 */
export const httpConfigFromEnv: Config.Config<HttpConfigShape> = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(defaultHttpConfig.port)),
  host: Config.string("HOST").pipe(Config.withDefault(defaultHttpConfig.host)),
  corsOrigins: list("CORS_ORIGINS", defaultHttpConfig.corsOrigins),
  trustProxy: Config.boolean("TRUST_PROXY").pipe(Config.withDefault(false)),
  stripePublishableKey: Config.string("STRIPE_PUBLISHABLE_KEY").pipe(
    Config.map((key) => key.trim()),
    Config.validate({
      message: "must be a Stripe publishable key (pk_…)",
      validation: (k) => k === "" || k.startsWith("pk_")
    }),
    Config.map((key) => (key === "" ? Option.none<string>() : Option.some(key))),
    Config.withDefault(Option.none<string>())
  ),
  setupIntent: perWindow("RATE_LIMIT_SETUP_INTENT", defaultHttpConfig.rateLimits.setupIntent),
  sessionLookup: perWindow("RATE_LIMIT_SESSION_LOOKUP", defaultHttpConfig.rateLimits.sessionLookup),
  general: perWindow("RATE_LIMIT_GENERAL", defaultHttpConfig.rateLimits.general),
  workerEnabled: Config.boolean("WORKER_ENABLED").pipe(Config.withDefault(true)),
  workerInterval: Config.duration("WORKER_INTERVAL").pipe(Config.withDefault(defaultHttpConfig.worker.interval)),
  workerConcurrency: Config.integer("WORKER_CONCURRENCY").pipe(
    Config.validate({ message: "must be a positive whole number", validation: (n) => n > 0 }),
    Config.withDefault(defaultHttpConfig.worker.concurrency)
  ),
  shutdownGrace: Config.duration("SHUTDOWN_GRACE").pipe(Config.withDefault(defaultHttpConfig.shutdownGrace))
}).pipe(
  Config.map(
    (c): HttpConfigShape => ({
      ...defaultHttpConfig,
      port: c.port,
      host: c.host,
      corsOrigins: c.corsOrigins,
      trustProxy: c.trustProxy,
      stripePublishableKey: c.stripePublishableKey,
      rateLimits: { setupIntent: c.setupIntent, sessionLookup: c.sessionLookup, general: c.general },
      worker: {
        ...defaultHttpConfig.worker,
        enabled: c.workerEnabled,
        interval: c.workerInterval,
        concurrency: c.workerConcurrency
      },
      shutdownGrace: c.shutdownGrace
    })
  )
)

export class HttpConfig extends Context.Tag("@qwip/http/HttpConfig")<HttpConfig, HttpConfigShape>() {
  static readonly fromEnv = Layer.effect(HttpConfig, httpConfigFromEnv)
  /** The defaults with some values replaced (tests). */
  static readonly layer = (overrides: Partial<HttpConfigShape> = {}) =>
    Layer.succeed(HttpConfig, { ...defaultHttpConfig, ...overrides })
}
