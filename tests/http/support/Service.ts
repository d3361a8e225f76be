/**
 * The real service on the embedded platform (`@qwip/adapters`' `layerFromEnv`: PGlite in a temp
 * `QWIP_DATA_DIR`, sandbox payments, static codes, outbox mail), or on Postgres when
 * `QWIP_TEST_DATABASE_URL` is set, started on 127.0.0.1 and a random port. The environment is
 * given explicitly, so a developer's own `STRIPE_SECRET` never leaks into a test.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, afterEach } from "@effect/vitest"
import { layerFromEnv, Store } from "@qwip/adapters"
import { defaultHttpConfig, type HttpConfigShape, type RunningService, start } from "@qwip/http"
import { Clock, ConfigProvider, Context, Duration, Effect, Layer, Logger, LogLevel } from "effect"
import { pgliteBehind } from "../../../packages/adapters/src/store/Pglite.js"
import { client } from "./Client.js"

export const WEBHOOK_SECRET = "whsec_black_box_tests_secret"

/** A clock running with real time plus an offset the test moves forward (billing needs minutes). */
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
    layer: Layer.setClock(clock),
    advance: (d: Duration.DurationInput) => {
      offset += Duration.toMillis(Duration.decode(d))
    }
  }
}

const dirs: Array<string> = []
const running: Array<RunningService> = []
afterEach(async () => {
  while (running.length > 0) await running.pop()?.stop()
})
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A fresh data directory, removed after the file's tests. */
export const dataDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qwip-http-e2e-"))
  dirs.push(dir)
  return dir
}

export const testDatabaseUrl = process.env.QWIP_TEST_DATABASE_URL?.trim() || undefined

/** The platform from an explicit environment. */
export const platform = (env: Readonly<Record<string, string>>) =>
  layerFromEnv.pipe(
    Layer.provide(
      Layer.setConfigProvider(
        ConfigProvider.fromMap(new Map(Object.entries({ QWIP_SANDBOX_WEBHOOK_SECRET: WEBHOOK_SECRET, ...env })))
      )
    )
  )

export const quickWorker = (enabled = true): Partial<HttpConfigShape> => ({
  worker: { ...defaultHttpConfig.worker, enabled, interval: Duration.millis(25), overdueInterval: Duration.hours(1) },
  shutdownGrace: Duration.seconds(2)
})

/**
 * Starts the service on `env`'s platform; stopped after the test unless stopped before.
 * `query` runs raw SQL on its embedded store, between requests (PGlite runs one statement at a
 * time).
 */
export const serve = async (
  env: Readonly<Record<string, string>>,
  options: { readonly config?: Partial<HttpConfigShape>; readonly clock?: ReturnType<typeof makeOffsetClock> } = {}
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
  running.push(service)
  return {
    service,
    api: client(service.url),
    query,
    stop: async () => {
      const i = running.indexOf(service)
      if (i >= 0) running.splice(i, 1)
      await service.stop()
    }
  }
}
