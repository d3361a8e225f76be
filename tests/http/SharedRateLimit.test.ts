/**
 * Rate limits across instances: two services on one Redis (`REDIS_URL`), or one Postgres
 * database, share one allowance, so the limit holds whichever instance the proxy picks. A
 * Redis that does not answer, or answers late (paused), lets requests through within the
 * limiter's deadline and says so in the log. Without a shared
 * store each process counts its own (the embedded store, the in-memory test platform).
 *
 * Redis comes from `QWIP_TEST_REDIS_URL`, Postgres from `QWIP_TEST_DATABASE_URL` (`.ci/run`
 * sets both); each test counts under its own key prefix, so runs never share counts.
 */
import { randomBytes } from "node:crypto"
import { connect } from "node:net"
import { afterEach, describe, expect, it } from "@effect/vitest"
import { defaultHttpConfig, type RunningService, start } from "@qwip/http"
import { client } from "@qwip/test-support/Client"
import { freePort } from "@qwip/test-support/Network"
import { boot, dataDir, platform, postgresEnv, testConfig, testDatabaseUrl } from "@qwip/test-support/Service"
import { Duration, type Layer, Logger } from "effect"

const testRedisUrl = process.env.QWIP_TEST_REDIS_URL?.trim() || undefined

const LIMIT = 5
const config = testConfig({
  rateLimits: { ...defaultHttpConfig.rateLimits, general: { limit: LIMIT, window: Duration.minutes(1) } },
  worker: { ...defaultHttpConfig.worker, enabled: false }
})

const running: Array<RunningService> = []
afterEach(async () => {
  while (running.length > 0) await running.pop()?.stop()
})

/** What the services logged, one line per entry with its annotations. */
const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ message, annotations, logLevel }) => {
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    const fields = [...annotations].map(([k, v]) => `${k}=${String(v)}`).join(" ")
    lines.push(`${logLevel.label} ${text} ${fields}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) as Layer.Layer<never> }
}

const startOn = async (env: Record<string, string>, logs = captureLogs()) => {
  const service = await start(platform(env), { config, runtime: logs.layer })
  running.push(service)
  return { api: client(service.url), logs }
}

const prefix = () => `qwip-test-${randomBytes(6).toString("hex")}`

// A general-bucket request: the pod need not exist, only the limiter's answer matters.
const ask = (api: ReturnType<typeof client>) => api.get("/api/pod?pod_id=pod-rate-limit")

/** 3 requests on A, then 3 on B: with one shared allowance of 5, B's third is refused. */
const threeAndThree = async (a: ReturnType<typeof client>, b: ReturnType<typeof client>) => {
  for (let i = 0; i < 3; i++) expect((await ask(a)).status).not.toBe(429)
  expect((await ask(b)).status).not.toBe(429)
  expect((await ask(b)).status).not.toBe(429)
  const sixth = await ask(b)
  expect(sixth.status).toBe(429)
  expect(sixth.body.error).toBe("rate_limited")
  const wait = Number(sixth.headers.get("retry-after"))
  expect(wait).toBeGreaterThan(0)
  expect(wait).toBeLessThanOrEqual(60)
  // A's next request is over the same allowance.
  expect((await ask(a)).status).toBe(429)
}

// Defined only when the store is reachable (as the [postgres] suites are): never a skipped test counted as run.
if (testRedisUrl !== undefined)
  describe("rate limits shared through Redis", () => {
    it("two instances share one limit: 3 requests on A and 3 on B, the sixth is 429", { timeout: 60_000 }, async () => {
      const shared = { REDIS_URL: testRedisUrl ?? "", RATE_LIMIT_KEY_PREFIX: prefix() }
      const [a, b] = await Promise.all([
        startOn({ ...shared, QWIP_DATA_DIR: dataDir() }),
        startOn({ ...shared, QWIP_DATA_DIR: dataDir() })
      ])
      expect(a.logs.lines.some((l) => l.includes("rate limits counted in redis"))).toBe(true)
      await threeAndThree(a.api, b.api)
    })

    it("a slow Redis (paused) holds no request past the limiter's deadline; the request goes through", {
      timeout: 60_000
    }, async () => {
      const a = await startOn({
        REDIS_URL: testRedisUrl ?? "",
        RATE_LIMIT_KEY_PREFIX: prefix(),
        QWIP_DATA_DIR: dataDir()
      })
      expect((await ask(a.api)).status).not.toBe(429)
      await pauseRedis(testRedisUrl ?? "", 1_500)
      const started = Date.now()
      expect((await ask(a.api)).status).not.toBe(429)
      expect(Date.now() - started).toBeLessThan(1_000)
      expect(
        a.logs.lines.some((l) => l.includes("rate limit store unreachable") && l.includes("no answer within"))
      ).toBe(true)
    })

    it("another key prefix is another allowance", { timeout: 60_000 }, async () => {
      const first = await startOn({
        REDIS_URL: testRedisUrl ?? "",
        RATE_LIMIT_KEY_PREFIX: prefix(),
        QWIP_DATA_DIR: dataDir()
      })
      for (let i = 0; i < LIMIT; i++) expect((await ask(first.api)).status).not.toBe(429)
      expect((await ask(first.api)).status).toBe(429)
      const other = await startOn({
        REDIS_URL: testRedisUrl ?? "",
        RATE_LIMIT_KEY_PREFIX: prefix(),
        QWIP_DATA_DIR: dataDir()
      })
      expect((await ask(other.api)).status).not.toBe(429)
    })
  })

if (testDatabaseUrl !== undefined)
  describe("rate limits shared through Postgres", () => {
    it("two instances on one database share one limit", { timeout: 60_000 }, async () => {
      const env = { ...postgresEnv(), RATE_LIMIT_KEY_PREFIX: prefix() }
      const a = await startOn(env)
      const b = await startOn(env)
      expect(a.logs.lines.some((l) => l.includes("rate limits counted in postgres"))).toBe(true)
      await threeAndThree(a.api, b.api)
    })
  })

/** Makes the Redis at `url` hold every client's commands for `ms` (`CLIENT PAUSE`), as a slow Redis would. */
const pauseRedis = (url: string, ms: number) =>
  new Promise<void>((resolve, reject) => {
    const { hostname, port } = new URL(url)
    const socket = connect(Number(port || 6379), hostname, () => socket.write(`CLIENT PAUSE ${ms} ALL\r\n`))
    socket.once("data", (reply) => {
      socket.end()
      if (reply.toString().startsWith("+OK")) resolve()
      else reject(new Error(`CLIENT PAUSE: ${reply.toString().trim()}`))
    })
    socket.once("error", reject)
  })

describe("a rate limit store that does not answer", () => {
  it("lets every request through, quickly, and logs it", { timeout: 60_000 }, async () => {
    // A port taken from the OS and closed again: nothing listens on it.
    const port = await freePort()
    const a = await startOn({ REDIS_URL: `redis://127.0.0.1:${port}`, QWIP_DATA_DIR: dataDir() })
    const started = Date.now()
    for (let i = 0; i < LIMIT + 3; i++) expect((await ask(a.api)).status).not.toBe(429)
    // No request waited for Redis beyond the limiter's short deadline.
    expect(Date.now() - started).toBeLessThan(5_000)
    // Said when a request was let through, naming the store and the request's key.
    const warnings = a.logs.lines.filter((l) => l.startsWith("WARN rate limit store unreachable; requests let through"))
    expect(warnings.some((l) => l.includes("store=redis") && l.includes("key=general|127.0.0.1"))).toBe(true)
  })
})

describe("without a shared store", () => {
  it("the in-memory platform limits its one process", async () => {
    const { api } = await boot({ config })
    for (let i = 0; i < LIMIT; i++) expect((await ask(api)).status).not.toBe(429)
    const refused = await ask(api)
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0)
  })

  it("embedded (PGlite) instances count in their own memory", { timeout: 60_000 }, async () => {
    const [a, b] = await Promise.all([startOn({ QWIP_DATA_DIR: dataDir() }), startOn({ QWIP_DATA_DIR: dataDir() })])
    expect(a.logs.lines.some((l) => l.includes("rate limits counted in memory"))).toBe(true)
    for (let i = 0; i < 3; i++) expect((await ask(a.api)).status).not.toBe(429)
    for (let i = 0; i < 3; i++) expect((await ask(b.api)).status).not.toBe(429)
    for (let i = 0; i < 2; i++) expect((await ask(b.api)).status).not.toBe(429)
    expect((await ask(b.api)).status).toBe(429)
  })
})
