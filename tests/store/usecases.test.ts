/**
 * @qwip/core's use-case scenarios (packages/core/test/UseCases.test.ts, written against the
 * memory store) run against the SQL stores: [pglite] always, [postgres] when
 * QWIP_TEST_DATABASE_URL is set. Each scenario gets a fresh database; where the core checks
 * the memory store's state, these read the store (and today's tables) instead.
 */
import { expect } from "@effect/vitest"
import {
  CardSetUpSucceeded,
  ChargeSucceeded,
  Checkout,
  chargeKeyFor,
  handlePaymentEvent,
  Overdue,
  type PodId,
  pence,
  SessionEnd,
  type SessionId,
  SessionStore,
  type SetupIntentId,
  Staff,
  Viewing,
  Worker
} from "@qwip/core"
import { demoPod, FakeLock, FakeMailer, FakePayments, FakeStaticCodes } from "@qwip/core/testing"
import { Duration, Effect, Either, Option } from "effect"
import { StoreRecords } from "../../packages/adapters/src/store/index.js"
import {
  activeSession,
  advance,
  book,
  drainWork,
  drainWorkFor,
  forEachScenarioStore,
  type ScenarioServices,
  StoreFaults,
  scenario
} from "../support/Scenarios.js"
import { TestSql } from "../support/Stores.js"

/** Two static-code pods with codes, as the core's `staticKit` plus `withCodes`. */
const staticPods = Effect.gen(function* () {
  const records = yield* StoreRecords
  yield* records.upsertPod(demoPod({ id: "pod-1" }))
  yield* records.upsertPod(demoPod({ id: "pod-2" }))
  const codes = yield* FakeStaticCodes
  codes.setCodes("pod-1" as PodId, ["04726", "12345"])
  codes.setCodes("pod-2" as PodId, ["55555"])
})

const lockPod = Effect.flatMap(StoreRecords, (records) =>
  records.upsertPod(demoPod({ id: "pod-1", mode: "lock-provider", deviceId: "dev-1" }))
)

const withStatic = <A, E>(body: Effect.Effect<A, E, ScenarioServices>) => scenario(Effect.zipRight(staticPods, body))
const withLock = <A, E>(body: Effect.Effect<A, E, ScenarioServices>) => scenario(Effect.zipRight(lockPod, body))

const sentTags = Effect.map(FakeMailer, (m) => m.sent().map((x) => x._tag))
const podInUse = (id: string) =>
  Effect.flatMap(SessionStore, (s) => s.podStatus(id as PodId)).pipe(Effect.map((s) => Option.getOrThrow(s).inUse))
const stored = (id: SessionId) => Effect.flatMap(SessionStore, (s) => s.session(id)).pipe(Effect.map(Option.getOrThrow))
const sessionCount = Effect.flatMap(TestSql, (sql) =>
  sql.query<{ n: string | number }>("select count(*) as n from pod_sessions")
).pipe(Effect.map((rows) => Number(rows[0]?.n)))

forEachScenarioStore("core use cases", (it) => {
  it.scoped("happy path: checkout, finalize, provision, view, end, charged once, pod free", () =>
    withStatic(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const records = yield* StoreRecords
        const session = yield* book("pod-1")
        expect(session.state._tag).toBe("Provisioning")
        expect(yield* podInUse("pod-1")).toBe(true)
        yield* drainWork()
        const view = yield* Viewing.viewSession(session.id)
        expect(view.provisioning).toBe("ready")
        expect(["04726", "12345"]).toContain(Option.getOrThrow(view.accessCode))
        expect(yield* sentTags).toContain("AccessReady")

        yield* advance(Duration.minutes(10))
        const ended = yield* SessionEnd.endSession(session.id)
        expect(ended.state._tag === "Ended" && ended.state.outcome._tag).toBe("Paid")
        expect(ended.state._tag === "Ended" && ended.state.quote.chargePence).toBe(500)
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(payments.charges()[0]?.idempotencyKey).toBe(chargeKeyFor(session.id))
        expect(Option.getOrThrow(yield* records.chargeFor(session.id))).toMatchObject({
          status: "succeeded",
          amountPence: 500,
          idempotencyKey: chargeKeyFor(session.id)
        })
        expect(yield* podInUse("pod-1")).toBe(false)
        yield* drainWork()
        expect(yield* sentTags).toContain("Receipt")
        const after = yield* Viewing.viewSession(session.id)
        expect(after.accessCode).toEqual(Option.none())
        expect(after.isComplete).toBe(true)
        expect(Option.isSome(after.session.accessRevokedAt)).toBe(true)
        // everything due has run; the close-session safety net waits for its time
        const work = yield* records.workFor(session.id)
        expect(work.filter((w) => w.status !== "done").map((w) => w.kind)).toEqual(["close-session"])
      })
    )
  )

  it.scoped("a double finalize makes one session", () =>
    withStatic(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const started = yield* Checkout.startCheckout("pod-1" as PodId)
        payments.confirmCard(started.setupIntentId)
        const a = yield* Checkout.finalizeBooking(started)
        const b = yield* Checkout.finalizeBooking(started)
        expect(b.id).toBe(a.id)
        expect(yield* sessionCount).toBe(1)
      })
    )
  )

  it.scoped("50 concurrent finalizes on one pod make exactly one session", () =>
    withStatic(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const checkouts = yield* Effect.forEach(Array.from({ length: 50 }), () =>
          Checkout.startCheckout("pod-1" as PodId)
        )
        for (const c of checkouts) payments.confirmCard(c.setupIntentId)
        const results = yield* Effect.forEach(checkouts, (c) => Effect.either(Checkout.finalizeBooking(c)), {
          concurrency: "unbounded"
        })
        expect(results.filter(Either.isRight)).toHaveLength(1)
        expect(results.filter(Either.isLeft).every((l) => l.left._tag === "PodInUse")).toBe(true)
        expect(yield* sessionCount).toBe(1)
      })
    )
  )

  it.scoped("50 concurrent ends charge once and record one charge", () =>
    withStatic(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(20))
        const ends = yield* Effect.forEach(Array.from({ length: 50 }), () => SessionEnd.endSession(session.id), {
          concurrency: "unbounded"
        })
        expect(new Set(ends.map((e) => e.version)).size).toBe(1)
        expect((yield* FakePayments).succeededChargesFor(session.id)).toBe(1)
        expect((yield* FakePayments).charges()).toHaveLength(1)
        const charges = yield* Effect.flatMap(TestSql, (sql) =>
          sql.query("select * from session_charges where session_id = $1", [session.id])
        )
        expect(charges).toHaveLength(1)
        expect(yield* podInUse("pod-1")).toBe(false)
      })
    )
  )

  it.scoped("crash after the charge, before the close lands: a retry charges nothing new", () =>
    withStatic(
      Effect.gen(function* () {
        const faults = yield* StoreFaults
        const payments = yield* FakePayments
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(20))
        faults.arm("commit", "before", { skip: 1 }) // fixing the end lands; the close does not
        expect((yield* Effect.exit(SessionEnd.endSession(session.id)))._tag).toBe("Failure")
        expect((yield* stored(session.id)).state._tag).toBe("Ending")
        expect(yield* podInUse("pod-1")).toBe(true)
        expect(payments.charges()).toHaveLength(1)

        yield* advance(Duration.minutes(5)) // a later retry must not move the end
        const retried = yield* SessionEnd.endSession(session.id)
        expect(retried.state._tag === "Ended" && retried.state.quote.billableSeconds).toBe(20 * 60)
        expect(payments.charges()).toHaveLength(1)
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(yield* podInUse("pod-1")).toBe(false)
      })
    )
  )

  it.scoped("crash right after the end is fixed, before charging: the safety net finishes it once", () =>
    withStatic(
      Effect.gen(function* () {
        const faults = yield* StoreFaults
        const payments = yield* FakePayments
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(20))
        faults.arm("commit", "after") // the end is fixed, then the process dies
        expect((yield* Effect.exit(SessionEnd.endSession(session.id)))._tag).toBe("Failure")
        expect((yield* stored(session.id)).state._tag).toBe("Ending")
        expect(payments.charges()).toHaveLength(0)

        yield* advance(Duration.minutes(3))
        yield* drainWork()
        const closed = yield* stored(session.id)
        expect(closed.state._tag === "Ended" && closed.state.outcome._tag).toBe("Paid")
        expect(payments.charges()).toHaveLength(1)
        expect(yield* podInUse("pod-1")).toBe(false)
      })
    )
  )

  it.scoped("a charge whose answer is lost is kept unknown, then settled by reading it back", () =>
    withStatic(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const records = yield* StoreRecords
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(20))
        payments.faults.arm("chargeSession", "after", { times: 3 }) // charged, every answer lost
        const result = yield* SessionEnd.endSession(session.id)
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("PaymentUnknown")
        expect(Option.getOrThrow(yield* records.chargeFor(session.id)).status).toBe("unknown")
        expect(yield* podInUse("pod-1")).toBe(false)
        expect(payments.charges()).toHaveLength(1)

        yield* advance(Duration.minutes(2))
        yield* drainWork()
        const settled = yield* stored(session.id)
        expect(settled.state._tag === "Ended" && settled.state.outcome._tag).toBe("Paid")
        expect(Option.getOrThrow(yield* records.chargeFor(session.id)).status).toBe("succeeded")
        expect(payments.charges()).toHaveLength(1)
        expect(yield* sentTags).toContain("Receipt")
      })
    )
  )

  it.scoped("a declined card: session closed anyway, staff told, one attempt recorded in today's table", () =>
    withStatic(
      Effect.gen(function* () {
        const records = yield* StoreRecords
        const session = yield* activeSession("pod-1", "declines")
        yield* advance(Duration.minutes(20))
        const result = yield* SessionEnd.endSession(session.id)
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("PaymentFailed")
        expect(yield* podInUse("pod-1")).toBe(false)
        yield* drainWork()
        expect(yield* sentTags).toContain("PaymentProblem")
        const attempts = yield* records.paymentAttemptsFor(session.id)
        expect(attempts.map((a) => a.sessionCost)).toEqual([1000])
      })
    )
  )

  it.scoped("needs authentication, then the payment event settles it as paid", () =>
    withStatic(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1", "needs_authentication")
        yield* advance(Duration.minutes(20))
        const result = yield* SessionEnd.endSession(session.id)
        if (result.state._tag !== "Ended" || result.state.outcome._tag !== "NeedsAuthentication") {
          throw new Error(`unexpected ${result.state._tag}`)
        }
        const event = new ChargeSucceeded({
          sessionId: Option.some(session.id),
          paymentIntentId: result.state.outcome.paymentIntentId,
          customerId: Option.some(result.card.customerId),
          amountPence: pence(1000),
          currency: "gbp"
        })
        expect((yield* handlePaymentEvent(event))._tag).toBe("Applied")
        expect((yield* handlePaymentEvent(event))._tag).toBe("Applied") // a repeat changes nothing
        const settled = yield* stored(session.id)
        expect(settled.state._tag === "Ended" && settled.state.outcome._tag).toBe("Paid")
        expect(settled.version).toBe(result.version + 1)
      })
    )
  )

  it.scoped("below the minimum nothing is charged; a receipt says not billed", () =>
    withStatic(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.seconds(35))
        const result = yield* SessionEnd.endSession(session.id)
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("NotBilled")
        expect((yield* FakePayments).charges()).toHaveLength(0)
        yield* drainWork()
        const receipt = (yield* FakeMailer).sent().find((m) => m._tag === "Receipt")
        expect(receipt?._tag === "Receipt" && receipt.basis).toBe("not_billed")
      })
    )
  )

  it.scoped("staff end at a given time, waived with a reason: nothing charged, the time is kept", () =>
    withStatic(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.hours(5))
        const at = new Date(session.startedAt.getTime() + 45 * 60_000)
        const result = yield* SessionEnd.endSession(session.id, { by: Staff("sam"), at, waiveReason: "door jammed" })
        expect(result.state._tag === "Ended" && result.state.endedAt).toEqual(at)
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("Waived")
        expect(result.state._tag === "Ended" && result.state.quote.chargePence).toBe(2250)
        expect((yield* FakePayments).charges()).toHaveLength(0)
        const future = yield* Effect.flip(
          SessionEnd.endSession((yield* activeSession("pod-2")).id, { by: Staff("sam"), at: new Date(8.64e15) })
        )
        expect(future._tag).toBe("InvalidEndTime")
      })
    )
  )

  it.scoped("a code never active: retries run out, the pod is released, customer and staff told", () =>
    withLock(
      Effect.gen(function* () {
        const lock = yield* FakeLock
        lock.setActivation("never")
        const session = yield* book("pod-1")
        yield* drainWork()
        expect((yield* stored(session.id)).state._tag).toBe("ProvisioningFailed")
        expect(yield* podInUse("pod-1")).toBe(false)
        expect(yield* sentTags).toEqual(expect.arrayContaining(["ProvisioningFailedNotice", "StaffAlert"]))
        expect((yield* FakePayments).charges()).toHaveLength(0)
        expect((yield* Effect.flip(SessionEnd.endSession(session.id)))._tag).toBe("IllegalTransition")
        const rows = yield* Effect.flatMap(TestSql, (sql) =>
          sql.query<{ status: string }>(
            "select status::text as status from session_provisionings where session_id = $1",
            [session.id]
          )
        )
        expect(rows.map((r) => r.status)).toEqual(["failed"])
      })
    )
  )

  it.scoped("a code whose revocation fails is not treated as revoked, and is retried", () =>
    withLock(
      Effect.gen(function* () {
        const lock = yield* FakeLock
        const session = yield* activeSession("pod-1")
        lock.faults.arm("revokeCode", "before", { times: 2 })
        yield* advance(Duration.minutes(20))
        yield* SessionEnd.endSession(session.id)
        yield* Worker.runDueWork("worker-1", 50) // one pass: the revocation fails and is deferred
        expect(Option.isNone((yield* stored(session.id)).accessRevokedAt)).toBe(true)
        expect(lock.codesOn("dev-1")).toHaveLength(1)
        yield* drainWorkFor(Duration.minutes(1))
        expect(Option.isSome((yield* stored(session.id)).accessRevokedAt)).toBe(true)
        expect(lock.codesOn("dev-1")).toHaveLength(0)
      })
    )
  )

  it.scoped("a card set-up the client never finalized is finalized by the event, once", () =>
    withStatic(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const started = yield* Checkout.startCheckout("pod-1" as PodId)
        payments.confirmCard(started.setupIntentId)
        const event = new CardSetUpSucceeded({
          setupIntentId: started.setupIntentId as SetupIntentId,
          podId: Option.some("pod-1" as PodId)
        })
        const first = yield* handlePaymentEvent(event)
        const second = yield* handlePaymentEvent(event)
        expect(first._tag).toBe("Applied")
        expect(second).toEqual(first)
        expect(yield* sessionCount).toBe(1)
        expect((yield* Checkout.finalizeBooking(started)).id).toBe(first._tag === "Applied" ? first.sessionId : "")
      })
    )
  )

  it.scoped("overdue sessions are reported to staff once", () =>
    withStatic(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(180 + 29))
        expect(yield* Overdue.reportOverdueSessions()).toHaveLength(0)
        yield* advance(Duration.minutes(2))
        expect((yield* Overdue.reportOverdueSessions()).map((s) => s.id)).toEqual([session.id])
        yield* Overdue.reportOverdueSessions()
        yield* drainWork()
        const alerts = (yield* FakeMailer).sent().filter((m) => m._tag === "StaffAlert")
        expect(alerts).toHaveLength(1)
      })
    )
  )
})
