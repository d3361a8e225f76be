/**
 * `qwip` in process (tests/cli/support/Cli.ts), against the embedded store (always) and Postgres
 * (when QWIP_TEST_DATABASE_URL is set, in a fresh schema via DATABASE_SCHEMA): each command's happy path, `--json` parsed and
 * checked, refusals (a held pod, an ended session), one charge for two ends, payment retries
 * without a second charge, an interrupted `codes rekey` finished by a second run, and the
 * staff audit rows. Tests in a suite share one store and run in order. Only the interrupted
 * rekey runs the built CLI, as a subprocess stopped by SIGINT.
 */
import { randomUUID } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { StaticCodeTokens, StoreRecords } from "@qwip/adapters"
import { latestVersion } from "@qwip/adapters/store/Migrator"
import {
  AccessGrant,
  Active,
  Paid,
  type PodId,
  pence,
  type Session,
  SessionEnd,
  SessionStore,
  StaffStore
} from "@qwip/core"
import { demoPod } from "@qwip/core/testing"
import { beginEnd, close, makeSession, next } from "@qwip/test-support/Fixtures"
import { Effect, Option, Redacted } from "effect"
import {
  ago,
  book,
  CARDS,
  drain,
  embeddedTarget,
  ensureBuilt,
  inStore,
  postgresTarget,
  qwip,
  qwipJson,
  start,
  type Target,
  testDatabaseUrl,
  waitFor
} from "./support/Cli.js"

beforeAll(ensureBuilt, 300_000)

const ACTOR = ["--yes", "--actor", "ada"]

/** A failure reported on one line of stderr. */
const expectOneLine = (r: { code: number | null; stderr: string }, code: number, ...fragments: Array<string>) => {
  expect(r.code, r.stderr).toBe(code)
  const lines = r.stderr.trim().split("\n")
  expect(lines.length, r.stderr).toBe(1)
  for (const f of fragments) expect(lines[0]).toContain(f)
}

const targets = [
  { name: "embedded", make: async () => embeddedTarget(), skip: false },
  { name: "postgres", make: postgresTarget, skip: testDatabaseUrl === undefined }
] as const

interface SessionJson {
  readonly id: string
  readonly podId: string
  readonly state: string
  readonly outcome: string | null
  readonly chargePence: number | null
  readonly startedAt: string
  readonly billedFrom: string | null
}

interface ChargeJson {
  readonly sessionId: string
  readonly status: string
  readonly amountPence: number
  readonly retries: number
  readonly lastRetryKey: string | null
}

for (const t of targets) {
  describe.skipIf(t.skip)(`[${t.name}] qwip`, { timeout: 240_000 }, () => {
    let target: Target
    let env: Record<string, string>
    const s: Record<string, Session> = {}
    const run = (...args: Array<string>) => qwip(args, env)
    const ids = (rows: ReadonlyArray<SessionJson>) => rows.map((r) => r.id).sort()
    const paymentIntentsOf = (sessionId: string) =>
      inStore(
        env,
        Effect.map(
          Effect.flatMap(StoreRecords, (r) => r.listSandboxObjects(1000)),
          (all) => all.filter((o) => o.object === "payment_intent" && o.data.session_id === sessionId)
        )
      )

    beforeAll(async () => {
      target = await t.make()
      env = target.env
    }, 120_000)
    afterAll(() => target?.cleanUp())

    it("pods: add, refuse a duplicate, set the rate and the device, list", async () => {
      const added = await run(
        "pods",
        "add",
        "pod-a",
        "--name",
        "Pod A",
        "--address",
        "1 Test St",
        "--rate",
        "0.5",
        ...ACTOR
      )
      expect(added.code, added.stderr).toBe(0)
      const locked = await run(
        "pods",
        "add",
        "pod-c",
        "--name",
        "Pod C",
        "--address",
        "3 Test St",
        "--rate",
        "0.5",
        "--device",
        "dev-c",
        ...ACTOR
      )
      expect(locked.code, locked.stderr).toBe(0)
      // pod-b (static, for payments) and pod-d (static, for provisioning), straight into the store
      await inStore(
        env,
        Effect.gen(function* () {
          const records = yield* StoreRecords
          yield* records.upsertPod(demoPod({ id: "pod-b" }))
          yield* records.upsertPod(demoPod({ id: "pod-d" }))
          yield* records.setCodes("pod-d", ["44444" as never])
        })
      )
      expectOneLine(
        await run("pods", "add", "pod-a", "--name", "again", "--address", "x", "--rate", "0.5", ...ACTOR),
        1,
        "pod pod-a already exists"
      )
      expect((await run("pods", "set-rate", "pod-a", "0.75", ...ACTOR)).code).toBe(0)
      expect((await run("pods", "set-device", "pod-c", "dev-c2", ...ACTOR)).code).toBe(0)
      const pods = await qwipJson<ReadonlyArray<Record<string, unknown>>>(["pods", "list"], env)
      const byId = new Map(pods.map((p) => [p.id, p]))
      expect(byId.get("pod-a")).toMatchObject({ rate: "0.75", accessMode: "static", inUse: false, codes: 0 })
      expect(byId.get("pod-c")).toMatchObject({ accessMode: "lock-provider", lockDeviceId: "dev-c2" })
    })

    it("codes: generate, load from a file (refusing a bad one), list masked and revealed", async () => {
      const generated = await run("codes", "rotate", "--pod", "pod-a", "--generate", "3", ...ACTOR)
      expect(generated.code, generated.stderr).toBe(0)
      const shown = generated.stdout.split("\n").filter((l) => /^\d{5}$/.test(l))
      expect(shown.length).toBe(3)
      const file = join(env.QWIP_DATA_DIR ?? "", "codes.txt")
      writeFileSync(file, "# pod-b's door\n11111\n22222, 33333\n")
      expect((await run("codes", "rotate", "--pod", "pod-b", "--from-file", file, ...ACTOR)).code).toBe(0)
      writeFileSync(file, "12\n")
      expectOneLine(
        await run("codes", "rotate", "--pod", "pod-b", "--from-file", file, ...ACTOR),
        1,
        "invalid code list"
      )
      type CodesJson = { codes: ReadonlyArray<{ code: string; heldBy: string | null }>; revealed: boolean }
      const masked = await qwipJson<CodesJson>(["codes", "list", "--pod", "pod-a"], env)
      expect(masked.revealed).toBe(false)
      expect(masked.codes.map((c) => c.code).every((c) => /^\*{4}\d$/.test(c))).toBe(true)
      const revealed = await qwipJson<CodesJson>(["codes", "list", "--pod", "pod-a", "--reveal", "--actor", "ada"], env)
      expect(revealed.codes.map((c) => c.code).sort()).toEqual([...shown].sort())
    })

    it("sessions: list by filter and pod; release refuses a held pod; ending twice charges once", async () => {
      await inStore(
        env,
        Effect.gen(function* () {
          s.a = yield* book("pod-a", CARDS.succeeds, { minutesAgo: 30 })
          s.b = yield* book("pod-b", CARDS.chargesDeclined, { minutesAgo: 20 })
          s.c = yield* book("pod-c", CARDS.succeeds, { minutesAgo: 10 }) // no lock provider: fails
          s.d = yield* book("pod-d", CARDS.succeeds, { minutesAgo: 5, provision: false })
        })
      )
      const a = s.a as Session
      const all = await qwipJson<ReadonlyArray<SessionJson>>(["sessions", "list"], env)
      expect(all.map((r) => [r.id, r.state])).toEqual([
        [s.d?.id, "Provisioning"],
        [s.c?.id, "ProvisioningFailed"],
        [s.b?.id, "Active"],
        [a.id, "Active"]
      ])
      expect(ids(await qwipJson(["sessions", "list", "--live"], env))).toEqual(
        [a.id, s.b?.id, s.d?.id].sort() as Array<string>
      )
      expect(ids(await qwipJson(["sessions", "list", "--failed"], env))).toEqual([s.c?.id])
      expect(ids(await qwipJson(["sessions", "list", "--pod", "pod-a"], env))).toEqual([a.id])

      expectOneLine(await run("pods", "release", "pod-a", ...ACTOR), 1, `live session ${a.id} holds it`)

      // Billing starts when the door code was ready (moments after the booking here).
      const billedFrom = all.find((r) => r.id === a.id)?.billedFrom ?? ""
      expect(new Date(billedFrom).getTime()).toBeGreaterThanOrEqual(a.startedAt.getTime())
      const tenMinutesIn = new Date(new Date(billedFrom).getTime() + 10 * 60_000).toISOString()
      const ended = await run("sessions", "end", a.id, "--at", tenMinutesIn, ...ACTOR)
      expect(ended.code, ended.stderr).toBe(0)
      expect(ended.stdout).toContain("charged £7.50")
      expectOneLine(await run("sessions", "end", a.id, ...ACTOR), 1, "already ended", "nothing charged again")
      type Show = {
        session: SessionJson
        charge: { status: string; amountPence: number; idempotencyKey: string }
        audit: ReadonlyArray<{ action: string; actor: string }>
        timeline: ReadonlyArray<{ event: string }>
      }
      const shown = await qwipJson<Show>(["sessions", "show", a.id], env)
      expect(shown.session).toMatchObject({ state: "Ended", outcome: "Paid", chargePence: 750, billedFrom })
      expect(shown.charge).toMatchObject({
        status: "succeeded",
        amountPence: 750,
        idempotencyKey: `qwip-session-charge-${a.id}`
      })
      expect(shown.audit).toEqual([expect.objectContaining({ action: "sessions.end", actor: "ada" })])
      expect(shown.timeline.map((e) => e.event)).toEqual(
        expect.arrayContaining(["booked", "provision-access done", "email AccessReady", "ended", "closed"])
      )
      const intents = await paymentIntentsOf(a.id)
      expect(intents.map((i) => i.status)).toEqual(["succeeded"])
    })

    it("payments: a declined charge is retried under new attempt keys, charged once, then refused", async () => {
      const b = s.b as Session
      const ended = await run("sessions", "end", b.id, ...ACTOR)
      expect(ended.code, ended.stderr).toBe(0)
      expect(ended.stdout).toContain("declined")
      const failed = await qwipJson<ReadonlyArray<ChargeJson>>(["payments", "list", "--failed"], env)
      expect(failed.map((c) => [c.sessionId, c.status])).toEqual([[b.id, "failed"]])
      expectOneLine(await run("payments", "retry", b.id, ...ACTOR), 1, "declined again (attempt 1")
      // The customer fixes their card.
      await inStore(
        env,
        Effect.flatMap(StoreRecords, (r) =>
          r.updateSandboxObject(b.setupIntentId, "succeeded", { behaviour: "succeeds" })
        )
      )
      const paid = await run("payments", "retry", b.id, ...ACTOR)
      expect(paid.code, paid.stderr).toBe(0)
      const amount =
        (await qwipJson<{ session: SessionJson }>(["sessions", "show", b.id], env)).session.chargePence ?? 0
      expect(amount).toBeGreaterThanOrEqual(1000)
      expect(paid.stdout).toContain(`Charged £${(amount / 100).toFixed(2)} for session ${b.id} (attempt 2`)
      expectOneLine(await run("payments", "retry", b.id, ...ACTOR), 1, "nothing to retry", "settled")
      const charges = await qwipJson<ReadonlyArray<ChargeJson>>(["payments", "list"], env)
      expect(charges.find((c) => c.sessionId === b.id)).toMatchObject({
        status: "succeeded",
        amountPence: amount,
        retries: 2,
        lastRetryKey: `qwip-session-charge-${b.id}-retry-2`
      })
      const intents = await paymentIntentsOf(b.id)
      expect(intents.length).toBe(3)
      expect(intents.filter((i) => i.status === "succeeded").length).toBe(1)
    })

    it("provisioning retries and a forced release end the session through the ordinary end", async () => {
      expectOneLine(await run("sessions", "retry-provisioning", s.c?.id ?? "", ...ACTOR), 1, "failed for good")
      const retried = await run("sessions", "retry-provisioning", s.d?.id ?? "", ...ACTOR)
      expect(retried.code, retried.stderr).toBe(0)
      expect(retried.stdout).toContain("has its door code")
      const released = await run("pods", "release", "pod-d", "--force", "--reason", "customer left", ...ACTOR)
      expect(released.code, released.stderr).toBe(0)
      expect(released.stdout).toContain(`Ended session ${s.d?.id}: `)
      // Billed from when the retried provisioning made the code, not from the booking 5 minutes before.
      const d = (await qwipJson<{ session: SessionJson }>(["sessions", "show", s.d?.id ?? ""], env)).session
      expect(d.state).toBe("Ended")
      expect(new Date(d.billedFrom ?? 0).getTime() - new Date(d.startedAt).getTime()).toBeGreaterThan(4 * 60_000)
      const pods = await qwipJson<ReadonlyArray<{ id: string; inUse: boolean; liveSessions: ReadonlyArray<string> }>>(
        ["pods", "list"],
        env
      )
      expect(pods.find((p) => p.id === "pod-d")).toMatchObject({ inUse: false, liveSessions: [] })
    })

    it("mail, database status and the staff audit log", async () => {
      await inStore(env, drain)
      const mails = await qwipJson<ReadonlyArray<{ id: string; kind: string; subject: string }>>(["mail", "list"], env)
      expect(mails.map((m) => m.kind)).toEqual(expect.arrayContaining(["AccessReady", "Receipt", "PaymentProblem"]))
      const receipt = mails.find((m) => m.kind === "Receipt")
      const mail = await qwipJson<{ subject: string; text: string }>(["mail", "show", receipt?.id ?? ""], env)
      expect(mail.subject).toContain("receipt")
      const status = await qwipJson<{ databaseVersion: number; codeVersion: number; pending: Array<unknown> }>(
        ["db", "status"],
        env
      )
      const latest = await Effect.runPromise(Effect.orDie(latestVersion))
      expect(status).toMatchObject({ databaseVersion: latest, codeVersion: latest, pending: [] })
      const migrated = await run("db", "migrate", ...ACTOR)
      expect(migrated.stdout).toContain(`Already at version ${latest}`)
      const audit = await inStore(
        env,
        Effect.flatMap(StoreRecords, (r) => r.listAudit({ limit: 100 }))
      )
      expect(new Set(audit.map((a) => a.actor))).toEqual(new Set(["ada"]))
      expect(new Set(audit.map((a) => a.action))).toEqual(
        new Set([
          "pods.add",
          "pods.set-rate",
          "pods.set-device",
          "codes.rotate",
          "codes.reveal",
          "sessions.end",
          "payments.retry",
          "sessions.retry-provisioning",
          "pods.release"
        ])
      )
      const rotate = audit.find((a) => a.action === "codes.rotate" && a.subject === "pod-b")
      expect(rotate?.after).toEqual({ count: 3, masked: ["****1", "****2", "****3"] })
    })

    it("codes rekey: interrupted part-way, then run again, leaves every code sealed under the new key", async () => {
      // More sessions with stored codes, all sealed under the key in use now.
      await inStore(
        env,
        Effect.gen(function* () {
          for (let i = 0; i < 6; i++) {
            const session = yield* book("pod-b", CARDS.succeeds, { minutesAgo: 2 })
            yield* SessionEnd.endSession(session.id).pipe(ago(1))
          }
        })
      )
      const oldKey =
        env.STATIC_CODE_B64_KEY ??
        (JSON.parse(readFileSync(join(env.QWIP_DATA_DIR ?? "", "secrets.json"), "utf8")) as { staticCodeKey: string })
          .staticCodeKey
      const newKey = StaticCodeTokens.generateKey()
      const rotated = { ...env, STATIC_CODE_B64_KEY: newKey, STATIC_CODE_PREVIOUS_KEYS: oldKey }
      const newOnly = await Effect.runPromise(StaticCodeTokens.makeStaticCodeCipher({ current: Redacted.make(newKey) }))
      const stored = () =>
        inStore(
          rotated,
          Effect.flatMap(StaffStore, (staff) => staff.sealedCodeSessions(Option.none(), 1000)).pipe(
            Effect.map((sessions) => sessions.map((x) => Option.getOrThrow(x.access).sealedCode))
          )
        )
      const underNewKey = async () => {
        const tokens = await stored()
        const opened = await Promise.all(tokens.map((tk) => Effect.runPromise(Effect.either(newOnly.open(tk)))))
        return { total: tokens.length, sealedAnew: opened.filter((o) => o._tag === "Right").length }
      }
      expect((await underNewKey()).sealedAnew).toBe(0)

      const slow = start(["codes", "rekey", "--batch-size", "1", "--pause-ms", "500", ...ACTOR], rotated)
      await waitFor(slow, (o) => /rekey: [2-5]\//.test(o.stderr))
      slow.child.kill("SIGINT")
      const interrupted = await slow.done
      expect(interrupted.code).toBe(130)
      const partial = await underNewKey()
      expect(partial.total).toBe(9)
      expect(partial.sealedAnew).toBeGreaterThan(0)
      expect(partial.sealedAnew).toBeLessThan(partial.total)

      const rest = await qwip(["codes", "rekey", ...ACTOR], rotated)
      expect(rest.code, rest.stderr).toBe(0)
      expect(rest.stdout).toContain(
        `Resealed ${partial.total - partial.sealedAnew}, already current ${partial.sealedAnew}, unreadable 0`
      )
      expect(await underNewKey()).toEqual({ total: 9, sealedAnew: 9 })
      // With the old key retired, every code still opens and nothing is left to reseal.
      const retired = await qwip(["codes", "rekey", ...ACTOR], { ...env, STATIC_CODE_B64_KEY: newKey })
      expect(retired.code, retired.stderr).toBe(0)
      expect(retired.stdout).toContain("Resealed 0, already current 9, unreadable 0")
    })

    it("pods: a pod blocked by a door code still on its lock is listed so, and freed only by force, audited", async () => {
      expect(
        (
          await run(
            "pods",
            "add",
            "pod-h",
            "--name",
            "Pod H",
            "--address",
            "x",
            "--rate",
            "0.5",
            "--device",
            "dev-h",
            ...ACTOR
          )
        ).code
      ).toBe(0)
      // A session ended while its lock code could not be removed (a lock-provider outage).
      const held = await inStore(
        env,
        Effect.gen(function* () {
          const store = yield* SessionStore
          const startedAt = new Date(Date.now() - 30 * 60_000)
          const opened = yield* store.openSession(makeSession("pod-h" as PodId, { startedAt }), [])
          const lockCode = new AccessGrant({ ref: randomUUID(), sealedCode: "", mode: "lock-provider" })
          const active = yield* store.commit({
            before: opened,
            after: next(
              opened,
              { state: new Active({ activatedAt: startedAt }), access: Option.some(lockCode) },
              startedAt
            ),
            releasePod: false,
            work: []
          })
          const endedAt = new Date(Date.now() - 60_000)
          const ending = yield* store.commit({
            before: active,
            after: beginEnd(active, endedAt),
            releasePod: false,
            work: []
          })
          const paid = new Paid({ paymentIntentId: "pi_h", amountPence: pence(1450) })
          return yield* store.commit({
            before: ending,
            after: close(ending, paid, endedAt),
            releasePod: false,
            codeHold: "keep",
            work: []
          })
        })
      )
      type PodJson = { id: string; inUse: boolean; liveSessions: ReadonlyArray<string>; codeHold: unknown }
      const podH = async () =>
        (await qwipJson<ReadonlyArray<PodJson>>(["pods", "list"], env)).find((p) => p.id === "pod-h")
      expect(await podH()).toMatchObject({
        inUse: true,
        liveSessions: [],
        codeHold: { sessionId: held.id, since: held.updatedAt.toISOString() }
      })
      const table = await run("pods", "list")
      expect(table.stdout).toContain(`session ${held.id} since ${held.updatedAt.toISOString()}`)
      expect(table.stdout).toContain("Pod pod-h is blocked")
      expect(table.stdout).toContain("qwip pods release pod-h --force --reason")

      expectOneLine(
        await run("pods", "release", "pod-h", ...ACTOR),
        1,
        `session ${held.id}'s door code is not confirmed removed from the lock`,
        "qwip pods release pod-h --force"
      )
      const forced = await run("pods", "release", "pod-h", "--force", "--reason", "code removed by hand", ...ACTOR)
      expect(forced.code, forced.stderr).toBe(0)
      expect(forced.stdout).toContain("Pod pod-h is free.")
      expect(await podH()).toMatchObject({ inUse: false, codeHold: null })
      const audit = await inStore(
        env,
        Effect.flatMap(StoreRecords, (r) => r.listAudit({ limit: 100 }))
      )
      const release = audit.find((a) => a.action === "pods.release" && a.subject === "pod-h")
      expect(release?.actor).toBe("ada")
      expect(release?.after).toMatchObject({
        inUse: false,
        reason: "code removed by hand",
        codeMayBeOnLock: { sessionId: held.id }
      })
    })
  })
}
