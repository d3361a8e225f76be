/**
 * Load, side by side with the floor (`npm run bench:load`): the real service
 * (`qwip serve`, a child process) against a bare `node:http` server and a Fastify server
 * running the same SQL functions with the same driver (bench/floor.mjs), on Postgres and on
 * embedded PGlite. Reads are driven by autocannon from this process, alternating
 * service / bare / fastify within each round so the machine's noise lands on all three; the
 * lifecycle is sessions per second through the whole booking flow. Also the service's idle and
 * peak RSS and the CLI's `--help` cold start. Writes bench/results.md.
 *
 *   npm run bench:load                                   # both stores, 3 rounds of 10 s
 *   node bench/run.mjs --stores postgres --rounds 5 --duration 10 --connections 50 --no-build
 *
 * Postgres: QWIP_BENCH_DATABASE_URL (else QWIP_TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/test); a fresh schema, dropped afterwards.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, release, tmpdir, totalmem } from "node:os"
import { isAbsolute, join } from "node:path"
import { parseArgs } from "node:util"
import autocannon from "autocannon"
import pg from "pg"

const { values: opts } = parseArgs({
  options: {
    stores: { type: "string", default: "postgres,pglite" },
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    "lifecycle-clients": { type: "string", default: "100" },
    "lifecycle-duration": { type: "string", default: "15" },
    "help-runs": { type: "string", default: "7" },
    "no-build": { type: "boolean", default: false },
    // For quick comparisons while optimising: fewer parts of the run.
    reads: { type: "string", default: "pod,session-data" },
    "skip-lifecycle": { type: "boolean", default: false },
    "skip-help": { type: "boolean", default: false },
    // e.g. --service-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof": Node options for the service's process only.
    "service-node-args": { type: "string", default: "" },
    out: { type: "string", default: "bench/results.md" }
  }
})
const ROUNDS = Number(opts.rounds)
const DURATION = Number(opts.duration)
const WARMUP = Number(opts.warmup)
const CONNECTIONS = Number(opts.connections)
const LIFE_CLIENTS = Number(opts["lifecycle-clients"])
const LIFE_DURATION = Number(opts["lifecycle-duration"])
const stores = opts.stores.split(",").filter((s) => s !== "")

const root = new URL("..", import.meta.url).pathname
const qwipBin = join(root, "packages/cli/bin/qwip.js")
const databaseUrl =
  process.env.QWIP_BENCH_DATABASE_URL ?? process.env.QWIP_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const JWT_SECRET = "bench-secret-bench-secret-bench-secret-0123456789"
const STATIC_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
const log = (...args) => console.error("[bench]", ...args)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---- processes -------------------------------------------------------------------------------

const children = new Set()
const stopAll = () => {
  for (const c of children) c.kill("SIGTERM")
}
process.on("exit", stopAll)
process.on("SIGINT", () => process.exit(130))

let nextPort = 18000 + (process.pid % 1000) * 10
const start = (name, args, env) => {
  const port = nextPort++
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port) },
    // The service's log lines are written as in production, to a sink that costs nothing more.
    stdio: ["ignore", "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000)
  })
  children.add(child)
  child.on("exit", () => children.delete(child))
  return { name, child, port, url: `http://127.0.0.1:${port}`, stderr: () => stderr }
}

const waitReady = async (server, path) => {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited: ${server.stderr()}`)
    try {
      const r = await fetch(server.url + path)
      await r.arrayBuffer()
      if (r.status < 500) return
    } catch {}
    await sleep(200)
  }
  throw new Error(`${server.name} did not start: ${server.stderr()}`)
}

const stop = async (server) => {
  if (server.child.exitCode !== null) return
  const exited = new Promise((r) => server.child.once("exit", r))
  server.child.kill("SIGTERM")
  await Promise.race([exited, sleep(20_000)])
}

/** VmRSS (now) and VmHWM (peak) of a process, in MB. */
const memory = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN)
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 }
}

/** User + system CPU seconds a process has used (/proc/<pid>/stat, clock ticks of 100 Hz). */
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

// ---- the API, as a client -------------------------------------------------------------------

const call = async (base, method, path, body, token) => {
  const r = await fetch(base + path, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
    },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await r.text()
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${text}`)
  return JSON.parse(text)
}

/** One whole session: book, confirm the card, finalize, wait for the code, end. */
const lifecycle = async (base, podId, steps) => {
  let t = performance.now()
  const step = (name) => {
    const now = performance.now()
    steps[name] ??= []
    steps[name].push(now - t)
    t = now
  }
  const checkout = await call(base, "POST", "/api/setup-intent", { pod_id: podId })
  const setupIntentId = checkout.client_secret.split("_secret_")[0]
  await call(base, "POST", `/sandbox/setup-intents/${setupIntentId}/confirm`, {
    card_number: "4242424242424242",
    email: "bench@example.com"
  })
  step("setup-intent + confirm")
  const { session_jwt_token: token } = await call(
    base,
    "POST",
    "/api/booking/finalize",
    undefined,
    checkout.provisioning_jwt_token
  )
  step("finalize")
  // As the booking page polls (public/booking.js): after a second, then 1.5 times longer each time.
  for (let delay = 1000; ; delay = Math.min(delay * 1.5, 5000)) {
    await sleep(delay)
    const status = await call(base, "GET", "/api/provisioning-status", undefined, token)
    if (status.status === "ready") break
    if (status.status === "failed") throw new Error("provisioning failed")
  }
  step("until ready")
  await call(base, "POST", "/api/end-session", undefined, token)
  step("end-session")
  return token
}

// ---- measuring -------------------------------------------------------------------------------

const cannon = (url, headers, duration) =>
  new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration, headers }, (err, result) =>
      err ? reject(err) : resolve(result)
    )
  })

const round = async (server, path, headers, duration) => {
  const before = cpuSeconds(server.child.pid)
  const r = await cannon(server.url + path, headers, duration)
  const cpu = cpuSeconds(server.child.pid) - before
  const ok = r["2xx"]
  if (r.non2xx > 0 || r.errors > 0) log(`${server.name} ${path}: ${r.non2xx} non-2xx, ${r.errors} errors`)
  return {
    rps: ok / duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    cpuPerReqUs: ok > 0 ? (cpu / ok) * 1e6 : Number.NaN,
    bad: r.non2xx + r.errors
  }
}

/** Each target in turn, the order rotated every round; per round, the service's ratios. */
const compare = async (targets, path, headers) => {
  for (const t of targets) await cannon(t.url + path, headers, WARMUP)
  const results = Object.fromEntries(targets.map((t) => [t.name, []]))
  for (let i = 0; i < ROUNDS; i++) {
    const order = targets.map((_, j) => targets[(i + j) % targets.length])
    for (const t of order) {
      const r = await round(t, path, headers, DURATION)
      results[t.name].push(r)
      log(`${path} round ${i + 1} ${t.name}: ${r.rps.toFixed(0)} req/s p50 ${r.p50} ms p99 ${r.p99} ms`)
    }
  }
  return results
}

const lifecycleRun = async (server, pods) => {
  const base = server.url
  const started = performance.now()
  const cpuBefore = cpuSeconds(server.child.pid)
  const deadline = Date.now() + LIFE_DURATION * 1000
  const durations = []
  const steps = {}
  let failures = 0
  let firstError
  await Promise.all(
    pods.map(async (podId) => {
      while (Date.now() < deadline) {
        const t0 = performance.now()
        try {
          await lifecycle(base, podId, steps)
          durations.push(performance.now() - t0)
        } catch (e) {
          failures++
          firstError ??= String(e)
          await sleep(100)
        }
      }
    })
  )
  // Sessions begun before the deadline finish after it: count the time until the last one ends.
  const elapsed = (performance.now() - started) / 1000
  const cpu = cpuSeconds(server.child.pid) - cpuBefore
  durations.sort((a, b) => a - b)
  const at = (q) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? Number.NaN
  return {
    sessions: durations.length,
    perSecond: durations.length / elapsed,
    cpuMsPerSession: (cpu / durations.length) * 1000,
    p50: at(0.5),
    p99: at(0.99),
    failures,
    firstError,
    steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, median(v)]))
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** Wall time and peak RSS of one command, by /usr/bin/time. */
const timed = (args) => {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, ...args], { cwd: root, encoding: "utf8" })
  const [seconds, maxKb] = r.stderr.trim().split("\n").at(-1).split(" ").map(Number)
  return { ms: seconds * 1000, mb: maxKb / 1024 }
}

/** `qwip --help` beside two floors in the same run: Node itself, and Node loading `effect`. */
const cliHelp = () => {
  const runs = { help: [], node: [], effect: [] }
  for (let i = 0; i < Number(opts["help-runs"]); i++) {
    runs.help.push(timed([qwipBin, "--help"]))
    runs.node.push(timed(["-e", "0"]))
    runs.effect.push(timed(["--input-type=module", "-e", "await import('effect')"]))
  }
  return runs
}

// ---- one store -------------------------------------------------------------------------------

const serviceEnv = {
  JWT_SECRET_KEY: JWT_SECRET,
  STATIC_CODE_B64_KEY: STATIC_KEY,
  HOST: "127.0.0.1",
  // Production logs every request at info; QWIP_BENCH_LOG_LEVEL=warning measures without them.
  LOG_LEVEL: process.env.QWIP_BENCH_LOG_LEVEL ?? "info",
  // Limits would turn a benchmark's traffic into 429s.
  RATE_LIMIT_GENERAL: "1000000000",
  RATE_LIMIT_SESSION_LOOKUP: "1000000000",
  RATE_LIMIT_SETUP_INTENT: "1000000000"
}

const benchStore = async (kind) => {
  const scratch = mkdtempSync(join(tmpdir(), "qwip-bench-"))
  const schema = `qwip_bench_${process.pid}`
  const admin = kind === "postgres" ? new pg.Client({ connectionString: databaseUrl }) : undefined
  const servers = []
  try {
    let env
    let floorEnv
    if (kind === "postgres") {
      await admin.connect()
      execFileSync(process.execPath, ["bench/seed.mjs", "postgres", databaseUrl, schema, String(LIFE_CLIENTS)], {
        cwd: root,
        stdio: "inherit"
      })
      env = { ...serviceEnv, DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema }
      floorEnv = { STORE: "postgres", DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema, JWT_SECRET_KEY: JWT_SECRET }
    } else {
      execFileSync(process.execPath, ["bench/seed.mjs", "pglite", join(scratch, "service"), String(LIFE_CLIENTS)], {
        cwd: root,
        stdio: "inherit"
      })
      env = { ...serviceEnv, QWIP_DATA_DIR: join(scratch, "service") }
      // The floors open PGlite with the service's settings (Pglite.ts), when this build has them.
      const { Store } = await import("@qwip/adapters")
      floorEnv = {
        STORE: "pglite",
        PGLITE_DIR: join(scratch, "floor", "pglite"),
        PGLITE_OPTIONS: JSON.stringify(Store.pgliteOptions ?? {}),
        JWT_SECRET_KEY: JWT_SECRET
      }
    }

    log(`${kind}: starting the service`)
    const t0 = performance.now()
    const serviceArgs = [...opts["service-node-args"].split(" ").filter((a) => a !== ""), qwipBin, "serve"]
    let service = start("service", serviceArgs, env)
    await waitReady(service, "/readyz")
    const startMs = performance.now() - t0
    await sleep(3000)
    const idle = memory(service.child.pid)
    log(`${kind}: ready in ${startMs.toFixed(0)} ms, idle RSS ${idle.rss.toFixed(0)} MB`)

    // A real session, booked through the API, for the token read.
    const checkout = await call(service.url, "POST", "/api/setup-intent", { pod_id: "bench-pod" })
    await call(service.url, "POST", `/sandbox/setup-intents/${checkout.client_secret.split("_secret_")[0]}/confirm`, {
      card_number: "4242424242424242",
      email: "bench@example.com"
    })
    const { session_jwt_token: token } = await call(
      service.url,
      "POST",
      "/api/booking/finalize",
      undefined,
      checkout.provisioning_jwt_token
    )

    if (kind === "pglite") {
      // One process per PGlite directory: the floors read a copy taken with the service stopped.
      await stop(service)
      cpSync(join(scratch, "service"), join(scratch, "floor"), { recursive: true })
      rmSync(join(scratch, "floor", "pglite.lock"), { force: true })
      service = start("service", serviceArgs, env)
      await waitReady(service, "/readyz")
    }
    servers.push(service)
    const bare = start("bare", ["bench/floor.mjs", "bare"], floorEnv)
    const fastify = start("fastify", ["bench/floor.mjs", "fastify"], floorEnv)
    servers.push(bare, fastify)
    await Promise.all([waitReady(bare, "/api/pod?pod_id=bench-pod"), waitReady(fastify, "/api/pod?pod_id=bench-pod")])
    const targets = [service, bare, fastify]

    const wanted = opts.reads.split(",")
    const reads = {}
    if (wanted.includes("pod")) reads["GET /api/pod"] = await compare(targets, "/api/pod?pod_id=bench-pod", {})
    if (wanted.includes("session-data")) {
      reads["GET /api/get-session-data"] = await compare(targets, "/api/get-session-data", {
        authorization: `Bearer ${token}`
      })
    }
    const afterReads = memory(service.child.pid)

    log(`${kind}: lifecycle, ${LIFE_CLIENTS} clients for ${LIFE_DURATION} s`)
    const pods = Array.from({ length: LIFE_CLIENTS }, (_, i) => `life-${i}`)
    const life = opts["skip-lifecycle"]
      ? { sessions: 0, perSecond: Number.NaN, p50: Number.NaN, p99: Number.NaN, failures: 0 }
      : await lifecycleRun(service, pods)
    log(`${kind}: lifecycle ${life.perSecond.toFixed(1)} sessions/s (${life.failures} failures)`)
    const peak = memory(service.child.pid)
    return { kind, startMs, idle, afterReads, peak, reads, life }
  } finally {
    for (const s of servers) await stop(s)
    rmSync(scratch, { recursive: true, force: true })
    if (admin !== undefined) {
      await admin.query(`drop schema if exists "${schema}" cascade`)
      await admin.end()
    }
  }
}

// ---- the report ------------------------------------------------------------------------------

const f0 = (n) => (Number.isFinite(n) ? n.toFixed(0) : "-")
const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : "-")
const range = (xs, f = f0) => {
  const s = xs.filter(Number.isFinite)
  return s.length === 0 ? "-" : `${f(median(s))} (${f(Math.min(...s))}–${f(Math.max(...s))})`
}
const pct = (n) => `${(n * 100).toFixed(0)}%`
const pctRange = (xs) => `${pct(median(xs))} (${pct(Math.min(...xs))}–${pct(Math.max(...xs))})`

const machine = () => {
  let pgVersion = "-"
  try {
    pgVersion = execFileSync("psql", [databaseUrl, "-Atc", "show server_version"], { encoding: "utf8" }).trim()
  } catch {}
  return [
    `- CPU: ${cpus()[0]?.model ?? "?"}, ${cpus().length} cores (shared with other work: numbers are noisy, compare ratios)`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Linux ${release()}; Node ${process.version}; PostgreSQL ${pgVersion} on 127.0.0.1`,
    `- Load: autocannon in the runner's process, ${CONNECTIONS} connections, ${DURATION} s per round after ${WARMUP} s of warm-up, ${ROUNDS} rounds, service / bare / fastify alternating (order rotated each round)`
  ].join("\n")
}

const report = (results, help) => {
  const lines = [
    "# Load, side by side with the floor",
    "",
    `Written by \`npm run bench:load\` (bench/run.mjs) on ${new Date().toISOString()}.`,
    "",
    "## Machine",
    "",
    machine(),
    "",
    "Figures are the median of the rounds with the range in brackets. Ratios are taken within",
    "each round (service against the floor measured just before or after it), then summarised.",
    "CPU per request is the server process's user + system time over its answered requests.",
    ""
  ]
  for (const r of results) {
    lines.push(`## ${r.kind === "postgres" ? "PostgreSQL" : "Embedded PGlite"}`, "")
    lines.push("| Read | Server | req/s | p50 ms | p99 ms | CPU µs/req | service ÷ server (req/s) |")
    lines.push("| --- | --- | --- | --- | --- | --- | --- |")
    for (const [read, byServer] of Object.entries(r.reads)) {
      for (const [name, rounds] of Object.entries(byServer)) {
        const ratio =
          name === "service"
            ? ""
            : pctRange(rounds.map((x, i) => byServer.service[i].rps / x.rps).filter(Number.isFinite))
        lines.push(
          `| ${read} | ${name} | ${range(rounds.map((x) => x.rps))} | ${range(rounds.map((x) => x.p50))} | ${range(rounds.map((x) => x.p99))} | ${range(rounds.map((x) => x.cpuPerReqUs))} | ${ratio} |`
        )
      }
    }
    lines.push(
      "",
      `Lifecycle (setup-intent → sandbox confirm → finalize → provisioning-status until ready → end-session), ${LIFE_CLIENTS} clients on distinct pods starting sessions for ${LIFE_DURATION} s (counted until the last one ended): **${f1(r.life.perSecond)} sessions/s** (${r.life.sessions} sessions; each took p50 ${f0(r.life.p50)} ms, p99 ${f0(r.life.p99)} ms; ${r.life.failures} failed${r.life.firstError ? `, first: ${r.life.firstError.slice(0, 200)}` : ""}).`,
      "",
      `Service CPU per session: ${f1(r.life.cpuMsPerSession)} ms (user + system, all its requests and background work), so the service alone could carry at most ${f0(2000 / r.life.cpuMsPerSession)} sessions/s on 2 cores (Postgres and the clients need CPU too). Median time of each step: ${Object.entries(
        r.life.steps ?? {}
      )
        .map(([k, v]) => `${k} ${f0(v)} ms`)
        .join(", ")}.`,
      "",
      `Service memory: idle RSS ${f0(r.idle.rss)} MB (3 s after /readyz, before any load); after the reads ${f0(r.afterReads.rss)} MB; peak (VmHWM, start and lifecycle included) ${f0(r.peak.peak)} MB. Start to /readyz: ${f0(r.startMs)} ms.`,
      ""
    )
  }
  lines.push(
    "## CLI",
    "",
    "Cold starts, alternating, wall time and peak RSS (median, range):",
    "",
    "| Command | ms | MB |",
    "| --- | --- | --- |",
    ...[
      ["`qwip --help`", help.help],
      ["`node -e 0` (Node alone)", help.node],
      ["`node -e \"await import('effect')\"` (Effect's index)", help.effect]
    ].map(([name, runs]) => `| ${name} | ${range(runs.map((r) => r.ms))} | ${range(runs.map((r) => r.mb))} |`),
    "",
    "## Commands",
    "",
    "```sh",
    "npm run bench:load                       # builds, then both stores; writes bench/results.md",
    `node bench/run.mjs --no-build --stores ${stores.join(",")} --rounds ${ROUNDS} --duration ${DURATION} --connections ${CONNECTIONS} --lifecycle-clients ${LIFE_CLIENTS} --lifecycle-duration ${LIFE_DURATION}`,
    "```",
    ""
  )
  return lines.join("\n")
}

if (!opts["no-build"]) execFileSync("npx", ["tsc", "-b"], { cwd: root, stdio: "inherit" })
const help = opts["skip-help"] ? { help: [], node: [], effect: [] } : cliHelp()
log(`qwip --help: median ${f0(median(help.help.map((h) => h.ms)))} ms`)
const results = []
for (const kind of stores) results.push(await benchStore(kind))
const outPath = isAbsolute(opts.out) ? opts.out : join(root, opts.out)
writeFileSync(outPath, report(results, help))
// In the repository's format (Biome pads tables), so `npm run lint` passes on a fresh result.
spawnSync("npx", ["biome", "format", "--write", outPath], { cwd: root, stdio: "ignore" })
log(`wrote ${opts.out}`)
process.exit(0)
