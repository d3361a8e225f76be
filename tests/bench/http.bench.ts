/**
 * The service's hot path against a bare `node:http` + `pg` server running the same query.
 * Both verify the session token (jose, HS256), run `qwip_session_with_pod` once on Postgres
 * and answer JSON; the difference is what the platform's layers cost per request.
 *
 *   npm run bench -- tests/bench/http.bench.ts
 *
 * Needs PostgreSQL at QWIP_TEST_DATABASE_URL's server (default 127.0.0.1:5432); it creates and
 * drops the database `qwip_bench`.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { layerFromEnv, Store, StoreRecords } from "@qwip/adapters"
import { AccessCode, Pod, type PodId, rate, SessionStore } from "@qwip/core"
import { LoggingFromEnv, start } from "@qwip/http"
import { ConfigProvider, Duration, Effect, Layer, ManagedRuntime, Option, Schema } from "effect"
import { jwtVerify } from "jose"
import pg from "pg"
import { afterAll, bench, describe } from "vitest"

const server = new URL(process.env.QWIP_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test")
const admin = new pg.Client({ connectionString: server.toString() })
await admin.connect()
await admin.query("drop database if exists qwip_bench")
await admin.query("create database qwip_bench")
const benchUrl = new URL(server)
benchUrl.pathname = "/qwip_bench"

const JWT_SECRET = "bench-secret-bench-secret-bench-secret-0123456789"
const env = new Map([
  ["DATABASE_URL", benchUrl.toString()],
  ["JWT_SECRET_KEY", JWT_SECRET],
  ["STATIC_CODE_B64_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
  ["LOG_LEVEL", "warning"]
])
const fromEnv = Layer.setConfigProvider(ConfigProvider.fromMap(env))
const platform = layerFromEnv.pipe(Layer.provide(fromEnv))

// Seed a pod and book it through the API, so the session is a real one.
const runtime = ManagedRuntime.make(platform)
await runtime.runPromise(
  Effect.gen(function* () {
    const records = yield* StoreRecords
    yield* records.upsertPod(
      new Pod({
        id: "bench-pod" as PodId,
        name: "Bench Pod",
        address: "1 Bench Street",
        rate: rate("0.5"),
        lockDeviceId: Option.none(),
        accessMode: "static"
      })
    )
    yield* records.setCodes("bench-pod", [Schema.decodeSync(AccessCode)("04726")])
    void (yield* SessionStore)
  })
)
await runtime.dispose()

// Rate limits would turn a benchmark's traffic into 429s: lift them for this run only.
const unlimited = { limit: 1_000_000_000, window: Duration.minutes(1) }
// Logging as LOG_LEVEL above says (warnings only): under vitest each request's log line would go
// through its console capture, a cost production's stdout does not have.
const qwip = await start(platform, {
  runtime: LoggingFromEnv.pipe(Layer.provide(fromEnv), Layer.orDie),
  config: { rateLimits: { setupIntent: unlimited, sessionLookup: unlimited, general: unlimited } }
})
const post = (path: string, body: unknown, token?: string) =>
  fetch(`${qwip.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    },
    body: JSON.stringify(body)
  }).then((r) => r.json() as Promise<Record<string, string>>)
const checkout = await post("/api/setup-intent", { pod_id: "bench-pod" })
const setupIntentId = (checkout.client_secret ?? "").split("_secret_")[0]
await post(`/sandbox/setup-intents/${setupIntentId}/confirm`, { card_number: "4242424242424242", email: "b@b.co" })
const { session_jwt_token: token } = await post("/api/booking/finalize", {}, checkout.provisioning_jwt_token)
if (token === undefined) throw new Error("booking failed")

// The bare server: the same token check and the same single query, nothing else.
const pool = new pg.Pool({ connectionString: benchUrl.toString(), max: 10 })
const key = new TextEncoder().encode(JWT_SECRET)
const query = Store.callStatement("public", "qwip_session_with_pod", { p_session_id: "" }).text
const bare: Server = createServer(async (req, res) => {
  try {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? ""
    const { payload } = await jwtVerify(bearer, key, { algorithms: ["HS256"] })
    const sessionId = (payload.session as { session_id: string }).session_id
    const { rows } = await pool.query(query, [sessionId])
    const doc = rows[0]?.result
    res.writeHead(200, { "content-type": "application/json" })
    res.end(
      JSON.stringify({
        session_data: { start_dt: doc.session.startedAt, end_dt: null, access_code: null },
        pod_data: { name: doc.pod.name, address: doc.pod.address, price_per_minute: 0.5 }
      })
    )
  } catch {
    res.writeHead(403).end()
  }
})
await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve))
const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`
const headers = { authorization: `Bearer ${token}` }

afterAll(async () => {
  await qwip.stop()
  await new Promise((resolve) => bare.close(resolve))
  await pool.end()
  await admin.query("drop database if exists qwip_bench with (force)")
  await admin.end()
})

describe("GET /api/get-session-data (one token check, one query)", () => {
  bench("qwip service", async () => {
    const r = await fetch(`${qwip.url}/api/get-session-data`, { headers })
    if (r.status !== 200) throw new Error(`status ${r.status}`)
    await r.arrayBuffer()
  })
  bench("bare node:http + pg", async () => {
    const r = await fetch(`${bareUrl}/api/get-session-data`, { headers })
    if (r.status !== 200) throw new Error(`status ${r.status}`)
    await r.arrayBuffer()
  })
})
