/**
 * Graceful shutdown under load: `qwip serve` on the embedded store gets SIGTERM while several
 * customers' bookings and ends are in flight and its worker is busy with their background work.
 * Requests are answered (by the app, or 503 once the app is detached) or refused, never left
 * hanging, and no answer is a server error but 503; the process exits 0 having handed back its
 * work leases; a restart on the same store finishes everything, and the invariants hold
 * (checked by SQL, counts printed).
 *
 * Known gap (reported): a request written to its connection just before the signal but not yet
 * read by the app gets its connection reset instead of an answer; see the note in the test.
 *
 * Requests are sent with `node:http` on a fresh connection each, so the test knows whether a
 * request was written to an open connection before the signal (it must be answered) or never
 * got one (refused: not accepted, and sent again after the restart).
 */
import { request } from "node:http"
import { afterAll, describe, expect, it } from "@effect/vitest"
import {
  addPods,
  allWorkDone,
  billable,
  CARD,
  checkInvariants,
  describeCounts,
  embeddedSql,
  ensureBuilt,
  type Instance,
  killAll,
  launch,
  note,
  removeTempDirs,
  sessionIdOf,
  tempDir,
  until
} from "./support/Crash.js"

const CUSTOMERS = 5

afterAll(async () => {
  await killAll()
  removeTempDirs()
})

interface Call {
  readonly what: string
  /** When the request was fully written to an open connection (performance.now()). */
  writtenAt?: number
  status?: number
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies the test reads
  body?: any
  error?: string
}

const calls: Array<Call> = []

/** One request on its own connection; never rejects. */
const call = (port: number, method: string, path: string, options: { token?: string; body?: unknown } = {}) =>
  new Promise<Call>((resolve) => {
    const record: Call = { what: `${method} ${path.split("?")[0]}` }
    calls.push(record)
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
    const req = request({
      host: "127.0.0.1",
      port,
      method,
      path,
      agent: false,
      headers: {
        ...(payload === undefined ? {} : { "content-type": "application/json" }),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` })
      },
      timeout: 30_000
    })
    req.on("finish", () => {
      record.writtenAt = performance.now()
    })
    req.on("response", (res) => {
      let text = ""
      res.on("data", (d: Buffer) => {
        text += d.toString()
      })
      res.on("end", () => {
        record.status = res.statusCode ?? 0
        try {
          record.body = text.length > 0 ? JSON.parse(text) : null
        } catch {
          record.body = text
        }
        resolve(record)
      })
      res.on("error", (e) => {
        record.error = e.message
        resolve(record)
      })
    })
    req.on("timeout", () => req.destroy(new Error("no answer within 30 s")))
    req.on("error", (e: NodeJS.ErrnoException) => {
      record.error = e.code ?? e.message
      resolve(record)
    })
    req.end(payload)
  })

describe("graceful shutdown under load", () => {
  it("SIGTERM with requests and work in flight: exits 0, hands back its leases, no request hangs, nothing is lost", {
    timeout: 240_000
  }, async () => {
    ensureBuilt()
    const dir = tempDir()
    const env = { QWIP_DATA_DIR: dir, SHUTDOWN_GRACE: "10 seconds" }
    const sql = embeddedSql(dir)
    let current: Instance = await launch("first", env)
    const first = current
    const pods = Array.from({ length: CUSTOMERS }, (_, i) => `shutdown-pod-${i + 1}`)
    await addPods(sql, pods, 60)

    let stopping = false
    let sigtermAt = Number.POSITIVE_INFINITY
    let endedCount = 0

    /** Sends until the service answers something other than 503 (refused or 503: not accepted, try again). */
    const send = async (method: string, path: string, options: { token?: string; body?: unknown } = {}) =>
      until(
        `${method} ${path}`,
        async () => {
          const r = await call(current.port, method, path, options)
          if (r.status === undefined || r.status === 503) return undefined
          if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`)
          return r.body
        },
        90_000
      )

    const customer = async (podId: string) => {
      const ended: Array<string> = []
      while (!stopping) {
        const setup = await send("POST", "/api/setup-intent", { body: { pod_id: podId } })
        const setupIntentId = String(setup.client_secret).split("_secret_")[0] as string
        await send("POST", `/sandbox/setup-intents/${setupIntentId}/confirm`, {
          body: { card_number: CARD, email: `${podId}@example.com` }
        })
        const token = (await send("POST", "/api/booking/finalize", { token: setup.provisioning_jwt_token }))
          .session_jwt_token as string
        const sessionId = sessionIdOf(token)
        await until(
          `${podId} door code ready`,
          async () => {
            const s = await send("GET", "/api/provisioning-status", { token })
            return s.status === "ready" ? true : undefined
          },
          90_000
        )
        await billable(sql, sessionId).catch(() => undefined) // the store may be between instances
        await send("POST", "/api/end-session", { token })
        ended.push(sessionId)
        endedCount++
      }
      return ended
    }

    const load = Promise.all(pods.map(customer))
    // Signal once some sessions have ended and several requests are on the wire.
    await until(
      "load under way",
      async () => {
        const inFlight = calls.filter(
          (c) => c.writtenAt !== undefined && c.status === undefined && c.error === undefined
        )
        return endedCount >= 3 && inFlight.length >= 2 ? true : undefined
      },
      120_000
    )
    sigtermAt = performance.now()
    first.signal("SIGTERM")
    stopping = true
    const exit = await first.exited
    expect(exit.code).toBe(0)

    current = await launch("second", env)
    // The stopped worker handed its leases back: nothing waits for a lease of the first process.
    const held = await sql(`select kind from background_work where status = 'pending' and leased_by like $1`, [
      `%-${first.pid}-%`
    ])
    expect(held).toEqual([])

    const ended = (await load).flat()
    await allWorkDone(sql)

    const beforeSignal = calls.filter((c) => c.writtenAt !== undefined && c.writtenAt < sigtermAt)
    const reset = beforeSignal.filter((c) => c.status === undefined)
    const during = calls.filter((c) => c.writtenAt !== undefined && c.writtenAt >= sigtermAt && c.status === 503)
    const refused = calls.filter((c) => c.status === undefined && c.error === "ECONNREFUSED")
    note(
      `shutdown: ${calls.length} requests; ${beforeSignal.length} written before SIGTERM, ${beforeSignal.length - reset.length} of them answered; ` +
        `${during.length} answered 503 during shutdown; ${refused.length} refused while stopped`
    )
    // Every request written before SIGTERM is answered (the server drains its open connections
    // before closing them), never reset.
    expect(
      reset.map((c) => `${c.what} (${c.error}, written ${(sigtermAt - (c.writtenAt ?? 0)).toFixed(0)} ms before)`)
    ).toEqual([])
    // Every later request was answered or refused: none hung, and no answer was a server error but 503.
    expect(
      calls.filter((c) => c.status === undefined && c.error !== "ECONNREFUSED" && c.error !== "ECONNRESET")
    ).toEqual([])
    expect(calls.filter((c) => c.status !== undefined && c.status >= 500 && c.status !== 503)).toEqual([])
    expect(beforeSignal.length - reset.length).toBeGreaterThan(0)

    const { violations, counts } = await checkInvariants(sql)
    note(describeCounts("graceful shutdown", counts))
    expect(violations).toEqual(Object.fromEntries(Object.keys(violations).map((k) => [k, []])))
    expect(counts).toMatchObject({
      sessions: ended.length,
      ended: ended.length,
      paid: ended.length,
      succeededPaymentIntents: ended.length,
      paymentIntents: ended.length,
      receipts: ended.length,
      podsInUse: 0
    })
    current.signal("SIGTERM")
    expect((await current.exited).code).toBe(0)
  })
})
