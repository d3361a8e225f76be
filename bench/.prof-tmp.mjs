// Profile the service under load: seed a schema, start `qwip serve --cpu-prof`, drive it, stop.
import { execFileSync, spawn } from "node:child_process"
import autocannon from "autocannon"
import pg from "pg"

const root = "/work/wt-bench"
const url = "postgres://postgres@127.0.0.1:5432/test"
const schema = `qwip_prof_${process.pid}`
const path = process.argv[2] ?? "/api/pod?pod_id=bench-pod"
execFileSync(process.execPath, ["bench/seed.mjs", "postgres", url, schema, "1"], { cwd: root, stdio: "inherit" })
const port = 17500 + (process.pid % 100)
const child = spawn(
  process.execPath,
  ["--cpu-prof", "--cpu-prof-dir=/tmp/bench-prof/out", "packages/cli/bin/qwip.js", "serve"],
  {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: url,
      DATABASE_SCHEMA: schema,
      JWT_SECRET_KEY: "bench-secret-bench-secret-bench-secret-0123456789",
      STATIC_CODE_B64_KEY: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      RATE_LIMIT_GENERAL: "1000000000",
      RATE_LIMIT_SETUP_INTENT: "1000000000",
      LOG_LEVEL: process.env.PROF_LOG_LEVEL ?? "info"
    }
  }
)
const base = `http://127.0.0.1:${port}`
for (;;) {
  try {
    const r = await fetch(base + "/readyz")
    if (r.status === 200) break
  } catch {}
  await new Promise((r) => setTimeout(r, 200))
}
const headers = {}
if (path.includes("session")) {
  const post = (p, b, t) =>
    fetch(base + p, {
      method: "POST",
      headers: { "content-type": "application/json", ...(t ? { authorization: `Bearer ${t}` } : {}) },
      body: JSON.stringify(b ?? {})
    }).then((r) => r.json())
  const c = await post("/api/setup-intent", { pod_id: "bench-pod" })
  await post(`/sandbox/setup-intents/${c.client_secret.split("_secret_")[0]}/confirm`, {
    card_number: "4242424242424242",
    email: "b@b.co"
  })
  const f = await post("/api/booking/finalize", undefined, c.provisioning_jwt_token)
  headers.authorization = `Bearer ${f.session_jwt_token}`
  await new Promise((r) => setTimeout(r, 2000))
}
const r = await autocannon({ url: base + path, connections: 50, duration: Number(process.env.DUR ?? 10), headers })
console.log(path, r.requests.average, "req/s p50", r.latency.p50, "p99", r.latency.p99, "non2xx", r.non2xx)
child.kill("SIGTERM")
await new Promise((r) => child.once("exit", r))
const admin = new pg.Client({ connectionString: url })
await admin.connect()
await admin.query(`drop schema "${schema}" cascade`)
await admin.end()
