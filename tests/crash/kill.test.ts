/**
 * SIGKILL at chosen points, then a restart on the same embedded store (PGlite in a temp
 * `QWIP_DATA_DIR`): the restarted service finishes what the killed one left, and nothing is
 * lost or done twice. The process kills itself at a point the test arms through
 * `QWIP_TEST_CRASH_AT` (the adapters' `CrashPoints`), or the test kills it
 * right after an answer.
 *
 * After each restart the invariants are checked by SQL on the store (`checkInvariants`): every
 * session final, no pod held without a live session, at most one succeeded PaymentIntent per
 * session and each recorded on its session with the same amount (and nothing recorded that was
 * not charged), each email once in the outbox and every queued one sent, every work item done,
 * every webhook event processed. Killed leases and the 2-minute safety net are driven forward
 * in the store (see support/Crash.ts): the policy does not let a test shorten them.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Client } from "@qwip/test-support/Client"
import {
  allWorkDone,
  billable,
  type Counts,
  checkInvariants,
  checkout,
  copyDir,
  deliverEvent,
  describeCounts,
  embeddedSql,
  ensureBuilt,
  expireLeasesOf,
  finalize,
  type Instance,
  killAll,
  killedBy,
  launch,
  makeSafetyNetsDue,
  note,
  ready,
  removeTempDirs,
  type Sql,
  sessionIdOf,
  sessionState,
  setupSucceededEvent,
  tempDir,
  until
} from "./support/Crash.js"

const POD = "demo-pod"
let template = ""

beforeAll(async () => {
  ensureBuilt()
  // One initialised store (migrated, demo pod seeded, keys generated), copied for each test.
  // The demo pod's rate is raised to £60 a minute so that a few seconds cost well over the 30p minimum.
  template = tempDir()
  const first = await launch("template", { QWIP_DATA_DIR: template })
  await embeddedSql(template)(`update pods set price = 60 where id = $1`, [POD])
  first.signal("SIGTERM")
  expect((await first.exited).code).toBe(0)
}, 180_000)
afterAll(async () => {
  await killAll()
  removeTempDirs()
})

const store = () => {
  const dir = copyDir(template)
  return { env: { QWIP_DATA_DIR: dir }, sql: embeddedSql(dir) }
}

/** Resolves with the answer, or with `undefined` when the connection failed (the process died). */
const answerOrNothing = <A>(request: Promise<A>) =>
  request.catch((e: Error) => (e.name === "TypeError" ? undefined : Promise.reject(e)))

const accessEmailSent = (sql: Sql, sessionId: string) =>
  until("door code emailed", async () => {
    const rows = await sql(`select 1 from email_outbox where message_key = $1`, [`AccessReady:${sessionId}`])
    return rows.length === 1 ? true : undefined
  })

/** Ends the session as its customer, then checks every invariant and the counts of one paid session. */
const endAndCheck = async (label: string, api: Client, sql: Sql, token: string, extra: Partial<Counts> = {}) => {
  await billable(sql, sessionIdOf(token))
  const end = await api.post("/api/end-session", { token })
  expect(end.status, JSON.stringify(end.body)).toBe(200)
  await allWorkDone(sql)
  const { violations, counts } = await checkInvariants(sql)
  note(describeCounts(label, counts))
  expect(violations).toEqual(Object.fromEntries(Object.keys(violations).map((k) => [k, []])))
  expect(counts).toMatchObject({
    sessions: 1,
    ended: 1,
    paid: 1,
    succeededPaymentIntents: 1,
    paymentIntents: 1,
    receipts: 1,
    accessEmails: 1,
    podsInUse: 0,
    ...extra
  })
  return counts
}

/**
 * Books with the process armed to die at `crashAt` in the background work that follows, then
 * restarts it. The worker may die before finalize's answer is written: the customer's retry
 * (same provisioning token) then gets the session from the restarted service.
 */
const bookingKilledAt = async (crashAt: string) => {
  const { env, sql } = store()
  const first = await launch("first", env, { crashAt })
  const { provisioningToken } = await checkout(first.api, POD)
  const answered = await answerOrNothing(finalize(first.api, provisioningToken))
  expect((await killedBy(first)).signal).toBe("SIGKILL")
  const second = await launch("second", env)
  const token = answered ?? (await finalize(second.api, provisioningToken))
  return { sql, first, second, token, sessionId: sessionIdOf(token) }
}

const stopped = async (instance: Instance) => {
  instance.signal("SIGTERM")
  expect((await instance.exited).code).toBe(0)
}

// The scenarios are independent (each its own copy of the store, its own processes and ports):
// they run concurrently, so the file's wall time is about that of the slowest.
describe.concurrent("SIGKILL at chosen points, then a restart on the same embedded store", { timeout: 180_000 }, () => {
  it("killed right after finalize answered: the booking stands, gets its code and is charged once", async () => {
    const { env, sql } = store()
    // No worker in the first life: the kill lands after the answer and before any background work.
    const first = await launch("first", { ...env, WORKER_ENABLED: "false" })
    const { provisioningToken } = await checkout(first.api, POD)
    const token = await finalize(first.api, provisioningToken)
    first.signal("SIGKILL")
    expect((await first.exited).signal).toBe("SIGKILL")

    const second = await launch("second", env)
    const sessionId = sessionIdOf(token)
    expect(["Provisioning", "Active"]).toContain(await sessionState(sql, sessionId))
    // The token issued before the crash still works; a retried finalize finds the same session.
    expect(sessionIdOf(await finalize(second.api, provisioningToken))).toBe(sessionId)
    await ready(() => second.api, token)
    await accessEmailSent(sql, sessionId)
    await endAndCheck("after finalize", second.api, sql, token)
    await stopped(second)
  })

  it("killed while provisioning asks for a door code: the restart provisions it once", async () => {
    const { sql, first, second, token, sessionId } = await bookingKilledAt("provisioning")
    // The restart gave the dead worker's lease back on opening the store: no lease is waited out.
    expect(await expireLeasesOf(sql, first.pid)).toBe(0)
    await ready(() => second.api, token)
    await accessEmailSent(sql, sessionId)
    const provisioning = await sql<{ attempts: number }>(
      `select attempts from session_provisionings where session_id = $1`,
      [sessionId]
    )
    note(`provisioning attempts after the crash: ${provisioning[0]?.attempts}`)
    expect(provisioning[0]?.attempts).toBe(2)
    await endAndCheck("during provisioning", second.api, sql, token)
    await stopped(second)
  })

  it("killed between the charge and the close: the safety net closes it with the one charge", async () => {
    const { env, sql } = store()
    const first = await launch("first", env, { crashAt: "after-charge" })
    const { provisioningToken } = await checkout(first.api, POD)
    const token = await finalize(first.api, provisioningToken)
    const sessionId = sessionIdOf(token)
    await ready(() => first.api, token)
    await accessEmailSent(sql, sessionId)
    // The end charges the card, and the process dies before the answer reaches the core.
    await billable(sql, sessionId)
    expect(await answerOrNothing(first.api.post("/api/end-session", { token }))).toBeUndefined()
    expect((await killedBy(first)).signal).toBe("SIGKILL")

    const second = await launch("second", env)
    // Charged at the provider, not yet recorded: the session is still ending, its safety net pending.
    expect(await sessionState(sql, sessionId)).toBe("Ending")
    const charged = await sql(
      `select id from sandbox_payments where object = 'payment_intent' and status = 'succeeded'`
    )
    expect(charged).toHaveLength(1)
    expect(await sql(`select 1 from session_charges`)).toHaveLength(0)
    const net = await sql<{ due_in: number }>(
      `select extract(epoch from run_at - now())::float as due_in from background_work
       where kind = 'close-session' and session_id = $1 and status = 'pending'`,
      [sessionId]
    )
    expect(net).toHaveLength(1)
    expect(net[0]?.due_in).toBeGreaterThan(0)
    expect(net[0]?.due_in).toBeLessThanOrEqual(120)
    // Drive time past the safety net's delay: the restarted worker closes the session.
    expect(await makeSafetyNetsDue(sql)).toBe(1)
    await until("session closed by the safety net", async () =>
      (await sessionState(sql, sessionId)) === "Ended" ? true : undefined
    )
    const recorded = await sql(`select payment_intent_id from session_charges where session_id = $1`, [sessionId])
    expect(recorded).toEqual([{ payment_intent_id: charged[0]?.id }])
    // The customer's retry finds the session ended and charges nothing more.
    const retry = await second.api.post("/api/end-session", { token })
    note(`end-session retried after the close answers ${retry.status}`)
    await allWorkDone(sql)
    const { violations, counts } = await checkInvariants(sql)
    note(describeCounts("between charge and close", counts))
    expect(violations).toEqual(Object.fromEntries(Object.keys(violations).map((k) => [k, []])))
    expect(counts).toMatchObject({ sessions: 1, ended: 1, paid: 1, succeededPaymentIntents: 1, paymentIntents: 1 })
    expect(counts).toMatchObject({ receipts: 1, accessEmails: 1, podsInUse: 0 })
    await stopped(second)
  })

  it("killed while a webhook is processed: Stripe's retry books once, the client's finalize joins it", async () => {
    const { env, sql } = store()
    const first = await launch("first", env, { crashAt: "webhook" })
    const { setupIntentId, provisioningToken } = await checkout(first.api, POD)
    const event = setupSucceededEvent("evt_crash_setup_1", setupIntentId, POD)
    expect(await answerOrNothing(deliverEvent(first.api, event))).toBeUndefined()
    expect((await killedBy(first)).signal).toBe("SIGKILL")

    const second = await launch("second", env)
    // Stored, not applied: no session, the pod free.
    expect(await sql(`select status from stripe_webhook_events`)).toEqual([{ status: "received" }])
    expect(await sql(`select 1 from pod_sessions`)).toHaveLength(0)
    expect(await sql(`select in_use from pods where id = $1`, [POD])).toEqual([{ in_use: false }])
    // Stripe retries the event; then the client's finalize finds the session it made.
    const redelivered = await deliverEvent(second.api, event)
    expect(redelivered.status).toBe(200)
    expect((await deliverEvent(second.api, event)).status).toBe(200)
    const sessions = await sql<{ id: string }>(`select id from pod_sessions`)
    expect(sessions).toHaveLength(1)
    const token = await finalize(second.api, provisioningToken)
    expect(sessionIdOf(token)).toBe(sessions[0]?.id)
    await ready(() => second.api, token)
    await accessEmailSent(sql, sessionIdOf(token))
    await endAndCheck("during a webhook", second.api, sql, token, { webhookEvents: 1 })
    await stopped(second)
  })

  it("killed after an email was kept but before its work was marked done: it is not sent twice", async () => {
    const { sql, first, second, token, sessionId } = await bookingKilledAt("after-mail")
    // The door-code email is in the outbox; its work item was given back when the store reopened.
    expect(await sql(`select kind from email_outbox`)).toEqual([{ kind: "AccessReady" }])
    expect(await expireLeasesOf(sql, first.pid)).toBe(0)
    await until("the email's work done again", async () => {
      const rows = await sql(`select status from background_work where kind = 'mail-access-ready'`)
      return rows[0]?.status === "done" ? true : undefined
    })
    expect(await sql(`select message_key from email_outbox`)).toEqual([{ message_key: `AccessReady:${sessionId}` }])
    await endAndCheck("after an email", second.api, sql, token)
    await stopped(second)
  })
})
