/**
 * The real HTTP service started in process (127.0.0.1, a random port, `fetch`), on each
 * platform the journeys run on:
 * - `memory`: the in-memory test platform (`TestPlatform`), whose state a test can read;
 * - `pglite`: `@qwip/adapters`' `layerFromEnv` with PGlite in a temp `QWIP_DATA_DIR`, sandbox
 *   payments, static codes and outbox mail;
 * - `postgres`: the same on a fresh schema of `QWIP_TEST_DATABASE_URL`, when it is set.
 * The environment is given explicitly, so a developer's own `STRIPE_SECRET` never leaks in.
 *
 * Servers stop after the test that started them, or after the file's tests when started with
 * `forFile` (a boot shared by tests that do not interfere).
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, afterEach } from "@effect/vitest"
import { layerFromEnv, parseDunningSchedule, Store } from "@qwip/adapters"
import { pgliteBehind } from "@qwip/adapters/store/Pglite"
import { chargeOf, type PolicyShape } from "@qwip/core"
import { defaultHttpConfig, type HttpConfigShape, type RunningService, start } from "@qwip/http"
import { ConfigProvider, Context, Duration, Effect, Either, Layer, Logger, LogLevel, Option } from "effect"
import pg from "pg"
import { type Client, client } from "./Client.js"
import {
  makeOffsetClock,
  makeTestPlatform,
  type TestPlatform,
  type TestPlatformOptions,
  testConfig,
  WEBHOOK_SECRET
} from "./TestPlatform.js"

export { makeOffsetClock, testConfig, WEBHOOK_SECRET }

export const testDatabaseUrl = process.env.QWIP_TEST_DATABASE_URL?.trim() || undefined

const perTest: Array<RunningService> = []
const perFile: Array<RunningService> = []
const dirs: Array<string> = []
const schemas: Array<string> = []
afterEach(async () => {
  while (perTest.length > 0) await perTest.pop()?.stop()
})
afterAll(async () => {
  while (perFile.length > 0) await perFile.pop()?.stop()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  if (testDatabaseUrl === undefined || schemas.length === 0) return
  const db = new pg.Client({ connectionString: testDatabaseUrl })
  await db.connect()
  for (const schema of schemas.splice(0)) await db.query(`drop schema if exists "${schema}" cascade`)
  await db.end()
})

const track = (service: RunningService, forFile: boolean | undefined) => {
  const list = forFile === true ? perFile : perTest
  list.push(service)
  return async () => {
    const i = list.indexOf(service)
    if (i >= 0) list.splice(i, 1)
    await service.stop()
  }
}

/** A fresh data directory, removed after the file's tests. */
export const dataDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qwip-http-e2e-"))
  dirs.push(dir)
  return dir
}

/** The environment of a fresh Postgres schema (dropped after the file's tests), with the demo pod. */
export const postgresEnv = (): Record<string, string> => {
  const schema = `qwip_http_${randomBytes(4).toString("hex")}`
  schemas.push(schema)
  return {
    DATABASE_URL: testDatabaseUrl ?? "",
    DATABASE_SCHEMA: schema,
    JWT_SECRET_KEY: randomBytes(32).toString("base64url"),
    STATIC_CODE_B64_KEY: randomBytes(32).toString("base64url"),
    QWIP_SEED_DEMO_POD: "true",
    QWIP_DATA_DIR: dataDir()
  }
}

/** The production platform from an explicit environment. */
export const platform = (env: Readonly<Record<string, string>>) =>
  layerFromEnv.pipe(
    Layer.provide(
      Layer.setConfigProvider(
        ConfigProvider.fromMap(new Map(Object.entries({ QWIP_SANDBOX_WEBHOOK_SECRET: WEBHOOK_SECRET, ...env })))
      )
    )
  )

/** The test configuration, with the background worker on or off. */
export const quickWorker = (enabled = true): Partial<HttpConfigShape> => {
  const config = testConfig()
  return { ...config, worker: { ...(config.worker ?? defaultHttpConfig.worker), enabled } }
}

/** Starts the in-memory platform's service (a new platform unless given). */
export const boot = async (
  options: {
    readonly platform?: TestPlatform
    readonly platformOptions?: TestPlatformOptions
    readonly config?: Partial<HttpConfigShape>
    readonly forFile?: boolean
  } = {}
) => {
  const platform = options.platform ?? makeTestPlatform(options.platformOptions)
  const running = await start(platform.layer, { runtime: platform.runtime, config: testConfig(options.config) })
  return { platform, running, api: client(running.url), stop: track(running, options.forFile) }
}

/**
 * Starts the service on `env`'s platform. `query` runs raw SQL on its embedded store, between
 * requests (PGlite runs one statement at a time).
 */
export const serve = async (
  env: Readonly<Record<string, string>>,
  options: {
    readonly config?: Partial<HttpConfigShape>
    readonly clock?: ReturnType<typeof makeOffsetClock>
    readonly forFile?: boolean
  } = {}
) => {
  const quiet = Logger.minimumLogLevel(process.env.QWIP_TEST_LOGS === "1" ? LogLevel.Debug : LogLevel.Warning)
  let backend: Store.StoreBackendShape | undefined
  const keepBackend = Layer.tap(platform(env), (context) =>
    Effect.sync(() => {
      backend = Context.get(context, Store.StoreBackend)
    })
  )
  const query = async <A = Record<string, unknown>>(text: string): Promise<Array<A>> => {
    const db = backend === undefined ? undefined : pgliteBehind(backend)
    if (db === undefined) throw new Error("query needs the embedded store (QWIP_DATA_DIR)")
    return (await db.query<A>(text)).rows
  }
  const service = await start(keepBackend, {
    config: { ...quickWorker(), ...options.config },
    runtime: options.clock === undefined ? quiet : Layer.merge(quiet, options.clock.layer)
  })
  return { service, api: client(service.url), query, stop: track(service, options.forFile) }
}

// ---- the platforms journeys are parameterised by ---------------------------------------------

/** A service that is up, and how to stop it. */
export interface Served {
  readonly api: Client
  readonly url: string
  readonly stop: () => Promise<void>
}

/** One platform's data: the servers started on it share it, so a restart finds the same state. */
export interface Deployment {
  readonly start: (options?: { readonly worker?: boolean; readonly forFile?: boolean }) => Promise<Served>
  /** Moves the services' clock forward. */
  readonly advance: (duration: Duration.DurationInput) => void
  /**
   * The emails sent so far, oldest first: the fake mailer's in memory, the outbox's rows
   * otherwise (`kind` is the message's tag; `message` its fields as stored).
   */
  readonly mail: () => Promise<ReadonlyArray<SentMail>>
  /**
   * Where dunning stands for a session's charge and when it next tries, as `qwip payments list`
   * shows them (status `scheduled`, `paid`, `stopped`, `exhausted`; null when it never
   * started). Read from the store's charge row, since no HTTP endpoint shows it.
   */
  readonly collection: (sessionId: string) => Promise<CollectionView>
  /**
   * How many of a session's background work items are due by the deployment's clock and not
   * yet done: 0 once the worker has run everything the clock has reached (so a test can tell
   * "did nothing" from "has not run yet").
   */
  readonly dueWork: (sessionId: string) => Promise<number>
}

export interface CollectionView {
  readonly status: string | null
  readonly nextAttemptAt: Date | null
}

export interface SentMail {
  readonly kind: string
  // biome-ignore lint/suspicious/noExplicitAny: tests read the message's fields as stored
  readonly message: any
}

/**
 * Settings a deployment runs with, as the environment names them. In memory only the
 * collection settings are understood (translated to the policy); any other is refused, so a
 * test never believes a setting applied when it did not.
 */
export type DeploySettings = Readonly<Record<string, string>>

/** `1h,2h,3h` as the policy's schedule, read as the environment reads it, for the in-memory platform. */
const scheduleOf = (raw: string): ReadonlyArray<Duration.Duration> =>
  Either.getOrThrowWith(parseDunningSchedule(raw), (reason) => new Error(`DUNNING_SCHEDULE: ${reason}`))

const memoryPolicyOf = (settings: DeploySettings): Partial<PolicyShape> => {
  const policy: { -readonly [K in keyof PolicyShape]?: PolicyShape[K] } = {}
  for (const [name, value] of Object.entries(settings)) {
    if (name === "BOOKING_HOLD_PENCE") {
      if (!/^\d+$/.test(value)) throw new Error(`BOOKING_HOLD_PENCE: "${value}" is not whole pence`)
      // 0 is off, as in the environment.
      policy.bookingHoldPence = Number(value) > 0 ? Number(value) : undefined
    } else if (name === "DUNNING_SCHEDULE") policy.dunningSchedule = scheduleOf(value)
    else if (name === "PAY_LINK_DAYS") policy.payLinkValidity = Duration.days(Number(value))
    else throw new Error(`the memory platform does not take ${name}`)
  }
  return policy
}

export interface JourneyPlatform {
  readonly name: "memory" | "pglite" | "postgres"
  /** The pod journeys book, as `GET /api/pod` shows it. */
  readonly pod: {
    readonly id: string
    readonly name: string
    readonly address: string
    readonly price_per_minute: number
  }
  /** How many pods it has. */
  readonly pods: number
  /** The door codes its static codes hand out. */
  readonly code: RegExp
  /** A fresh deployment; `settings` (optional) as the environment names them, e.g. `BOOKING_HOLD_PENCE`. */
  readonly deploy: (settings?: DeploySettings) => Deployment
}

type OutboxRow = { readonly kind: string; readonly message: unknown }
type ChargeRow = { readonly collection_status: string | null; readonly next_attempt_at: Date | string | null }

const onEnv =
  (env: () => Record<string, string>) =>
  (extra: DeploySettings = {}): Deployment => {
    const settings = { ...env(), ...extra }
    const clock = makeOffsetClock()
    // Raw SQL on the deployment's store: the embedded one through the latest service, Postgres
    // on the deployment's own schema.
    let embedded: (<A>(text: string) => Promise<Array<A>>) | undefined
    const sql = async <A>(text: string): Promise<Array<A>> => {
      if (settings.DATABASE_URL === undefined) {
        if (embedded === undefined) throw new Error("start a service before reading its store")
        return embedded<A>(text)
      }
      const db = new pg.Client({ connectionString: settings.DATABASE_URL })
      await db.connect()
      try {
        await db.query(`set search_path to "${settings.DATABASE_SCHEMA}"`)
        return (await db.query(text)).rows as Array<A>
      } finally {
        await db.end()
      }
    }
    return {
      start: async (options = {}) => {
        const { service, api, stop, query } = await serve(settings, {
          clock,
          config: quickWorker(options.worker !== false),
          ...(options.forFile === undefined ? {} : { forFile: options.forFile })
        })
        embedded = query
        return { api, url: service.url, stop }
      },
      advance: clock.advance,
      mail: async () =>
        (await sql<OutboxRow>("select kind, message from email_outbox order by id")).map((r) => ({
          kind: r.kind,
          message: r.message
        })),
      collection: async (sessionId) => {
        const rows = await sql<ChargeRow>(
          `select collection_status, next_attempt_at from session_charges where session_id = '${sessionId.replace(/'/g, "''")}'`
        )
        const next = rows[0]?.next_attempt_at ?? null
        return { status: rows[0]?.collection_status ?? null, nextAttemptAt: next === null ? null : new Date(next) }
      },
      dueWork: async (sessionId) => {
        const now = new Date(clock.clock.unsafeCurrentTimeMillis()).toISOString()
        const rows = await sql<{ n: number | string }>(
          `select count(*) as n from background_work where status = 'pending' and session_id = '${sessionId.replace(/'/g, "''")}' and run_at <= '${now}'`
        )
        return Number(rows[0]?.n ?? 0)
      }
    }
  }

const demoPod = { id: "demo-pod", name: "Qwip Demo Pod", address: "1 Example Street, London", price_per_minute: 0.5 }

export const memoryPlatform: JourneyPlatform = {
  name: "memory",
  pod: { id: "pod-1", name: "Pod pod-1", address: "1 Test Street, London", price_per_minute: 60 },
  pods: 3,
  code: /^04726$/,
  deploy: (settings = {}) => {
    const platform = makeTestPlatform({ policy: memoryPolicyOf(settings) })
    return {
      start: async (options = {}) => {
        const { running, api, stop } = await boot({
          platform,
          config: quickWorker(options.worker !== false),
          ...(options.forFile === undefined ? {} : { forFile: options.forFile })
        })
        return { api, url: running.url, stop }
      },
      advance: platform.clock.advance,
      mail: async () => platform.mailer.sent().map((message) => ({ kind: message._tag, message })),
      collection: async (sessionId) => {
        const session = platform.store.sessions().find((s) => s.id === sessionId)
        const charge = session === undefined ? Option.none() : chargeOf(session)
        return {
          status: Option.getOrNull(Option.flatMap(charge, (c) => c.collection)),
          nextAttemptAt: Option.getOrNull(Option.flatMap(charge, (c) => c.nextAttemptAt))
        }
      },
      dueWork: async (sessionId) => {
        const now = platform.clock.clock.unsafeCurrentTimeMillis()
        return platform.store
          .work()
          .filter((w) => w.status === "pending" && w.item.sessionId === sessionId && w.item.runAt.getTime() <= now)
          .length
      }
    }
  }
}

export const pglitePlatform: JourneyPlatform = {
  name: "pglite",
  pod: demoPod,
  pods: 1,
  code: /^\d{5}$/,
  deploy: onEnv(() => ({ QWIP_DATA_DIR: dataDir() }))
}

export const postgresPlatform: JourneyPlatform = {
  name: "postgres",
  pod: demoPod,
  pods: 1,
  code: /^\d{5}$/,
  deploy: onEnv(postgresEnv)
}

/** Every platform this run can reach: Postgres only when `QWIP_TEST_DATABASE_URL` is set. */
export const journeyPlatforms: ReadonlyArray<JourneyPlatform> = [
  memoryPlatform,
  pglitePlatform,
  ...(testDatabaseUrl === undefined ? [] : [postgresPlatform])
]
