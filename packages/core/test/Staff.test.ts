import { describe, expect, it } from "@effect/vitest"
import {
  Checkout,
  chargeKeyFor,
  NotBilled,
  type PodId,
  pence,
  rate,
  type Session,
  type SessionListFilter,
  SessionStore,
  StaffCodes,
  StaffEnd,
  StaffPayments,
  StaffPods,
  StaffSessions,
  StaticCodes,
  Viewing
} from "@qwip/core"
import {
  demoPod,
  FakeLock,
  FakePayments,
  FakeStaticCodes,
  KeyedStaticCodes,
  MemoryStaff,
  MemoryStore
} from "@qwip/core/testing"
import { Duration, Effect, type Layer, Option, TestClock } from "effect"
import { activeSession, book, drainWork, staffKit, withTimePassing } from "./kit.js"

const kit = () =>
  staffKit([
    demoPod({ id: "pod-1" }),
    demoPod({ id: "pod-2" }),
    demoPod({ id: "pod-l", mode: "lock-provider", deviceId: "dev-1" })
  ])

const withCodes = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const codes = yield* FakeStaticCodes
    codes.setCodes("pod-1" as PodId, ["04726", "12345"])
    codes.setCodes("pod-2" as PodId, ["55555"])
    return yield* self
  })

const staffTest = <A, E>(name: string, body: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof kit>>>) =>
  it.effect(name, () => withCodes(body).pipe(Effect.provide(kit())))

const by = "ada"
const actions = Effect.map(MemoryStaff, (m) => m.audit().map((a) => a.action))
const outcomeOf = (s: Session) => (s.state._tag === "Ended" ? s.state.outcome._tag : s.state._tag)
const endAfter = (session: Session, minutes: number) =>
  Effect.zipRight(TestClock.adjust(Duration.minutes(minutes)), StaffEnd.endAsStaff(session.id, { by }))

describe("Staff: sessions", () => {
  staffTest(
    "ending charges once, frees the pod, and refuses a second end",
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const store = yield* MemoryStore
      const session = yield* activeSession()
      const ended = yield* endAfter(session, 10)
      expect(outcomeOf(ended.after)).toBe("Paid")
      expect(ended.resumed).toBe(false)
      expect(store.podInUse(session.podId)).toBe(false)
      const again = yield* Effect.flip(StaffEnd.endAsStaff(session.id, { by }))
      expect(again._tag).toBe("SessionAlreadyEnded")
      expect(payments.succeededChargesFor(session.id)).toBe(1)
      const audit = (yield* MemoryStaff).audit()
      expect(audit.map((a) => [a.actor, a.action, a.subject])).toEqual([[by, "sessions.end", session.id]])
      expect(audit[0]?.before).toMatchObject({ state: "Active" })
      expect(audit[0]?.after).toMatchObject({ state: "Ended", outcome: "Paid", chargePence: 500 })
    })
  )

  staffTest(
    "an interrupted end is finished with one charge; the recorded end time wins",
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const store = yield* MemoryStore
      const session = yield* activeSession()
      yield* TestClock.adjust(Duration.minutes(10))
      // The close (second commit) never lands: the end stops in Ending.
      store.faults.arm("commit", "before", { skip: 1 })
      yield* Effect.exit(StaffEnd.endAsStaff(session.id, { by }))
      expect(store.sessions()[0]?.state._tag).toBe("Ending")
      yield* TestClock.adjust(Duration.minutes(5))
      const resumed = yield* StaffEnd.endAsStaff(session.id, { by, at: new Date(60_000) })
      expect(resumed.resumed).toBe(true)
      expect(resumed.after.state._tag === "Ended" && resumed.after.state.quote.chargePence).toBe(500)
      expect(payments.succeededChargesFor(session.id)).toBe(1)
    })
  )

  staffTest(
    "ending at a given time or waived; never in the future; provisioning-failed sessions cannot end",
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const first = yield* activeSession("pod-1")
      yield* TestClock.adjust(Duration.minutes(30))
      const future = yield* Effect.flip(StaffEnd.endAsStaff(first.id, { by, at: new Date(Date.UTC(2100, 0, 1)) }))
      expect(future._tag).toBe("InvalidEndTime")
      const atTen = yield* StaffEnd.endAsStaff(first.id, { by, at: new Date(first.startedAt.getTime() + 600_000) })
      expect(atTen.after.state._tag === "Ended" && atTen.after.state.quote.chargePence).toBe(500)

      const second = yield* activeSession("pod-2")
      yield* TestClock.adjust(Duration.minutes(3))
      const blank = yield* Effect.flip(StaffEnd.endAsStaff(second.id, { by, waiveReason: "  " }))
      expect(blank._tag).toBe("InvalidStaffRequest")
      const waived = yield* StaffEnd.endAsStaff(second.id, { by, waiveReason: "door jammed" })
      expect(outcomeOf(waived.after)).toBe("Waived")
      expect(payments.charges().filter((c) => c.sessionId === second.id)).toEqual([])

      const lock = yield* FakeLock
      lock.rejectDevice("dev-1")
      const failed = yield* activeSession("pod-l")
      expect(failed.state._tag).toBe("Provisioning")
      const stored = yield* Effect.flatMap(SessionStore, (s) => s.session(failed.id))
      expect(Option.getOrThrow(stored).state._tag).toBe("ProvisioningFailed")
      const refused = yield* Effect.flip(StaffEnd.endAsStaff(failed.id, { by }))
      expect(refused._tag).toBe("IllegalTransition")
    })
  )

  staffTest(
    "lists all, live, overdue and failed sessions, newest first, by pod",
    Effect.gen(function* () {
      const lock = yield* FakeLock
      const old = yield* activeSession("pod-1")
      yield* TestClock.adjust(Duration.hours(4))
      lock.rejectDevice("dev-1")
      const failed = yield* activeSession("pod-l")
      const fresh = yield* activeSession("pod-2")
      const ids = (filter: SessionListFilter, podId?: string) =>
        Effect.map(StaffSessions.listSessions({ filter, podId: podId as PodId | undefined }), (l) => l.map((s) => s.id))
      expect(yield* ids("all")).toEqual([fresh.id, failed.id, old.id])
      expect(yield* ids("live")).toEqual([fresh.id, old.id])
      expect(yield* ids("overdue")).toEqual([old.id])
      expect(yield* ids("failed")).toEqual([failed.id])
      expect(yield* ids("all", "pod-2")).toEqual([fresh.id])
    })
  )

  staffTest(
    "retrying provisioning queues a new work key and provisions a stuck session; a failed one is not revived",
    Effect.gen(function* () {
      const store = yield* MemoryStore
      const stuck = yield* book("pod-1")
      const retried = yield* withTimePassing(StaffSessions.retryProvisioning(stuck.id, { by }))
      expect(retried.after.state._tag).toBe("Active")
      expect(retried.workKey).toMatch(new RegExp(`^provision-access:${stuck.id}:staff-`))
      expect(
        store
          .work()
          .filter((w) => w.item.kind === "provision-access")
          .map((w) => w.item.key)
      ).toEqual([`provision-access:${stuck.id}`, retried.workKey])
      yield* drainWork()
      expect(Option.isSome((yield* Viewing.viewSession(stuck.id)).accessCode)).toBe(true)
      const again = yield* Effect.flip(StaffSessions.retryProvisioning(stuck.id, { by }))
      expect(again._tag).toBe("NothingToRetry")

      const lock = yield* FakeLock
      lock.rejectDevice("dev-1")
      const failed = yield* activeSession("pod-l")
      const refused = yield* Effect.flip(StaffSessions.retryProvisioning(failed.id, { by }))
      expect(refused._tag === "NothingToRetry" && refused.reason).toContain("failed for good")
      expect(yield* actions).toEqual(["sessions.retry-provisioning"])
    })
  )
})

describe("Staff: payments", () => {
  it.effect("with a card check hold, a retry charges only what the captured hold did not cover", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* activeSession("pod-1", "declines")
        // 50 minutes at the demo rate is 2500p: the 1500p hold is captured, the 1000p remainder declined.
        const ended = yield* endAfter(session, 50)
        expect(outcomeOf(ended.after)).toBe("PaymentFailed")
        expect(payments.captures().map((c) => c.amountPence)).toEqual([1500])
        payments.confirmCard(session.setupIntentId, { behaviour: "succeeds" })
        const retried = yield* StaffPayments.retryPayment(session.id, { by })
        expect(retried.result).toBe("paid")
        const state = retried.session.state
        expect(state._tag === "Ended" ? state.outcome : state).toMatchObject({ _tag: "Paid", amountPence: 2500 })
        expect(payments.charges().map((c) => [c.idempotencyKey, c.amountPence])).toEqual([
          [chargeKeyFor(session.id), 1000],
          [StaffPayments.retryChargeKeyFor(session.id, 1), 1000]
        ])
        expect(payments.netReceivedFor(session.id)).toBe(2500)
      })
    ).pipe(
      Effect.provide(
        staffKit([demoPod({ id: "pod-1" }), demoPod({ id: "pod-2" })], {
          bookingHoldPence: 1500
        })
      )
    )
  )

  staffTest(
    "after a decline, each retry gets its own attempt key; once paid, nothing more is charged",
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const staff = yield* MemoryStaff
      const session = yield* activeSession("pod-1", "declines")
      const ended = yield* endAfter(session, 10)
      expect(outcomeOf(ended.after)).toBe("PaymentFailed")

      const first = yield* StaffPayments.retryPayment(session.id, { by })
      expect([first.result, first.attempt, Option.getOrNull(first.idempotencyKey)]).toEqual([
        "declined",
        1,
        `${chargeKeyFor(session.id)}-retry-1`
      ])
      // The customer fixes their card (the fake then finds no declining card).
      payments.confirmCard(session.setupIntentId, { behaviour: "succeeds" })
      const second = yield* StaffPayments.retryPayment(session.id, { by })
      expect([second.result, second.attempt, outcomeOf(second.session)]).toEqual(["paid", 2, "Paid"])
      expect(payments.succeededChargesFor(session.id)).toBe(1)
      expect(payments.charges().map((c) => c.idempotencyKey)).toEqual([
        chargeKeyFor(session.id),
        StaffPayments.retryChargeKeyFor(session.id, 1),
        StaffPayments.retryChargeKeyFor(session.id, 2)
      ])
      expect(staff.attempts().map((a) => [a.attempt, a.status])).toEqual([
        [1, "declined"],
        [2, "succeeded"]
      ])
      const settled = yield* Effect.flip(StaffPayments.retryPayment(session.id, { by }))
      expect(settled._tag).toBe("NothingToRetry")
      expect(staff.audit().filter((a) => a.action === "payments.retry").length).toBe(2)
    })
  )

  staffTest(
    "an unknown outcome is settled by reading the charge back: no second charge",
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const session = yield* activeSession("pod-1")
      payments.faults.arm("chargeSession", "after", { times: 3 })
      const ended = yield* withTimePassing(endAfter(session, 10))
      expect(outcomeOf(ended.after)).toBe("PaymentUnknown")
      const retried = yield* StaffPayments.retryPayment(session.id, { by })
      expect([retried.result, outcomeOf(retried.session)]).toEqual(["already_paid", "Paid"])
      expect(payments.charges().length).toBe(1)
    })
  )

  staffTest(
    "a retry whose answer was lost stays pending and is repeated with the same key",
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const staff = yield* MemoryStaff
      const session = yield* activeSession("pod-1", "declines")
      yield* endAfter(session, 10)
      payments.confirmCard(session.setupIntentId, { behaviour: "succeeds" })
      payments.faults.arm("chargeSession", "after", { times: 3 })
      const lost = yield* withTimePassing(StaffPayments.retryPayment(session.id, { by }))
      expect([lost.result, outcomeOf(lost.session)]).toEqual(["unknown", "PaymentFailed"])
      expect(staff.attempts().map((a) => a.status)).toEqual(["pending"])
      const again = yield* StaffPayments.retryPayment(session.id, { by })
      expect([again.result, again.attempt, outcomeOf(again.session)]).toEqual(["paid", 1, "Paid"])
      expect(payments.succeededChargesFor(session.id)).toBe(1)
      expect(payments.charges().length).toBe(2)
    })
  )

  staffTest(
    "a charge waiting for the customer's authentication is not charged again; live sessions have nothing to retry",
    Effect.gen(function* () {
      const session = yield* activeSession("pod-1", "needs_authentication")
      const live = yield* Effect.flip(StaffPayments.retryPayment(session.id, { by }))
      expect(live._tag).toBe("NothingToRetry")
      yield* endAfter(session, 10)
      const refused = yield* Effect.flip(StaffPayments.retryPayment(session.id, { by }))
      expect(refused._tag).toBe("PaymentNeedsCustomer")
    })
  )

  staffTest(
    "a refund after a staff retry comes from the retry's PaymentIntent, audited with its key",
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const staff = yield* MemoryStaff
      const session = yield* activeSession("pod-1", "declines")
      yield* endAfter(session, 10)
      const nothing = yield* Effect.flip(
        StaffPayments.refundPayment(session.id, { amountPence: Option.none(), reason: "sorry", by })
      )
      expect(nothing._tag).toBe("NothingToRefund")
      payments.setBehaviour(session.setupIntentId, "succeeds")
      const paid = yield* StaffPayments.retryPayment(session.id, { by })
      expect(paid.result).toBe("paid")
      const retryIntent = payments.charges().find((c) => c.idempotencyKey === Option.getOrNull(paid.idempotencyKey))
      const refund = yield* StaffPayments.refundPayment(session.id, {
        amountPence: Option.some(pence(150)),
        reason: "sorry",
        by
      })
      expect(refund.refunds.map((r) => [r.paymentIntentId, r.amountPence])).toEqual([
        [retryIntent?.paymentIntentId, 150]
      ])
      expect(payments.netReceivedFor(session.id)).toBe(500 - 150)
      const audit = staff.audit().filter((a) => a.action === "payments.refund")
      expect(audit.map((a) => [a.actor, a.subject, a.before])).toEqual([
        [by, session.id, { amountPence: 150, reason: "sorry" }]
      ])
      expect(audit[0]?.after).toMatchObject({
        key: `qwip-refund-${session.id}-150-sorry`,
        refundedPence: 150,
        totalRefundedPence: 150,
        repeated: false
      })
    })
  )

  staffTest(
    "staff's reconciliation is audited with what it found and changes nothing when all agrees",
    Effect.gen(function* () {
      const session = yield* activeSession("pod-1")
      yield* endAfter(session, 10)
      const until = new Date((yield* TestClock.currentTimeMillis) + 1)
      const report = yield* StaffPayments.reconcile({ since: new Date(0), until, by })
      expect([report.checked, report.findings]).toEqual([1, []])
      expect((yield* actions).filter((a) => a.startsWith("payments."))).toEqual(["payments.reconcile"])
    })
  )
})

describe("Staff: pods", () => {
  staffTest(
    "release refuses while a live session holds the pod; forced, it ends the session through the ordinary end",
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const store = yield* MemoryStore
      const session = yield* activeSession("pod-1")
      yield* TestClock.adjust(Duration.minutes(10))
      const held = yield* Effect.flip(StaffPods.releasePod("pod-1" as PodId, { by }))
      expect(held._tag === "PodHeld" && held.sessionIds).toEqual([session.id])
      const noReason = yield* Effect.flip(StaffPods.releasePod("pod-1" as PodId, { by, force: { reason: " " } }))
      expect(noReason._tag).toBe("InvalidStaffRequest")
      const released = yield* StaffPods.releasePod("pod-1" as PodId, { by, force: { reason: "customer left" } })
      expect(released.endedSessions.map(outcomeOf)).toEqual(["Paid"])
      expect(released.after.inUse).toBe(false)
      expect(store.podInUse("pod-1" as PodId)).toBe(false)
      expect(payments.succeededChargesFor(session.id)).toBe(1)
      const free = yield* StaffPods.releasePod("pod-1" as PodId, { by })
      expect(free.changed).toBe(false)
      expect(yield* actions).toEqual(["pods.release"])

      // A session still provisioning never had a code: the billing rule charges nothing, and says why.
      const stuck = yield* book("pod-2")
      const forced = yield* StaffPods.releasePod("pod-2" as PodId, { by, force: { reason: "lock offline" } })
      expect(forced.endedSessions.map((s) => s.state._tag === "Ended" && s.state.outcome)).toEqual([
        new NotBilled({ reason: "no_door_code" })
      ])
      expect(payments.charges().filter((c) => c.sessionId === stuck.id)).toEqual([])
      const missing = yield* Effect.flip(StaffPods.releasePod("nope" as PodId, { by }))
      expect(missing._tag).toBe("PodNotFound")
    })
  )

  staffTest(
    "rates apply to new sessions only; devices cannot change under a live session; pods are added once",
    Effect.gen(function* () {
      const store = yield* SessionStore
      const session = yield* activeSession("pod-1")
      const changed = yield* StaffPods.setPodRate("pod-1" as PodId, rate("0.75"), { by })
      expect([changed.changed, changed.after.pod.rate]).toEqual([true, rate("0.75")])
      const same = yield* StaffPods.setPodRate("pod-1" as PodId, rate("0.75"), { by })
      expect(same.changed).toBe(false)
      expect(Option.getOrThrow(yield* store.session(session.id)).rate).toBe(rate("0.5"))

      const held = yield* Effect.flip(
        StaffPods.setPodDevice(
          "pod-1" as PodId,
          { deviceId: Option.some("dev-9"), accessMode: "lock-provider" },
          { by }
        )
      )
      expect(held._tag).toBe("PodHeld")
      const noDevice = yield* Effect.flip(
        StaffPods.setPodDevice("pod-2" as PodId, { deviceId: Option.none(), accessMode: "lock-provider" }, { by })
      )
      expect(noDevice._tag).toBe("PodMisconfigured")
      const moved = yield* StaffPods.setPodDevice("pod-l" as PodId, { deviceId: Option.some("dev-2") }, { by })
      expect(Option.getOrNull(moved.after.pod.lockDeviceId)).toBe("dev-2")

      const added = yield* StaffPods.addPod(demoPod({ id: "pod-new" }), { by })
      expect(added.inUse).toBe(false)
      const twice = yield* Effect.flip(StaffPods.addPod(demoPod({ id: "pod-new" }), { by }))
      expect(twice._tag).toBe("PodAlreadyExists")
      const started = yield* Checkout.startCheckout("pod-new" as PodId)
      expect(started.podId).toBe("pod-new")
      expect(yield* actions).toEqual(["pods.set-rate", "pods.set-device", "pods.add"])
    })
  )
})

describe("Staff: codes", () => {
  staffTest(
    "rotating codes: validated, masked in the audit log, live sessions keep their code",
    Effect.gen(function* () {
      const codes = yield* StaticCodes
      const session = yield* activeSession("pod-1")
      const code = Option.getOrThrow((yield* Viewing.viewSession(session.id)).accessCode)
      for (const [list, reason] of [
        [[], "empty"],
        [["123"], "entry 1"],
        [["11111", "11111"], "repeats"]
      ] as const) {
        const error = yield* Effect.flip(StaffCodes.rotateCodes("pod-1" as PodId, list, { by }))
        expect(error._tag === "InvalidCodeList" && error.reason).toContain(reason)
      }
      const rotated = yield* StaffCodes.rotateCodes("pod-1" as PodId, ["90001", "90002"], { by })
      expect([rotated.before, rotated.after, rotated.liveSessions]).toEqual([2, ["90001", "90002"], 1])
      expect(yield* codes.codesFor("pod-1" as PodId)).toEqual(["90001", "90002"])
      expect(Option.getOrThrow((yield* Viewing.viewSession(session.id)).accessCode)).toBe(code)
      const audit = (yield* MemoryStaff).audit()
      expect(audit[0]?.after).toEqual({ count: 2, masked: ["****1", "****2"] })
      expect(JSON.stringify(audit)).not.toContain("90001")
      const generated = yield* StaffCodes.generateCodes(20, 5)
      expect(new Set(generated).size).toBe(20)
      expect(generated.every((c) => /^\d{5}$/.test(c))).toBe(true)
      expect((yield* Effect.flip(StaffCodes.generateCodes(0))).reason).toContain("between 1 and")
    })
  )

  staffTest(
    "rekeying is resumable: an interrupted run and a re-run leave every code sealed under the new key",
    Effect.gen(function* () {
      const keys = yield* KeyedStaticCodes
      const codes = yield* StaticCodes
      const sessions: Array<Session> = []
      for (let i = 0; i < 5; i++) {
        const s = yield* activeSession(i % 2 === 0 ? "pod-1" : "pod-2")
        sessions.push(s)
        yield* endAfter(s, 1)
      }
      const live = yield* activeSession("pod-1")
      const liveCode = Option.getOrThrow((yield* Viewing.viewSession(live.id)).accessCode)
      keys.rotateKey()
      const seen: Array<number> = []
      const partial = yield* StaffCodes.rekeyAccessCodes({
        by,
        batchSize: 2,
        limit: 3,
        onProgress: (p) => Effect.sync(() => void seen.push(p.examined))
      })
      expect([partial.total, partial.examined, partial.rekeyed]).toEqual([6, 3, 3])
      expect(seen).toEqual([2, 3])
      const rest = yield* StaffCodes.rekeyAccessCodes({ by })
      expect([rest.examined, rest.rekeyed, rest.current, rest.unreadable]).toEqual([6, 3, 3, []])
      keys.retireOldKeys()
      const store = yield* MemoryStore
      for (const s of store.sessions()) {
        const grant = Option.getOrThrow(s.access)
        expect(keys.generationOf(grant.sealedCode)).toBe(2)
        expect(grant.ref).toBe(grant.sealedCode)
        yield* codes.open(grant.sealedCode)
      }
      expect(Option.getOrThrow((yield* Viewing.viewSession(live.id)).accessCode)).toBe(liveCode)
      expect((yield* actions).filter((a) => a === "codes.rekey").length).toBe(2)
    })
  )
})
