/**
 * The platform's services for HTTP tests, all in memory and built once per platform, so a
 * "restart" (stop one server, start another on the same platform) finds the same state:
 * the core's test kit for store, lock, codes and mail; the real sandbox payments over an
 * in-memory ledger; real access tokens and Stripe webhook verification; small in-memory
 * versions of the entry-point services.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import {
  AccessTokens,
  makeMemoryLedger,
  makePayLinks,
  makeSandboxPayments,
  Photos,
  PlatformInfo,
  type PlatformInfoShape,
  Readiness,
  Sandbox,
  SandboxAuthentication,
  type SandboxConsoleShape,
  Stripe,
  StripeWebhooks,
  Tokens
} from "@qwip/adapters"
import {
  LockAccess,
  Mailer,
  PayLinks,
  PaymentEventInbox,
  type PaymentEventInboxShape,
  type PaymentEventStatus,
  Payments,
  type Pod,
  Policy,
  type PolicyShape,
  SessionStore,
  StaticCodes
} from "@qwip/core"
import {
  demoPod,
  FakeLock,
  FakeMailer,
  MemoryStore,
  makeFakeLock,
  makeFakeMailer,
  makeFakeStaticCodes,
  makeMemoryStore,
  testPolicy
} from "@qwip/core/testing"
import { defaultHttpConfig, type HttpConfigShape } from "@qwip/http"
import { Clock, Duration, Effect, Layer, Logger, Option, Redacted } from "effect"

/** Settings for tests: a quick worker, a short shutdown grace. */
export const testConfig = (overrides: Partial<HttpConfigShape> = {}): Partial<HttpConfigShape> => ({
  worker: { ...defaultHttpConfig.worker, interval: Duration.millis(20), overdueInterval: Duration.hours(1) },
  shutdownGrace: Duration.seconds(2),
  ...overrides
})

export const JWT_SECRET = "http-tests-secret-that-is-long-enough-for-hs256"
export const WEBHOOK_SECRET = "whsec_http_tests_secret"

export interface StoredEvent {
  readonly id: string
  readonly type: string
  status: PaymentEventStatus
  error: string | null
  deliveries: number
}

export const makeMemoryWebhookEvents = () => {
  const events = new Map<string, StoredEvent>()
  const service: PaymentEventInboxShape = {
    decode: Stripe.decodeProviderEvent,
    receive: ({ id, type }) =>
      Effect.sync(() => {
        const existing = events.get(id)
        if (existing !== undefined) {
          existing.deliveries++
          return existing.status
        }
        events.set(id, { id, type, status: "received", error: null, deliveries: 1 })
        return "received"
      }),
    markProcessed: (id, note) =>
      Effect.sync(() => {
        const e = events.get(id)
        if (e !== undefined) {
          e.status = "processed"
          e.error = note ?? null
        }
      }),
    markFailed: (id, error) =>
      Effect.sync(() => {
        const e = events.get(id)
        if (e !== undefined) {
          e.status = "failed"
          e.error = error
        }
      })
  }
  return { service, events }
}

/** A clock that runs with real time plus an offset the test can move forward. */
export const makeOffsetClock = () => {
  let offset = 0
  const base = Clock.make()
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + offset,
    currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() + offset),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() + BigInt(offset) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos() + BigInt(offset) * 1_000_000n),
    sleep: (d) => base.sleep(d)
  }
  return {
    clock,
    layer: Layer.setClock(clock),
    advance: (d: Duration.DurationInput) => {
      offset += Duration.toMillis(Duration.decode(d))
    }
  }
}

/** Log lines as JSON text, to check what reaches the logs. */
export const makeLogCapture = () => {
  const lines: Array<string> = []
  const logger = Logger.map(Logger.jsonLogger, (line) => {
    lines.push(line)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

export interface TestPlatformOptions {
  readonly pods?: ReadonlyArray<Pod>
  /** Static codes per pod id; default `["04726"]` for every pod. */
  readonly codes?: Readonly<Record<string, ReadonlyArray<string>>>
  readonly policy?: Partial<PolicyShape>
  readonly sandbox?: boolean
  readonly locks?: PlatformInfoShape["locks"]
  readonly ready?: boolean
}

/** 60 £/min (a pound a second) so a few seconds of (offset) time make a real charge. */
export const testPods = [
  demoPod({ id: "pod-1", rate: "60" }),
  demoPod({ id: "pod-2", rate: "0.5" }),
  demoPod({ id: "pod-lock", mode: "lock-provider", deviceId: "device-1" })
]

export const makeTestPlatform = (options: TestPlatformOptions = {}) => {
  const pods = options.pods ?? testPods
  const store = makeMemoryStore(pods)
  const lock = makeFakeLock()
  const codes = makeFakeStaticCodes()
  for (const pod of pods) codes.control.setCodes(pod.id, options.codes?.[pod.id] ?? ["04726"])
  const mailer = makeFakeMailer()
  const sandbox = makeSandboxPayments(makeMemoryLedger())
  const webhookEvents = makeMemoryWebhookEvents()
  const dataDir = mkdtempSync(path.join(tmpdir(), "qwip-http-test-"))
  const clock = makeOffsetClock()
  const logs = makeLogCapture()

  const layer = Layer.mergeAll(
    Layer.succeed(SessionStore, store.store),
    Layer.succeed(MemoryStore, store.control),
    Layer.succeed(Payments, sandbox.payments),
    Layer.succeed(
      Sandbox,
      options.sandbox === false ? Option.none<SandboxConsoleShape>() : Option.some(sandbox.console)
    ),
    // As PaymentsFromEnv: the pay page's test steps only when the sandbox is the provider.
    options.sandbox === false ? Layer.empty : Layer.succeed(SandboxAuthentication, sandbox.authentication),
    Layer.succeed(LockAccess, lock.lock),
    Layer.succeed(FakeLock, lock.control),
    Layer.succeed(StaticCodes, codes.codes),
    Layer.succeed(Mailer, mailer.mailer),
    Layer.succeed(FakeMailer, mailer.control),
    Policy.layer({ ...testPolicy, workAttempts: 3, ...options.policy }),
    // As the platform signs them: from the JWT secret, on the default public URL.
    Layer.succeed(PayLinks, makePayLinks({ secret: Redacted.make(JWT_SECRET), publicUrl: "http://localhost:8000" })),
    Layer.effect(AccessTokens, Tokens.makeAccessTokens({ secret: Redacted.make(JWT_SECRET) })).pipe(Layer.orDie),
    Layer.succeed(PlatformInfo, {
      store: "pglite",
      payments: "sandbox",
      mail: "outbox",
      locks: options.locks ?? "none",
      photos: "local",
      dataDir
    }),
    Layer.succeed(Readiness, {
      check: Effect.succeed(
        options.ready === false ? { ok: false, detail: "migrations pending" } : { ok: true, detail: "memory store" }
      )
    }),
    Layer.succeed(PaymentEventInbox, webhookEvents.service),
    StripeWebhooks.layer({ webhookSecret: Redacted.make(WEBHOOK_SECRET) }),
    // As the embedded platform keeps them: under the data directory, links on the default URL.
    Photos.layerLocalCheckoutPhotos({
      directory: path.join(dataDir, "checkout-photos"),
      publicUrl: "http://localhost:8000"
    })
  )

  return {
    layer,
    /** Runtime layers for `start`: the offset clock and the log capture. */
    runtime: Layer.merge(Layer.setClock(clock.clock), logs.layer),
    store: store.control,
    lock: lock.control,
    mailer: mailer.control,
    sandbox: sandbox.console,
    webhookEvents: webhookEvents.events,
    clock,
    logs: logs.lines,
    dataDir
  }
}

export type TestPlatform = ReturnType<typeof makeTestPlatform>
