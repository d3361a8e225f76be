/**
 * The built `qwip` as a subprocess, where what matters is the process: help without colour when
 * piped, exit codes (0, 1 and 2) with one line on stderr, and the embedded store served.
 *
 * `qwip serve` runs the HTTP service on the embedded store and serves that store to the CLI:
 * while it runs, CLI commands reach the same database through it (and the service keeps
 * answering); once it stops, the CLI opens the directory itself. A process that holds the
 * directory without serving it is reported in one line.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { latestVersion } from "@qwip/adapters/store/Migrator"
import { freePort } from "@qwip/test-support/Network"
import { Effect } from "effect"
import { ensureBuilt, qwipProcess as qwip, qwipProcessJson as qwipJson, start, stop } from "./support/Cli.js"

beforeAll(ensureBuilt, 300_000)

// The schema version the code migrates to: the newest migration file.
const latest = await Effect.runPromise(Effect.orDie(latestVersion))

const dirs: Array<string> = []
const children: Array<ReturnType<typeof start>> = []
afterAll(async () => {
  for (const c of children) stop(c.child, "SIGKILL")
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "qwip-served-cli-"))
  dirs.push(dir)
  return dir
}

const until = async (check: () => Promise<boolean> | boolean, ms = 90_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not ready after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const api = (port: number) => {
  const base = `http://127.0.0.1:${port}`
  const send = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await fetch(`${base}${path}`, {
      method,
      signal: AbortSignal.timeout(20_000),
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, body: (text.length > 0 ? JSON.parse(text) : null) as Record<string, unknown> }
  }
  return { get: (path: string) => send("GET", path), post: send.bind(null, "POST") }
}

const oneLine = (r: { code: number | null; stderr: string }, code: number, fragment: string) => {
  expect(r.code, r.stderr).toBe(code)
  expect(r.stderr.trim().split("\n").length).toBe(1)
  expect(r.stderr).toContain(fragment)
}

/** A failure reported on one line of stderr. */
const expectOneLine = (r: { code: number | null; stderr: string }, code: number, ...fragments: Array<string>) => {
  expect(r.code, r.stderr).toBe(code)
  const lines = r.stderr.trim().split("\n")
  expect(lines.length, r.stderr).toBe(1)
  for (const f of fragments) expect(lines[0]).toContain(f)
}

describe("qwip as a process: help and usage (no store)", { timeout: 60_000 }, () => {
  it("shows help without colour when piped, and exits 2 on usage errors with one line", async () => {
    const env = { QWIP_DATA_DIR: "/nonexistent/qwip" }
    const help = await qwip(["--help"], env)
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("sessions end")
    expect(help.stdout).not.toContain("\u001b[")
    expectOneLine(await qwip(["sessions", "end", "not-a-uuid", "--yes"], env), 2, "not a session id")
    expect((await qwip(["frobnicate"], env)).code).toBe(2)
  })
})

describe("qwip serve: the embedded store served to the CLI", { timeout: 240_000 }, () => {
  it("CLI commands reach the running service's store; once it stops they open it themselves", async () => {
    const dir = tempDir()
    const port = await freePort()
    const env = { QWIP_DATA_DIR: dir, PORT: String(port), HOST: "127.0.0.1", WORKER_INTERVAL: "200 millis" }
    const t0 = Date.now()
    const log = (m: string) =>
      process.env.QWIP_TEST_LOGS === "1" && console.log(((Date.now() - t0) / 1000).toFixed(1), m)
    const service = start(["serve"], env)
    children.push(service)
    const http = api(port)
    // Poll until the service answers. A refused connection means it is not listening yet; a
    // request it accepted must be answered (a hang fails the test through the fetch timeout).
    await until(async () => {
      if (service.child.exitCode !== null) throw new Error(`serve exited: ${service.output().stderr}`)
      if (!existsSync(join(dir, "pglite.port"))) return false
      const answer = await http.get("/api/pod?pod_id=demo-pod").catch((e: Error) => {
        if (e.name === "TimeoutError") throw new Error(`the service accepted a request and did not answer: ${e}`)
        return null
      })
      return answer?.status === 200
    }).catch((e) => {
      throw new Error(`${e}; service output: ${JSON.stringify(service.output())}`)
    })

    log("serving")
    oneLine(await qwip(["serve"], env), 1, "already serves")
    log("second serve refused")
    const status = await qwipJson<{ store: string; databaseVersion: number }>(["db", "status"], env)
    expect(status.store).toContain("through the running service")
    expect(status.databaseVersion).toBe(latest)

    // The service books the demo pod; the CLI sees the session and ends it.
    const setup = await http.post("/api/setup-intent", { pod_id: "demo-pod" })
    expect(setup.status).toBe(200)
    const setupIntentId = String(setup.body.client_secret).split("_secret_")[0]
    const confirmed = await http.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, {
      card_number: "4242424242424242",
      email: "ada@example.com"
    })
    expect(confirmed.status).toBe(200)
    const finalized = await http.post("/api/booking/finalize", undefined, String(setup.body.provisioning_jwt_token))
    expect(finalized.status).toBe(200)
    log("booked")
    const live = await qwipJson<ReadonlyArray<{ id: string; podId: string }>>(["sessions", "list", "--live"], env)
    expect(live.map((s) => s.podId)).toEqual(["demo-pod"])
    const sessionId = live[0]?.id ?? ""
    oneLine(await qwip(["pods", "release", "demo-pod", "--yes"], env), 1, "holds it")

    // While the CLI changes the rate and ends the session, the service keeps answering.
    const cli = Promise.all([
      qwip(["pods", "set-rate", "demo-pod", "0.8", "--yes"], env),
      qwip(["sessions", "end", sessionId, "--waive", "--reason", "test", "--yes"], env)
    ])
    const answers = await Promise.all(Array.from({ length: 30 }, () => http.get("/api/pod?pod_id=demo-pod")))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    log("answers")
    const [rated, ended] = await cli
    log("cli done")
    expect(rated.code, rated.stderr).toBe(0)
    expect(ended.code, ended.stderr).toBe(0)
    expect(ended.stdout).toContain("charge waived (test)")
    const pod = await http.get("/api/pod?pod_id=demo-pod")
    expect(pod.body).toMatchObject({ price_per_minute: 0.8, in_use: false })

    service.child.kill("SIGTERM")
    const stopped = await service.done
    expect(stopped.code).toBe(0)
    expect(existsSync(join(dir, "pglite.port"))).toBe(false)
    const after = await qwipJson<ReadonlyArray<{ id: string; state: string }>>(["sessions", "list"], env)
    expect(after.map((s) => [s.id, s.state])).toEqual([[sessionId, "Ended"]])
  })

  it("a process that holds the store without serving it is reported in one line", async () => {
    const dir = tempDir()
    // This test's own process stands in for a service started without the embedded server.
    writeFileSync(join(dir, "pglite.lock"), `${process.pid}\n`)
    oneLine(await qwip(["pods", "list"], { QWIP_DATA_DIR: dir }), 1, `holds ${dir} and does not serve it to the CLI`)
  })
})
