/**
 * Three instances of the service (`qwip serve`) on one Postgres schema, under a mixed load of
 * bookings and ends from several customers at once; one instance kills itself in the middle
 * (SIGKILL at its second charge, between the charge and the close) and is restarted. Requests
 * that reach the dead instance fail without an answer and are sent again to another one, as a
 * load balancer does. At the end the same invariants as after a single crash hold, checked by
 * SQL, and the counts checked are printed.
 *
 * Needs `QWIP_TEST_DATABASE_URL` (CI sets it); each run uses a fresh schema, dropped afterwards.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import type { Answer, Client } from "@qwip/test-support/Client"
import {
  addPods,
  allWorkDone,
  billable,
  CARD,
  checkInvariants,
  describeCounts,
  ensureBuilt,
  expireLeasesOf,
  type Instance,
  killAll,
  launch,
  note,
  postgresStore,
  removeTempDirs,
  sessionIdOf,
  tempDir,
  testDatabaseUrl,
  trace,
  until
} from "./support/Crash.js"

const CUSTOMERS = 6
const ROUNDS = 3

afterAll(async () => {
  await killAll()
  removeTempDirs()
})

describe.skipIf(testDatabaseUrl === undefined)("three instances on one Postgres, one killed mid-load", () => {
  it("bookings and ends from six customers: every session final, each charged once and recorded, emails once", {
    timeout: 240_000
  }, async () => {
    ensureBuilt()
    const db = await postgresStore()
    try {
      const envFor = () => ({ ...db.env, QWIP_DATA_DIR: tempDir() })
      // Started together: one applies the migrations under the advisory lock, the others wait.
      const pool: Array<Instance> = await Promise.all([
        launch("instance-1", envFor()),
        launch("instance-2", envFor(), { crashAt: "after-charge:2" }),
        launch("instance-3", envFor())
      ])
      const doomed = pool[1] as Instance
      const pods = Array.from({ length: CUSTOMERS }, (_, i) => `crash-pod-${i + 1}`)
      await addPods(db.sql, pods, 60)

      // The killed instance is restarted as soon as it is gone; its leases are driven past their end.
      let unanswered = 0
      const restarted = doomed.exited.then(async (exit) => {
        trace(`instance-2 exited ${JSON.stringify(exit)}`)
        const endedBefore =
          (await db.sql<{ n: number }>(`select count(*)::int as n from pod_sessions where state = 'Ended'`))[0]?.n ?? -1
        const expired = await expireLeasesOf(db.sql, doomed.pid)
        const again = await launch("instance-2 (restarted)", envFor())
        pool[1] = again
        return { exit, expired, endedBefore }
      })

      // Requests go round the instances; one that gets no answer (the instance died) goes to the next.
      let turn = 0
      const send = async (
        what: string,
        request: (api: Client) => Promise<Answer>
      ): Promise<Answer & { readonly resent: boolean }> => {
        let resent = false
        for (let attempt = 0; attempt < 60; attempt++) {
          const instance = pool[turn++ % pool.length] as Instance
          if (!instance.alive()) continue
          try {
            return { ...(await request(instance.api)), resent }
          } catch (e) {
            if ((e as Error).name !== "TypeError") throw e
            unanswered++
            resent = true
            trace(`${what} on ${instance.name}: no answer (${(e as Error).message})`)
            await new Promise((r) => setTimeout(r, 100))
          }
        }
        throw new Error(`${what}: no instance answered`)
      }
      const ok = async (what: string, request: (api: Client) => Promise<Answer>) => {
        const a = await send(what, request)
        if (a.status !== 200) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`)
        return a.body
      }

      const customer = async (podId: string) => {
        const ended: Array<string> = []
        for (let round = 0; round < ROUNDS; round++) {
          const setup = await ok("setup-intent", (api) => api.post("/api/setup-intent", { body: { pod_id: podId } }))
          const setupIntentId = String(setup.client_secret).split("_secret_")[0] as string
          await ok("confirm", (api) =>
            api.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, {
              body: { card_number: CARD, email: `${podId}@example.com` }
            })
          )
          const finalized = await ok("finalize", (api) =>
            api.post("/api/booking/finalize", { token: setup.provisioning_jwt_token })
          )
          const token = finalized.session_jwt_token as string
          const sessionId = sessionIdOf(token)
          await until(`${podId} door code ready`, async () => {
            const s = await send("provisioning-status", (api) => api.get("/api/provisioning-status", { token }))
            if (s.body.status === "failed") throw new Error(`${podId}: provisioning failed`)
            return s.body.status === "ready" ? true : undefined
          })
          await until(`${podId} door code emailed`, async () =>
            (await db.sql(`select 1 from email_outbox where message_key = $1`, [`AccessReady:${sessionId}`])).length ===
            1
              ? true
              : undefined
          )
          await billable(db.sql, sessionId)
          // An end whose answer was lost with the instance may have ended the session already: the
          // customer's retry is then told so (409), which is what the page shows as "ended".
          const end = await send("end-session", (api) => api.post("/api/end-session", { token }))
          const endedByLostRequest = end.resent && end.status === 409 && end.body.error === "session_already_ended"
          if (end.status !== 200 && !endedByLostRequest) {
            throw new Error(`end-session: ${end.status} ${JSON.stringify(end.body)}`)
          }
          ended.push(sessionId)
        }
        return ended
      }

      const ended = (await Promise.all(pods.map(customer))).flat()
      if (doomed.alive()) throw new Error("instance-2 never reached its crash point (its second charge)")
      const { exit, expired, endedBefore } = await restarted
      expect(exit.signal).toBe("SIGKILL")
      // In the middle: some sessions were ended before the kill, and others after.
      expect(endedBefore).toBeGreaterThan(0)
      expect(endedBefore).toBeLessThan(CUSTOMERS * ROUNDS)
      expect(unanswered).toBeGreaterThan(0)

      await allWorkDone(db.sql)
      const { violations, counts } = await checkInvariants(db.sql)
      note(describeCounts("three instances", counts))
      note(
        `instance-2 killed at its second charge (${endedBefore} sessions ended before) and restarted; ${expired} leases it held driven past their end; ` +
          `${unanswered} requests without an answer sent again`
      )
      expect(violations).toEqual(Object.fromEntries(Object.keys(violations).map((k) => [k, []])))
      const total = CUSTOMERS * ROUNDS
      expect(new Set(ended).size).toBe(total)
      expect(counts).toMatchObject({
        sessions: total,
        ended: total,
        provisioningFailed: 0,
        paid: total,
        succeededPaymentIntents: total,
        paymentIntents: total,
        charges: total,
        receipts: total,
        accessEmails: total,
        podsInUse: 0
      })
      for (const instance of pool) instance.signal("SIGTERM")
      for (const instance of pool) expect((await instance.exited).code).toBe(0)
    } finally {
      await killAll()
      await db.drop()
    }
  })
})
