/**
 * Black-box: the real service over `fetch`, for each sandbox test card, on the embedded
 * platform (PGlite in a temp directory, sandbox payments, static codes, outbox mail) and,
 * when `QWIP_TEST_DATABASE_URL` is set, on Postgres (its own schema, dropped afterwards).
 */
import { randomBytes } from "node:crypto"
import { afterAll, describe, expect, it } from "@effect/vitest"
import pg from "pg"
import { book, eventually, sessionIdOf } from "./support/Client.js"
import { dataDir, makeOffsetClock, serve, testDatabaseUrl } from "./support/Service.js"

const POD = "demo-pod"

const cards = [
  { card: "4242424242424242", charge: "succeeded" },
  { card: "4000000000000341", charge: "requires_payment_method" },
  { card: "4000002500003155", charge: "requires_action" }
] as const

const schemas: Array<string> = []
afterAll(async () => {
  if (testDatabaseUrl === undefined || schemas.length === 0) return
  const client = new pg.Client({ connectionString: testDatabaseUrl })
  await client.connect()
  for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`)
  await client.end()
})

const stores: ReadonlyArray<{ readonly name: string; readonly env: () => Record<string, string> }> = [
  { name: "pglite", env: () => ({ QWIP_DATA_DIR: dataDir() }) },
  ...(testDatabaseUrl === undefined
    ? []
    : [
        {
          name: "postgres",
          env: () => {
            const schema = `qwip_http_${randomBytes(4).toString("hex")}`
            schemas.push(schema)
            return {
              DATABASE_URL: testDatabaseUrl,
              DATABASE_SCHEMA: schema,
              JWT_SECRET_KEY: randomBytes(32).toString("base64url"),
              STATIC_CODE_B64_KEY: randomBytes(32).toString("base64url"),
              QWIP_SEED_DEMO_POD: "true",
              QWIP_DATA_DIR: dataDir()
            }
          }
        }
      ])
]

describe.each(stores)("[$name] the service", ({ env }) => {
  it("runs the whole lifecycle once per test card, charging each session once", { timeout: 120_000 }, async () => {
    const clock = makeOffsetClock()
    const { api } = await serve(env(), { clock })
    expect((await api.get("/readyz")).status).toBe(200)
    const pods = await api.get("/api/pods")
    expect(pods.body.pods).toEqual([
      { id: POD, name: "Qwip Demo Pod", address: "1 Example Street, London", price_per_minute: 0.5, in_use: false }
    ])

    for (const { card, charge } of cards) {
      const { sessionToken } = await book(api, POD, card)
      const sessionId = sessionIdOf(sessionToken)
      expect((await api.get(`/api/pod?pod_id=${POD}`)).body.in_use).toBe(true)

      const ready = await eventually(
        () => api.get("/api/provisioning-status", { token: sessionToken }),
        (a) => a.body.status !== "pending",
        { timeoutMs: 30_000 }
      )
      expect(ready.body.status).toBe("ready")
      expect(ready.body.access_code_text).toMatch(/^\d{5}$/)
      expect(ready.body.access_code).toBe(Number.parseInt(ready.body.access_code_text, 10))

      const data = await api.get("/api/get-session-data", { token: sessionToken })
      expect(data.body.session_data.access_code_text).toBe(ready.body.access_code_text)
      expect(data.body.pod_data).toEqual({
        name: "Qwip Demo Pod",
        address: "1 Example Street, London",
        price_per_minute: 0.5
      })

      clock.advance("10 minutes") // £5 at 50p a minute
      const preview = await api.get(`/api/end-session-preview?session_id=${sessionId}`)
      expect(preview.body).toMatchObject({ is_complete: false, pod_name: "Qwip Demo Pod" })
      expect(preview.body.cost).toBeGreaterThanOrEqual(5)

      expect((await api.post("/api/end-session", { token: sessionToken })).body).toEqual({ status: "success" })
      const again = await api.post("/api/end-session", { token: sessionToken })
      expect(again.status).toBe(409)
      expect(again.body.error).toBe("session_already_ended")

      const charges = (await api.get("/sandbox/payments")).body.payments.filter(
        (p: { object: string; session_id: string | null }) =>
          p.object === "payment_intent" && p.session_id === sessionId
      )
      expect(charges).toHaveLength(1)
      expect(charges[0].status).toBe(charge)

      const after = await api.get("/api/get-session-data", { token: sessionToken })
      expect(after.body.session_data.end_dt).not.toBeNull()
      expect(after.body.session_data.access_code_text).toBeNull()
      expect((await api.get("/api/is-session-complete", { token: sessionToken })).body).toEqual({ is_complete: true })
      expect((await api.get(`/api/pod?pod_id=${POD}`)).body.in_use).toBe(false)
    }
  })
})
