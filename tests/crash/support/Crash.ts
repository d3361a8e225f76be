/**
 * Crash tests' tools: the real service as a child process (`qwip serve`, built by `tsc -b`),
 * killed and restarted on the same store; raw SQL on that store (the embedded one through the
 * service's own wire server, `<QWIP_DATA_DIR>/pglite.port`; Postgres directly, on the test's
 * schema); and the invariants every crash must leave intact, checked by SQL.
 *
 * Two delays are policy constants the service does not let a test shorten: the lease a worker
 * holds on claimed work (2 minutes, `Policy.workLease`) and the end's safety net (2 minutes,
 * `Policy.closeSafetyNet`, run by core's `SafetyNetEnd`). The tests drive time forward for them in the
 * store instead: `expireLeasesOf` ends the leases a killed process held (as if they had run out)
 * and `makeSafetyNetsDue` makes pending safety-net work due now (as if its delay had passed).
 */
import { randomBytes } from "node:crypto"
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { StaticCodeTokens } from "@qwip/adapters"
import { type Answer, type Client, client } from "@qwip/test-support/Client"
import { freePort } from "@qwip/test-support/Network"
import { deliverStripeEvent, stripeEvent } from "@qwip/test-support/StripeEvents"
import pg from "pg"
import { ensureBuilt, start } from "../../cli/support/Cli.js"

export { ensureBuilt }

export const testDatabaseUrl = process.env.QWIP_TEST_DATABASE_URL?.trim() || undefined
export const WEBHOOK_SECRET = "whsec_crash_tests_secret"
export const CARD = "4242424242424242"

/** Prints what a test checked (`QWIP_TEST_LOGS=1` adds progress lines). */
export const note = (message: string) => console.log(`[crash] ${message}`)
export const trace = (message: string) => {
  if (process.env.QWIP_TEST_LOGS === "1") console.log(`[crash] ${message}`)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `check` until it returns a value (not undefined), or fails after `ms` naming `what`. */
export const until = async <A>(what: string, check: () => Promise<A | undefined>, ms = 30_000): Promise<A> => {
  const deadline = Date.now() + ms
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (e) {
      lastError = e
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${lastError ? ` (${lastError})` : ""}`)
    await sleep(100)
  }
}

export { freePort }

// ---- temporary directories -----------------------------------------------------------------

const dirs: Array<string> = []
export const tempDir = (prefix = "qwip-crash-") => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}
/** A copy of `dir` (a stopped service's data directory). */
export const copyDir = (dir: string) => {
  const copy = tempDir()
  cpSync(dir, copy, { recursive: true })
  return copy
}
export const removeTempDirs = () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

// ---- the service as a child process --------------------------------------------------------

/** Settings every instance gets: quick worker, generous rate limits, the tests' webhook secret. */
export const baseEnv = (): Record<string, string> => ({
  HOST: "127.0.0.1",
  WORKER_INTERVAL: "100 millis",
  SHUTDOWN_GRACE: "5 seconds",
  RATE_LIMIT_SETUP_INTENT: "10000",
  RATE_LIMIT_SESSION_LOOKUP: "10000",
  RATE_LIMIT_GENERAL: "100000",
  QWIP_SANDBOX_WEBHOOK_SECRET: WEBHOOK_SECRET,
  LOG_LEVEL: process.env.QWIP_TEST_LOGS === "1" ? "DEBUG" : "WARNING"
})

export interface Instance {
  readonly name: string
  readonly pid: number
  readonly port: number
  readonly api: Client
  /** Resolves with the exit code and signal once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly output: () => { stdout: string; stderr: string }
  readonly signal: (s: NodeJS.Signals) => void
  readonly alive: () => boolean
}

const running = new Set<Instance>()
/** SIGKILLs whatever a test left running (afterEach/afterAll). */
export const killAll = async () => {
  for (const instance of [...running]) {
    instance.signal("SIGKILL")
    await instance.exited
  }
}

/**
 * Starts `qwip serve` with `env` on a free port and waits until `/readyz` answers 200.
 * `crashAt` arms `QWIP_TEST_CRASH_AT` (the process kills itself at that point).
 */
export const launch = async (
  name: string,
  env: Readonly<Record<string, string>>,
  options: { readonly crashAt?: string } = {}
): Promise<Instance> => {
  const port = await freePort()
  const proc = start(["serve"], {
    ...baseEnv(),
    ...env,
    PORT: String(port),
    ...(options.crashAt === undefined ? {} : { QWIP_TEST_CRASH_AT: options.crashAt })
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      resolve({ code: proc.child.exitCode, signal: proc.child.signalCode })
    }
    proc.child.once("exit", (code, signal) => resolve({ code, signal }))
  })
  const instance: Instance = {
    name,
    pid: proc.child.pid ?? -1,
    port,
    api: client(`http://127.0.0.1:${port}`),
    exited,
    output: proc.output,
    signal: (s) => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(s)
    },
    alive: () => proc.child.exitCode === null && proc.child.signalCode === null
  }
  running.add(instance)
  void exited.then(() => running.delete(instance))
  await until(
    `${name} ready`,
    async () => {
      if (!instance.alive()) throw new Error(`${name} exited: ${proc.output().stderr.slice(-2000)}`)
      const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(
        () => undefined
      )
      return r?.status === 200 ? true : undefined
    },
    90_000
  )
  trace(`${name} ready (pid ${instance.pid}, port ${port}${options.crashAt ? `, crash at ${options.crashAt}` : ""})`)
  return instance
}

/**
 * Waits for `instance` to die at its armed crash point. One still running after `ms` is killed
 * and fails the test: it never reached the point.
 */
export const killedBy = async (instance: Instance, ms = 30_000) => {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms)
  })
  const exit = await Promise.race([instance.exited, late]).finally(() => clearTimeout(timer))
  if (exit === "late") {
    instance.signal("SIGKILL")
    await instance.exited
    throw new Error(`${instance.name} did not reach its crash point within ${ms} ms`)
  }
  return exit
}

// ---- SQL on the store ------------------------------------------------------------------------

export type Sql = <A = Record<string, unknown>>(text: string, params?: ReadonlyArray<unknown>) => Promise<Array<A>>

/** SQL through the running service's embedded-store server (read afresh: it changes per start). */
export const embeddedSql =
  (dataDir: string): Sql =>
  async (text, params) => {
    const file = join(dataDir, "pglite.port")
    if (!existsSync(file)) throw new Error(`no service serves ${dataDir}`)
    const endpoint = JSON.parse(readFileSync(file, "utf8")) as { host: string; port: number; password: string }
    const c = new pg.Client({
      host: endpoint.host,
      port: endpoint.port,
      user: "postgres",
      password: endpoint.password,
      database: "postgres"
    })
    // A connection the dying service drops rejects the query; it must not also be an unhandled event.
    c.on("error", () => undefined)
    await c.connect()
    try {
      return (await c.query(text, params === undefined ? [] : [...params])).rows
    } finally {
      await c.end()
    }
  }

/** A fresh schema on the test database with the settings every instance on it shares. */
export const postgresStore = async () => {
  const schema = `qwip_crash_${randomBytes(5).toString("hex")}`
  const pool = new pg.Pool({ connectionString: testDatabaseUrl, max: 3, options: `-c search_path=${schema}` })
  pool.on("error", () => undefined)
  await pool.query(`create schema ${schema}`)
  const sql: Sql = async (text, params) => (await pool.query(text, params === undefined ? [] : [...params])).rows
  return {
    schema,
    sql,
    env: {
      DATABASE_URL: testDatabaseUrl ?? "",
      DATABASE_SCHEMA: schema,
      JWT_SECRET_KEY: randomBytes(48).toString("base64url"),
      STATIC_CODE_B64_KEY: StaticCodeTokens.generateKey()
    },
    drop: async () => {
      await pool.query(`drop schema if exists ${schema} cascade`)
      await pool.end()
    }
  }
}

/** Adds static pods `ids` with `rate` pounds a minute and a few codes each. */
export const addPods = async (sql: Sql, ids: ReadonlyArray<string>, rate: number) => {
  for (const id of ids) {
    await sql(
      `insert into pods (id, name, address, price, in_use, access_mode) values ($1, $1, '1 Crash Street', $2, false, 'static')`,
      [id, rate]
    )
    for (let i = 0; i < 5; i++) {
      await sql(`insert into pod_static_codes (pod_id, code) values ($1, $2) on conflict do nothing`, [
        id,
        String(10_000 + Math.floor(Math.random() * 89_999))
      ])
    }
  }
}

/** Ends the leases a killed process held, as if they had run out (`Policy.workLease` is 2 minutes). */
export const expireLeasesOf = async (sql: Sql, pid: number) => {
  const rows = await sql<{ n: number }>(
    `with expired as (
       update background_work set lease_until = now() - interval '1 second'
       where status = 'pending' and leased_by like $1 returning 1
     ) select count(*)::int as n from expired`,
    [`${hostname()}-${pid}-%`]
  )
  return rows[0]?.n ?? 0
}

/** Makes pending safety-net work due now, as if its delay (2 minutes, 1 for settling) had passed. */
export const makeSafetyNetsDue = async (sql: Sql) => {
  const rows = await sql<{ n: number }>(
    `with due as (
       update background_work set run_at = now() - interval '1 second'
       where status = 'pending' and kind in ('close-session', 'settle-charge') and run_at > now() returning 1
     ) select count(*)::int as n from due`
  )
  return rows[0]?.n ?? 0
}

/** Work items not finished (pending or parked). */
export const unfinishedWork = (sql: Sql) =>
  sql<{ kind: string; status: string; session_id: string; leased_by: string | null; last_error: string | null }>(
    `select kind, status, session_id::text, leased_by, last_error from background_work where status <> 'done' order by created_at`
  )

/** Waits until every background work item is done (after `makeSafetyNetsDue`). */
export const allWorkDone = (sql: Sql, ms = 30_000) =>
  until(
    "all background work done",
    async () => {
      await makeSafetyNetsDue(sql)
      const left = await unfinishedWork(sql)
      if (left.some((w) => w.status === "parked")) throw new Error(`parked work: ${JSON.stringify(left)}`)
      return left.length === 0 ? true : undefined
    },
    ms
  )

export const sessionState = async (sql: Sql, sessionId: string) =>
  (await sql<{ state: string }>(`select state from pod_sessions where id = $1`, [sessionId]))[0]?.state

/** Waits until the session has two billable seconds (from its door code being ready): 30p at least. */
export const billable = (sql: Sql, sessionId: string) =>
  until("two billable seconds", async () => {
    // Billing starts when the door code was ready, not at booking.
    const rows = await sql<{ age: number }>(
      `select extract(epoch from now() - max(ready_at))::float as age from session_provisionings where session_id = $1`,
      [sessionId]
    )
    return (rows[0]?.age ?? 0) >= 2 ? true : undefined
  })

// ---- the invariants ------------------------------------------------------------------------

export interface Counts {
  readonly sessions: number
  readonly ended: number
  readonly provisioningFailed: number
  readonly paid: number
  readonly succeededPaymentIntents: number
  readonly paymentIntents: number
  readonly charges: number
  readonly outbox: number
  readonly receipts: number
  readonly accessEmails: number
  readonly workDone: number
  readonly webhookEvents: number
  readonly podsInUse: number
}

/**
 * Every invariant a crash must leave intact, as lists of what breaks it (each must be empty),
 * and the counts behind them.
 */
export const checkInvariants = async (sql: Sql) => {
  const one = async (text: string) => (await sql<{ n: number }>(`select (${text})::int as n`))[0]?.n ?? -1
  const violations = {
    // Every session in a final state.
    notFinal: await sql(
      `select id, state from pod_sessions where state is null or state not in ('Ended', 'ProvisioningFailed')`
    ),
    // No pod held without a live session (nor a live session on a free pod).
    podHeldWithoutSession: await sql(
      `select id from pods p where in_use and not exists (select 1 from pod_sessions s where s.pod_id = p.id and s.live)`
    ),
    liveSessionOnFreePod: await sql(
      `select s.id from pod_sessions s join pods p on p.id = s.pod_id where s.live and not p.in_use`
    ),
    // At most one succeeded PaymentIntent per session.
    chargedTwice: await sql(
      `select data->>'session_id' as session_id, count(*)::int as n from sandbox_payments
       where object = 'payment_intent' and status = 'succeeded' group by 1 having count(*) > 1`
    ),
    // Every succeeded PaymentIntent recorded on its session, same amount.
    chargedNotRecorded: await sql(
      `select p.id, p.data->>'session_id' as session_id, p.amount_pence from sandbox_payments p
       where p.object = 'payment_intent' and p.status = 'succeeded' and not exists (
         select 1 from session_charges c join pod_sessions s on s.id = c.session_id
         where c.session_id::text = p.data->>'session_id' and c.payment_intent_id = p.id
           and c.status = 'succeeded' and c.amount_pence = p.amount_pence
           and s.state_data #>> '{outcome,paymentIntentId}' = p.id
           and (s.state_data #>> '{outcome,amountPence}')::int = p.amount_pence)`
    ),
    // Every charge recorded as paid is a succeeded PaymentIntent of that amount.
    recordedNotCharged: await sql(
      `select c.session_id from session_charges c where c.status = 'succeeded' and not exists (
         select 1 from sandbox_payments p where p.id = c.payment_intent_id and p.status = 'succeeded'
           and p.amount_pence = c.amount_pence and p.data->>'session_id' = c.session_id::text)`
    ),
    // An ended session's outcome is settled (nothing left unknown).
    outcomeUnsettled: await sql(
      `select id, state_data #>> '{outcome,_tag}' as outcome from pod_sessions
       where state = 'Ended' and state_data #>> '{outcome,_tag}' not in ('Paid', 'NotBilled', 'Waived', 'PaymentFailed')`
    ),
    // Each message key once in the outbox; every email queued was sent.
    outboxDuplicates: await sql(`select message_key from email_outbox group by 1 having count(*) > 1`),
    mailQueuedNotSent: await sql(
      `select key from background_work w where w.kind = 'send-mail' and not exists (
         select 1 from email_outbox o where 'send-mail:' || o.message_key = w.key)`
    ),
    endedWithoutReceipt: await sql(
      `select id from pod_sessions s where state = 'Ended' and state_data #>> '{outcome,_tag}' in ('Paid', 'NotBilled', 'Waived')
         and not exists (select 1 from email_outbox o where o.message_key = 'Receipt:' || s.id::text)`
    ),
    workNotDone: await unfinishedWork(sql),
    webhookNotProcessed: await sql(`select event_id, status from stripe_webhook_events where status <> 'processed'`)
  }
  const counts: Counts = {
    sessions: await one(`select count(*) from pod_sessions`),
    ended: await one(`select count(*) from pod_sessions where state = 'Ended'`),
    provisioningFailed: await one(`select count(*) from pod_sessions where state = 'ProvisioningFailed'`),
    paid: await one(`select count(*) from session_charges where status = 'succeeded'`),
    succeededPaymentIntents: await one(
      `select count(*) from sandbox_payments where object = 'payment_intent' and status = 'succeeded'`
    ),
    paymentIntents: await one(`select count(*) from sandbox_payments where object = 'payment_intent'`),
    charges: await one(`select count(*) from session_charges`),
    outbox: await one(`select count(*) from email_outbox`),
    receipts: await one(`select count(*) from email_outbox where kind = 'Receipt'`),
    accessEmails: await one(`select count(*) from email_outbox where kind = 'AccessReady'`),
    workDone: await one(`select count(*) from background_work where status = 'done'`),
    webhookEvents: await one(`select count(*) from stripe_webhook_events`),
    podsInUse: await one(`select count(*) from pods where in_use`)
  }
  return { violations, counts }
}

export const describeCounts = (label: string, c: Counts) =>
  `${label}: ${c.sessions} sessions (${c.ended} ended, ${c.provisioningFailed} provisioning failed), ` +
  `${c.paid} paid / ${c.succeededPaymentIntents} succeeded PaymentIntents (${c.paymentIntents} in all), ` +
  `${c.charges} charge rows, ${c.outbox} emails (${c.receipts} receipts, ${c.accessEmails} door codes), ` +
  `${c.workDone} work items done, ${c.webhookEvents} webhook events, ${c.podsInUse} pods in use`

// ---- the customer's side ---------------------------------------------------------------------

const ok = (what: string, a: Answer) => {
  if (a.status !== 200) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`)
  return a
}

/** Starts a checkout and saves the test card: what finalize (or the webhook) needs. */
export const checkout = async (api: Client, podId: string) => {
  const setup = ok("setup-intent", await api.post("/api/setup-intent", { body: { pod_id: podId } }))
  const setupIntentId = String(setup.body.client_secret).split("_secret_")[0] as string
  ok(
    "confirm",
    await api.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, {
      body: { card_number: CARD, email: "ada@example.com" }
    })
  )
  return { setupIntentId, provisioningToken: setup.body.provisioning_jwt_token as string }
}

export const finalize = async (api: Client, provisioningToken: string) =>
  ok("finalize", await api.post("/api/booking/finalize", { token: provisioningToken })).body.session_jwt_token as string

export const sessionIdOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()).session.session_id

/** Waits until the session's door code is ready. */
export const ready = (api: () => Client, sessionToken: string, ms = 30_000) =>
  until(
    "door code ready",
    async () => {
      const r = await api().get("/api/provisioning-status", { token: sessionToken })
      if (r.status === 200 && r.body.status === "failed") throw new Error("provisioning failed")
      return r.status === 200 && r.body.status === "ready" ? true : undefined
    },
    ms
  )

/** A signed Stripe event, as Stripe would deliver it. */
export const deliverEvent = (api: Client, event: Record<string, unknown>) =>
  deliverStripeEvent(api, event, { secret: WEBHOOK_SECRET })

export const setupSucceededEvent = (id: string, setupIntentId: string, podId: string) =>
  stripeEvent(id, "setup_intent.succeeded", { id: setupIntentId, object: "setup_intent", metadata: { pod_id: podId } })
