/**
 * @qwip/core's use-case scenarios, one suite run against every store: [memory] (core's memory
 * store) and [pglite] always, [postgres] when QWIP_TEST_DATABASE_URL is set. Each scenario
 * gets a fresh store; the SQL stores also show what they keep in today's tables.
 */
import { expect } from "@effect/vitest"
import {
  AccessGrant,
  CardSetUpSucceeded,
  ChargeSucceeded,
  Checkout,
  chargeKeyFor,
  chargeOf,
  handlePaymentEvent,
  LockStatus,
  Overdue,
  type PodId,
  Policy,
  type PolicyShape,
  pence,
  Session,
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
import {
  activeSession,
  advance,
  book,
  drainWork,
  drainWorkFor,
  forEachScenarioStore,
  onSql,
  ScenarioKit,
  type ScenarioServices,
  StoreFaults,
  scenario
} from "../support/Scenarios.js"

/** Two static-code pods with codes. */
const staticPods = Effect.gen(function* () {
  const kit = yield* ScenarioKit
  yield* kit.addPod(demoPod({ id: "pod-1" }))
  yield* kit.addPod(demoPod({ id: "pod-2" }))
  const codes = yield* FakeStaticCodes
  codes.setCodes("pod-1" as PodId, ["04726", "12345"])
  codes.setCodes("pod-2" as PodId, ["55555"])
})

/** One pod whose codes a lock makes (device `dev-1`). */
const lockPod = Effect.flatMap(ScenarioKit, (kit) =>
  kit.addPod(demoPod({ id: "pod-1", mode: "lock-provider", deviceId: "dev-1" }))
)

const withStatic = <A, E>(body: Effect.Effect<A, E, ScenarioServices>) => scenario(Effect.zipRight(staticPods, body))
const withLock = <A, E>(body: Effect.Effect<A, E, ScenarioServices>, policy: Partial<PolicyShape> = {}) =>
  scenario(Effect.zipRight(lockPod, body), policy)

const sentTags = Effect.map(FakeMailer, (m) => m.sent().map((x) => x._tag))
const podInUse = (id: string) =>
  Effect.flatMap(SessionStore, (s) => s.podStatus(id as PodId)).pipe(Effect.map((s) => Option.getOrThrow(s).inUse))
const stored = (id: SessionId) => Effect.flatMap(SessionStore, (s) => s.session(id)).pipe(Effect.map(Option.getOrThrow))
const sessionCount = Effect.flatMap(ScenarioKit, (kit) => kit.sessionCount)

forEachScenarioStore("core use cases: booking", (it) => {
  it.scoped("happy path: checkout, finalize, provision, view, end, charged once, pod free", () =>
    withStatic(
      Effect.gen(function* () {
        const payments = yield* FakePayments
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
        const charge = Option.getOrThrow(chargeOf(ended))
        expect([charge.status, charge.amountPence, charge.paymentIntentId]).toEqual([
          "succeeded",
          500,
          Option.some(payments.charges()[0]?.paymentIntentId)
        ])
        expect(yield* podInUse("pod-1")).toBe(false)
        yield* drainWork()
        expect(yield* sentTags).toContain("Receipt")
        const after = yield* Viewing.viewSession(session.id)
        expect(after.accessCode).toEqual(Option.none())
        expect(after.isComplete).toBe(true)
        expect(Option.isSome(after.session.accessRevokedAt)).toBe(true)
        yield* onSql(({ records }) =>
          Effect.gen(function* () {
            expect(Option.getOrThrow(yield* records.chargeFor(session.id))).toMatchObject({
              status: "succeeded",
              amountPence: 500,
              idempotencyKey: chargeKeyFor(session.id)
            })
            // everything due has run; the close-session safety net waits for its time
            const work = yield* records.workFor(session.id)
            expect(work.filter((w) => w.status !== "done").map((w) => w.kind)).toEqual(["close-session"])
          })
        )
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

  it.scoped("a checkout for a held pod is refused before any customer is created", () =>
    withStatic(
      Effect.gen(function* () {
        yield* book("pod-1")
        const before = (yield* FakePayments).charges().length
        const refused = yield* Effect.flip(Checkout.startCheckout("pod-1" as PodId))
        expect(refused._tag).toBe("PodInUse")
        expect((yield* FakePayments).charges().length).toBe(before)
        expect((yield* Effect.flip(Checkout.startCheckout("nope" as PodId)))._tag).toBe("PodNotFound")
      })
    )
  )

  it.scoped("finalize refuses an unconfirmed card and a set-up made for another pod", () =>
    withStatic(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const started = yield* Checkout.startCheckout("pod-1" as PodId)
        expect((yield* Effect.flip(Checkout.finalizeBooking(started)))._tag).toBe("CardNotSetUp")
        payments.confirmCard(started.setupIntentId)
        const wrongPod = yield* Effect.flip(Checkout.finalizeBooking({ ...started, podId: "pod-2" as PodId }))
        expect(wrongPod._tag).toBe("SetupIntentMismatch")
        expect(yield* podInUse("pod-2")).toBe(false)
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
        // The client's late finalize gets the same session.
        expect((yield* Checkout.finalizeBooking(started)).id).toBe(first._tag === "Applied" ? first.sessionId : "")
      })
    )
  )
})

forEachScenarioStore("core use cases: ending", (it) => {
  it.scoped("ending twice charges once and returns the same end", () =>
    withStatic(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(20))
        const first = yield* SessionEnd.endSession(session.id)
        yield* advance(Duration.minutes(20))
        const second = yield* SessionEnd.endSession(session.id)
        expect(second).toEqual(first)
        expect((yield* FakePayments).charges()).toHaveLength(1)
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
        expect(yield* podInUse("pod-1")).toBe(false)
        yield* onSql(({ sql }) =>
          Effect.map(sql.query("select * from session_charges where session_id = $1", [session.id]), (charges) =>
            expect(charges).toHaveLength(1)
          )
        )
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

  it.scoped("the close lands but its answer is lost: the retry returns the recorded end", () =>
    withStatic(
      Effect.gen(function* () {
        const faults = yield* StoreFaults
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(20))
        faults.arm("commit", "after", { skip: 1 })
        expect((yield* Effect.exit(SessionEnd.endSession(session.id)))._tag).toBe("Failure")
        const retried = yield* SessionEnd.endSession(session.id)
        expect(retried.state._tag).toBe("Ended")
        expect((yield* FakePayments).charges()).toHaveLength(1)
      })
    )
  )

  it.scoped("a charge whose answer is lost is kept unknown, then settled by reading it back", () =>
    withStatic(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(20))
        payments.faults.arm("chargeSession", "after", { times: 3 }) // charged, every answer lost
        const result = yield* SessionEnd.endSession(session.id)
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("PaymentUnknown")
        yield* onSql(({ records }) =>
          Effect.map(records.chargeFor(session.id), (c) => expect(Option.getOrThrow(c).status).toBe("unknown"))
        )
        expect(yield* podInUse("pod-1")).toBe(false)
        expect(payments.charges()).toHaveLength(1)

        yield* advance(Duration.minutes(2))
        yield* drainWork()
        const settled = yield* stored(session.id)
        expect(settled.state._tag === "Ended" && settled.state.outcome._tag).toBe("Paid")
        yield* onSql(({ records }) =>
          Effect.map(records.chargeFor(session.id), (c) => expect(Option.getOrThrow(c).status).toBe("succeeded"))
        )
        expect(payments.charges()).toHaveLength(1)
        expect(yield* sentTags).toContain("Receipt")
      })
    )
  )

  it.scoped("a charge that never reached the provider is made once when settling", () =>
    withStatic(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(20))
        payments.faults.arm("chargeSession", "before", { times: 3 })
        const result = yield* SessionEnd.endSession(session.id)
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("PaymentUnknown")
        expect(payments.charges()).toHaveLength(0)
        yield* advance(Duration.minutes(2))
        yield* drainWork()
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect((yield* stored(session.id)).state._tag).toBe("Ended")
      })
    )
  )

  it.scoped("a declined card: session closed anyway, staff told, one attempt recorded in today's table", () =>
    withStatic(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1", "declines")
        yield* advance(Duration.minutes(20))
        const result = yield* SessionEnd.endSession(session.id)
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("PaymentFailed")
        expect(yield* podInUse("pod-1")).toBe(false)
        yield* drainWork()
        expect(yield* sentTags).toContain("PaymentProblem")
        yield* onSql(({ records }) =>
          Effect.map(records.paymentAttemptsFor(session.id), (attempts) =>
            expect(attempts.map((a) => a.sessionCost)).toEqual([1000])
          )
        )
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

  it.scoped("preview shows the running cost, then the recorded cost", () =>
    withStatic(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1")
        yield* advance(Duration.minutes(10))
        expect((yield* Viewing.previewCost(session.id)).quote.chargePence).toBe(500)
        yield* SessionEnd.endSession(session.id)
        yield* advance(Duration.minutes(10))
        const preview = yield* Viewing.previewCost(session.id)
        expect(preview.isComplete).toBe(true)
        expect(preview.quote.chargePence).toBe(500)
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

forEachScenarioStore("core use cases: door codes", (it) => {
  it.scoped("a lock code that becomes active after a few checks", () =>
    withLock(
      Effect.gen(function* () {
        const lock = yield* FakeLock
        lock.setActivation(3)
        const session = yield* activeSession("pod-1")
        const view = yield* Viewing.viewSession(session.id)
        expect(view.provisioning).toBe("ready")
        expect(lock.codesOn("dev-1")).toHaveLength(1)
        expect(Option.getOrThrow(view.accessCode)).toBe(lock.codesOn("dev-1")[0]?.code)
      })
    )
  )

  it.scoped("retries reuse the code by name: never a second code on the lock", () =>
    withLock(
      Effect.gen(function* () {
        const lock = yield* FakeLock
        lock.faults.arm("readCode", "before", { times: 2 })
        lock.setActivation(1)
        lock.faults.arm("createCode", "after", { times: 2 }) // created, answer lost, twice
        const session = yield* activeSession("pod-1")
        expect((yield* Viewing.viewSession(session.id)).provisioning).toBe("ready")
        expect(lock.codesOn("dev-1")).toHaveLength(1)
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
        yield* drainWork()
        const failed = yield* stored(session.id)
        expect(failed.state._tag).toBe("ProvisioningFailed")
        expect(yield* podInUse("pod-1")).toBe(false)
        expect(yield* sentTags).toEqual(expect.arrayContaining(["ProvisioningFailedNotice", "StaffAlert"]))
        expect((yield* FakePayments).charges()).toHaveLength(0)
        // The code made but never active is removed, so it cannot start working later.
        expect(lock.codesOn("dev-1")).toHaveLength(0)
        expect(Option.isSome(failed.accessRevokedAt)).toBe(true)
        expect((yield* Effect.flip(SessionEnd.endSession(session.id)))._tag).toBe("IllegalTransition")
        yield* onSql(({ sql }) =>
          Effect.map(
            sql.query<{ status: string }>(
              "select status::text as status from session_provisionings where session_id = $1",
              [session.id]
            ),
            (rows) => expect(rows.map((r) => r.status)).toEqual(["failed"])
          )
        )
      })
    )
  )

  it.scoped("a device that cannot program codes fails at once without retrying", () =>
    withLock(
      Effect.gen(function* () {
        const lock = yield* FakeLock
        lock.rejectDevice("dev-1")
        const session = yield* book("pod-1")
        yield* drainWork()
        expect((yield* stored(session.id)).state._tag).toBe("ProvisioningFailed")
      })
    )
  )

  it.scoped("an email failure after the code is set does not fail provisioning", () =>
    withStatic(
      Effect.gen(function* () {
        const mailer = yield* FakeMailer
        mailer.faults.arm("send", "before", { times: 2 })
        const session = yield* book("pod-1")
        yield* drainWork()
        expect((yield* Viewing.viewSession(session.id)).provisioning).toBe("ready")
        expect(mailer.sent()).toHaveLength(0)
        yield* drainWorkFor(Duration.minutes(1))
        expect(mailer.sent().map((m) => m._tag)).toContain("AccessReady")
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

  it.scoped("USE_STATIC_CODES makes a lock-provider pod use its static list", () =>
    withLock(
      Effect.gen(function* () {
        const codes = yield* FakeStaticCodes
        codes.setCodes("pod-1" as PodId, ["04726"])
        const session = yield* activeSession("pod-1")
        expect(Option.getOrThrow((yield* Viewing.viewSession(session.id)).accessCode)).toBe("04726")
        expect((yield* FakeLock).codesOn("dev-1")).toHaveLength(0)
      }),
      { staticCodesOnly: true }
    )
  )

  it.scoped("a session with no stored code (the old service's lock codes) reads as having none", () =>
    withLock(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1")
        const current = yield* stored(session.id)
        if (Option.isNone(current.access)) throw new Error("no access")
        const legacy = new Session({
          ...current,
          access: Option.some(new AccessGrant({ ...current.access.value, sealedCode: "" })),
          version: current.version + 1
        })
        yield* Effect.flatMap(SessionStore, (s) =>
          s.commit({ before: current, after: legacy, releasePod: false, work: [] })
        )
        const view = yield* Viewing.viewSession(session.id)
        expect(view.provisioning).toBe("ready")
        expect(view.accessCode).toEqual(Option.none())
      })
    )
  )

  it.scoped("lock status: asks the lock of a lock-provider pod, answers locked for static codes", () =>
    withLock(
      Effect.gen(function* () {
        expect(yield* LockStatus.lockStatus("dev-1")).toEqual({ isLocked: true })
        expect((yield* Effect.flip(LockStatus.lockStatus("dev-9")))._tag).toBe("DeviceNotFound")
        const lock = yield* FakeLock
        lock.faults.arm("lockStatus", "before")
        expect((yield* Effect.flip(LockStatus.lockStatus("dev-1")))._tag).toBe("LockUnavailable")
        const staticOnly = yield* LockStatus.lockStatus("dev-9").pipe(
          Effect.provide(Policy.layer({ staticCodesOnly: true }))
        )
        expect(staticOnly).toEqual({ isLocked: true })
      })
    )
  )
})
