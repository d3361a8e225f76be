/**
 * Core's `StaffStore` over the SQL functions of migration 0005, on every store ([pglite]
 * always; [postgres] and [supabase] with QWIP_TEST_DATABASE_URL): pods created once and
 * freed only without a live session, listings that understand rows the previous service
 * wrote, door codes replaced only at the version read, and staff charge attempts.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { expect } from "@effect/vitest"
import * as StaffQueries from "@qwip/adapters/store/StaffQueries"
import {
  AccessGrant,
  Active,
  CardOnFile,
  type PodId,
  Provisioning,
  type ProvisioningId,
  rate,
  Session,
  type SessionId,
  type SessionState,
  SessionStore,
  type SetupIntentId,
  StaffStore
} from "@qwip/core"
import { demoPod } from "@qwip/core/testing"
import { forEachStore, TestSql } from "@qwip/test-support/Stores"
import { Effect, Option } from "effect"

const minutes = (n: number) => n * 60_000

const newSession = (podId: string, options: { readonly state?: SessionState; readonly token?: string } = {}) => {
  const at = new Date()
  return new Session({
    id: randomUUID() as SessionId,
    podId: podId as PodId,
    provisioningId: randomUUID() as ProvisioningId,
    setupIntentId: `seti_${randomBytes(6).toString("hex")}` as SetupIntentId,
    card: new CardOnFile({ customerId: "cus_1", paymentMethodId: "pm_1", email: "ada@example.com" }),
    rate: rate("0.5"),
    startedAt: at,
    accessUntil: new Date(at.getTime() + minutes(180)),
    access: Option.fromNullable(options.token).pipe(
      Option.map((t) => new AccessGrant({ ref: t, sealedCode: t, mode: "static" }))
    ),
    accessRevokedAt: Option.none(),
    state: options.state ?? new Provisioning(),
    version: 0,
    updatedAt: at
  })
}

forEachStore("staff store", (it) => {
  const staffTest = (name: string, body: Effect.Effect<void, unknown, StaffStore | SessionStore | TestSql>) =>
    it.effect(name, () => Effect.provide(body, StaffQueries.layer) as Effect.Effect<void, unknown, never>)

  staffTest(
    "pods are created once and freed only when no live session holds them",
    Effect.gen(function* () {
      const staff = yield* StaffStore
      const store = yield* SessionStore
      const sql = yield* TestSql
      const created = yield* staff.createPod(demoPod({ id: "st-free" }))
      expect(created.inUse).toBe(false)
      expect((yield* Effect.flip(staff.createPod(demoPod({ id: "st-free" }))))._tag).toBe("PodAlreadyExists")
      // A flag the previous service left set, with no live session: cleared.
      yield* sql.query("update pods set in_use = true where id = 'st-free'")
      expect(yield* staff.freePod("st-free" as PodId, Option.none())).toEqual(Option.some({ freed: true }))
      expect(Option.getOrThrow(yield* store.podStatus("st-free" as PodId)).inUse).toBe(false)
      yield* store.openSession(newSession("st-free"), [])
      expect(yield* staff.freePod("st-free" as PodId, Option.none())).toEqual(Option.some({ freed: false }))
      expect(Option.getOrThrow(yield* store.podStatus("st-free" as PodId)).inUse).toBe(true)
      expect(yield* staff.freePod("st-nope" as PodId, Option.none())).toEqual(Option.none())
      const saved = yield* staff.savePod(demoPod({ id: "st-free", rate: "0.75" }))
      expect([saved.pod.rate, saved.inUse]).toEqual([rate("0.75"), true])
    })
  )

  staffTest(
    "listings: live, overdue and failed, rows of the previous service included",
    Effect.gen(function* () {
      const staff = yield* StaffStore
      const store = yield* SessionStore
      const sql = yield* TestSql
      for (const id of ["st-list-1", "st-list-2", "st-list-3"]) yield* staff.createPod(demoPod({ id }))
      const fresh = yield* store.openSession(newSession("st-list-1"), [])
      const legacyOpen = randomUUID()
      const legacyFailed = randomUUID()
      yield* sql.query(
        `insert into pod_sessions (id, pod_id, user_email, start_time, end_time, access_code_id)
         values ($1, 'st-list-2', 'old@example.com', now() - interval '5 hours', null, 'legacy-token')`,
        [legacyOpen]
      )
      yield* sql.query(
        `insert into pod_sessions (id, pod_id, user_email, start_time, end_time)
         values ($1, 'st-list-3', 'old@example.com', now() - interval '2 hours', now() - interval '1 hour')`,
        [legacyFailed]
      )
      yield* sql.query("insert into invalid_payment_attempts (session_id, session_cost) values ($1, 3000)", [
        legacyFailed
      ])
      const ids = (filter: "all" | "live" | "overdue" | "failed", podId?: string) =>
        staff
          .sessions({
            filter,
            podId: podId as PodId | undefined,
            windowClosedBefore: new Date(Date.now() - minutes(30)),
            limit: 100
          })
          .pipe(Effect.map((l) => l.map((s) => s.id).filter((id) => [fresh.id, legacyOpen, legacyFailed].includes(id))))
      expect(yield* ids("all")).toEqual([fresh.id, legacyFailed, legacyOpen])
      expect(yield* ids("live")).toEqual([fresh.id, legacyOpen])
      expect(yield* ids("overdue")).toEqual([legacyOpen])
      expect(yield* ids("failed")).toEqual([legacyFailed])
      expect(yield* ids("all", "st-list-2")).toEqual([legacyOpen])
    })
  )

  staffTest(
    "stored door codes are paged by id and replaced only at the version read",
    Effect.gen(function* () {
      const staff = yield* StaffStore
      const store = yield* SessionStore
      const sql = yield* TestSql
      yield* staff.createPod(demoPod({ id: "st-seal" }))
      const before = yield* staff.countSealedCodeSessions
      const session = yield* store.openSession(
        newSession("st-seal", { state: new Active({ activatedAt: new Date() }), token: "token-old" }),
        []
      )
      // A Seam code of the previous service (a uuid, nothing sealed) is not a stored code.
      yield* sql.query(
        `insert into pod_sessions (id, pod_id, start_time, end_time, access_code_id)
         values ($1, 'st-seal', now() - interval '3 hours', now() - interval '2 hours', $2)`,
        [randomUUID(), randomUUID()]
      )
      expect(yield* staff.countSealedCodeSessions).toBe(before + 1)
      const all = yield* staff.sealedCodeSessions(Option.none(), 1000)
      expect(all.map((s) => s.id)).toEqual([...all.map((s) => s.id)].sort())
      const after = yield* staff.sealedCodeSessions(Option.some(session.id), 1000)
      expect(after.every((s) => s.id > session.id)).toBe(true)

      const grant = new AccessGrant({ ref: "token-new", sealedCode: "token-new", mode: "static" })
      const replaced = yield* staff.replaceSealedCode(session, grant, new Date())
      expect([replaced.version, Option.getOrThrow(replaced.access).sealedCode]).toEqual([1, "token-new"])
      const stale = yield* Effect.flip(staff.replaceSealedCode(session, grant, new Date()))
      expect(stale._tag).toBe("StaleSession")
      const rows = yield* sql.query<{ access_code_id: string; sealed_code: string }>(
        "select access_code_id, sealed_code from pod_sessions where id = $1",
        [session.id]
      )
      expect(rows[0]).toEqual({ access_code_id: "token-new", sealed_code: "token-new" })
    })
  )

  staffTest(
    "charge attempts: a pending attempt is handed out again; a new one only once it is answered",
    Effect.gen(function* () {
      const staff = yield* StaffStore
      const store = yield* SessionStore
      yield* staff.createPod(demoPod({ id: "st-pay" }))
      const session = yield* store.openSession(newSession("st-pay"), [])
      const begin = (attempt: number) =>
        Effect.flatten(
          staff.beginChargeAttempt({ sessionId: session.id, by: "ada", attempt, idempotencyKey: `k-${attempt}` })
        )
      const first = yield* begin(1)
      expect([first.attempt, first.idempotencyKey, first.status]).toEqual([1, "k-1", "pending"])
      // Another member of staff numbering theirs 2 meanwhile gets the pending one.
      expect((yield* begin(2)).attempt).toBe(1)
      yield* staff.finishChargeAttempt(first, { status: "declined", paymentIntentId: Option.some("pi_1") })
      // A number already taken is refused, so the caller reads the attempts again.
      expect(
        Option.isNone(
          yield* staff.beginChargeAttempt({ sessionId: session.id, by: "bo", attempt: 1, idempotencyKey: "k-1b" })
        )
      ).toBe(true)
      const second = yield* begin(2)
      expect([second.attempt, second.idempotencyKey]).toEqual([2, "k-2"])
      yield* staff.finishChargeAttempt(second, { status: "succeeded", paymentIntentId: Option.some("pi_2") })
      const attempts = yield* staff.chargeAttempts(session.id)
      expect(attempts.map((a) => [a.attempt, a.status, Option.getOrNull(a.paymentIntentId), a.by])).toEqual([
        [1, "declined", "pi_1", "ada"],
        [2, "succeeded", "pi_2", "ada"]
      ])
      yield* staff.appendAudit({ actor: "ada", action: "test", subject: session.id, before: null, after: { ok: 1 } })
    })
  )
})
