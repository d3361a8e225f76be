/**
 * The floor the service is measured against: the same two reads on the same SQL functions
 * with the same driver, and no framework (`bare`, plain `node:http`) or the framework a Node
 * team would otherwise pick (`fastify`). No validation, no middleware, no logging: what is
 * left is the database round trip, the token check and JSON.
 *
 *   PORT=… STORE=postgres DATABASE_URL=… DATABASE_SCHEMA=… JWT_SECRET_KEY=… node bench/floor.mjs bare|fastify
 *   PORT=… STORE=pglite PGLITE_DIR=<dataDir>/pglite JWT_SECRET_KEY=… node bench/floor.mjs bare|fastify
 */
import { createServer } from "node:http"
import { jwtVerify } from "jose"

const framework = process.argv[2] ?? "bare"
const env = process.env
const schema = env.DATABASE_SCHEMA ?? "public"
const key = new TextEncoder().encode(env.JWT_SECRET_KEY)

// The statements the service's store runs (Store.callStatement builds the same text).
const podStatus = `select "${schema}".qwip_pod_status(p_pod_id => $1::text) as result`
const sessionWithPod = `select "${schema}".qwip_session_with_pod(p_session_id => $1::text) as result`

let query
if (env.STORE === "pglite") {
  const { PGlite } = await import("@electric-sql/pglite")
  // Opened as the service opens it (Pglite.ts), so both pay the same for the database.
  const db = await PGlite.create(env.PGLITE_DIR, JSON.parse(env.PGLITE_OPTIONS ?? "{}"))
  query = async (text, params) => (await db.query(text, params)).rows[0]?.result ?? null
} else {
  const pg = (await import("pg")).default
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 10 })
  query = async (text, params) => (await pool.query(text, params)).rows[0]?.result ?? null
}

const pounds = (rate) => rate / 10_000

/** `{ status, body }` for a path, its query and its authorization header. */
const handle = async (path, params, authorization) => {
  if (path === "/api/pod") {
    const doc = await query(podStatus, [params.get("pod_id") ?? ""])
    if (doc === null) return { status: 404, body: { detail: "Pod not found" } }
    return {
      status: 200,
      body: { name: doc.pod.name, address: doc.pod.address, price_per_minute: pounds(doc.pod.rate), in_use: doc.inUse }
    }
  }
  if (path === "/api/get-session-data") {
    const bearer = /^Bearer (.+)$/.exec(authorization ?? "")?.[1]
    if (bearer === undefined) return { status: 403, body: { detail: "Not authenticated" } }
    let sessionId
    try {
      const { payload } = await jwtVerify(bearer, key, { algorithms: ["HS256"] })
      sessionId = payload.session.session_id
    } catch {
      return { status: 403, body: { detail: "Invalid token" } }
    }
    const doc = await query(sessionWithPod, [sessionId])
    if (doc === null) return { status: 404, body: { detail: "Session not found" } }
    return {
      status: 200,
      body: {
        session_data: { start_dt: doc.session.startedAt, end_dt: null, access_code: null },
        pod_data: { name: doc.pod.name, address: doc.pod.address, price_per_minute: pounds(doc.pod.rate) }
      }
    }
  }
  return { status: 404, body: { detail: "Not Found" } }
}

const port = Number(env.PORT ?? 8100)
if (framework === "fastify") {
  const { default: Fastify } = await import("fastify")
  const app = Fastify({ logger: false })
  const route = (path) =>
    app.get(path, async (request, reply) => {
      const q = request.url.indexOf("?")
      const { status, body } = await handle(
        path,
        new URLSearchParams(q === -1 ? "" : request.url.slice(q + 1)),
        request.headers.authorization
      )
      return reply.code(status).send(body)
    })
  route("/api/pod")
  route("/api/get-session-data")
  await app.listen({ port, host: "127.0.0.1" })
} else {
  createServer(async (req, res) => {
    try {
      const url = new URL(req.url, "http://x")
      const { status, body } = await handle(url.pathname, url.searchParams, req.headers.authorization)
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))
    } catch {
      res.writeHead(500).end()
    }
  }).listen(port, "127.0.0.1")
}
process.on("SIGTERM", () => process.exit(0))
console.log("ready")
