import { describe, expect, it } from "@effect/vitest"
import {
  AccessCode,
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
  pence,
  pickStaticCode,
  Session,
  SessionEnd,
  type SessionId,
  SessionStore,
  type SetupIntentId,
  Staff,
  Viewing,
  Worker
} from "@qwip/core"
import { demoPod, FakeLock, FakeMailer, FakePayments, FakeStaticCodes, layer, MemoryStore } from "@qwip/core/testing"
import { Duration, Effect, Either, Option, Schema, TestClock } from "effect"
import { activeSession, book, drainWork, drainWorkFor, withTimePassing } from "./kit.js"

const staticKit = () => layer({ pods: [demoPod({ id: "pod-1" }), demoPod({ id: "pod-2" })] })
const lockKit = () => layer({ pods: [demoPod({ id: "pod-1", mode: "lock-provider", deviceId: "dev-1" })] })

const withCodes = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const codes = yield* FakeStaticCodes
    codes.setCodes("pod-1" as PodId, ["04726", "12345"])
    codes.setCodes("pod-2" as PodId, ["55555"])
    return yield* self
  })

const sentTags = Effect.map(FakeMailer, (m) => m.sent().map((x) => x._tag))

describe("booking", () => {
  it.effect("happy path: checkout, finalize, provision, view, end, charged once, pod free", () =>
    withCodes(
      Effect.gen(function* () {
        const store = yield* MemoryStore
        const payments = yield* FakePayments
        const session = yield* book()
        expect(session.state._tag).toBe("Provisioning")
        expect(store.podInUse(session.podId)).toBe(true)
        yield* drainWork()
        const view = yield* Viewing.viewSession(session.id)
        expect(view.provisioning).toBe("ready")
        expect(["04726", "12345"]).toContain(Option.getOrThrow(view.accessCode))
        expect(yield* sentTags).toContain("AccessReady")

        yield* TestClock.adjust(Duration.minutes(10))
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
        expect(store.podInUse(session.podId)).toBe(false)
        yield* drainWork()
        expect(yield* sentTags).toContain("Receipt")
        const after = yield* Viewing.viewSession(session.id)
        expect(after.accessCode).toEqual(Option.none())
        expect(after.isComplete).toBe(true)
        expect(Option.isSome(after.session.accessRevokedAt)).toBe(true)
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("a double finalize makes one session", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const started = yield* Checkout.startCheckout("pod-1" as PodId)
        payments.confirmCard(started.setupIntentId)
        const a = yield* Checkout.finalizeBooking(started)
        const b = yield* Checkout.finalizeBooking(started)
        expect(b.id).toBe(a.id)
        expect((yield* MemoryStore).sessions()).toHaveLength(1)
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("50 concurrent finalizes on one pod make exactly one session", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const checkouts = yield* Effect.forEach(Array.from({ length: 50 }), () =>
          Checkout.startCheckout("pod-1" as PodId)
        )
        for (const c of checkouts) payments.confirmCard(c.setupIntentId)
        const results = yield* Effect.forEach(checkouts, (c) => Effect.either(Checkout.finalizeBooking(c)), {
          concurrency: "unbounded"
        })
        const won = results.filter(Either.isRight)
        const lost = results.filter(Either.isLeft)
        expect(won).toHaveLength(1)
        expect(lost.every((l) => l.left._tag === "PodInUse")).toBe(true)
        expect((yield* MemoryStore).sessions()).toHaveLength(1)
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("a checkout for a held pod is refused before any customer is created", () =>
    withCodes(
      Effect.gen(function* () {
        yield* book()
        const before = (yield* FakePayments).charges().length
        const refused = yield* Effect.flip(Checkout.startCheckout("pod-1" as PodId))
        expect(refused._tag).toBe("PodInUse")
        expect((yield* FakePayments).charges().length).toBe(before)
        expect((yield* Effect.flip(Checkout.startCheckout("nope" as PodId)))._tag).toBe("PodNotFound")
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("finalize refuses an unconfirmed card and a set-up made for another pod", () =>
    Effect.gen(function* () {
      const payments = yield* FakePayments
      const started = yield* Checkout.startCheckout("pod-1" as PodId)
      expect((yield* Effect.flip(Checkout.finalizeBooking(started)))._tag).toBe("CardNotSetUp")
      payments.confirmCard(started.setupIntentId)
      const wrongPod = yield* Effect.flip(Checkout.finalizeBooking({ ...started, podId: "pod-2" as PodId }))
      expect(wrongPod._tag).toBe("SetupIntentMismatch")
      expect((yield* MemoryStore).podInUse("pod-2" as PodId)).toBe(false)
    }).pipe(Effect.provide(staticKit()))
  )
})

describe("ending", () => {
  it.effect("ending twice charges once and returns the same end", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(20))
        const first = yield* SessionEnd.endSession(session.id)
        yield* TestClock.adjust(Duration.minutes(20))
        const second = yield* SessionEnd.endSession(session.id)
        expect(second).toEqual(first)
        expect((yield* FakePayments).charges()).toHaveLength(1)
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("50 concurrent ends charge once", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(20))
        const ends = yield* Effect.forEach(Array.from({ length: 50 }), () => SessionEnd.endSession(session.id), {
          concurrency: "unbounded"
        })
        expect(new Set(ends.map((e) => e.version)).size).toBe(1)
        expect((yield* FakePayments).succeededChargesFor(session.id)).toBe(1)
        expect((yield* FakePayments).charges()).toHaveLength(1)
        expect((yield* MemoryStore).podInUse(session.podId)).toBe(false)
      })
    ).pipe(Effect.provide(staticKit()))
  )

  const ended = (id: SessionId) => Effect.map(MemoryStore, (store) => store.sessions().find((s) => s.id === id))

  it.effect("crash after the charge, before the close lands: a retry charges nothing new", () =>
    withCodes(
      Effect.gen(function* () {
        const store = yield* MemoryStore
        const payments = yield* FakePayments
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(20))
        store.faults.arm("commit", "before", { skip: 1 }) // fixing the end lands; the close does not
        expect((yield* Effect.exit(SessionEnd.endSession(session.id)))._tag).toBe("Failure")
        expect((yield* ended(session.id))?.state._tag).toBe("Ending")
        expect(store.podInUse(session.podId)).toBe(true)
        expect(payments.charges()).toHaveLength(1)

        yield* TestClock.adjust(Duration.minutes(5)) // a later retry must not move the end
        const retried = yield* SessionEnd.endSession(session.id)
        expect(retried.state._tag === "Ended" && retried.state.quote.billableSeconds).toBe(20 * 60)
        expect(payments.charges()).toHaveLength(1)
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect(store.podInUse(session.podId)).toBe(false)
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("crash right after the end is fixed, before charging: the safety net finishes it once", () =>
    withCodes(
      Effect.gen(function* () {
        const store = yield* MemoryStore
        const payments = yield* FakePayments
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(20))
        store.faults.arm("commit", "after") // the end is fixed, then the process dies
        expect((yield* Effect.exit(SessionEnd.endSession(session.id)))._tag).toBe("Failure")
        expect((yield* ended(session.id))?.state._tag).toBe("Ending")
        expect(payments.charges()).toHaveLength(0)

        yield* TestClock.adjust(Duration.minutes(3))
        yield* drainWork()
        const closed = yield* ended(session.id)
        expect(closed?.state._tag === "Ended" && closed.state.outcome._tag).toBe("Paid")
        expect(payments.charges()).toHaveLength(1)
        expect(store.podInUse(session.podId)).toBe(false)
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("the close lands but its answer is lost: the retry returns the recorded end", () =>
    withCodes(
      Effect.gen(function* () {
        const store = yield* MemoryStore
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(20))
        store.faults.arm("commit", "after", { skip: 1 })
        expect((yield* Effect.exit(SessionEnd.endSession(session.id)))._tag).toBe("Failure")
        const retried = yield* SessionEnd.endSession(session.id)
        expect(retried.state._tag).toBe("Ended")
        expect((yield* FakePayments).charges()).toHaveLength(1)
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("a charge whose answer is lost is kept unknown, then settled by reading it back", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(20))
        payments.faults.arm("chargeSession", "after", { times: 3 }) // charged, every answer lost
        const result = yield* withTimePassing(SessionEnd.endSession(session.id))
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("PaymentUnknown")
        expect((yield* MemoryStore).podInUse(session.podId)).toBe(false)
        expect(payments.charges()).toHaveLength(1)

        yield* TestClock.adjust(Duration.minutes(2))
        yield* drainWork()
        const settled = yield* ended(session.id)
        expect(settled?.state._tag === "Ended" && settled.state.outcome._tag).toBe("Paid")
        expect(payments.charges()).toHaveLength(1)
        expect(yield* sentTags).toContain("Receipt")
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("a charge that never reached the provider is made once when settling", () =>
    withCodes(
      Effect.gen(function* () {
        const payments = yield* FakePayments
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(20))
        payments.faults.arm("chargeSession", "before", { times: 3 })
        const result = yield* withTimePassing(SessionEnd.endSession(session.id))
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("PaymentUnknown")
        expect(payments.charges()).toHaveLength(0)
        yield* TestClock.adjust(Duration.minutes(2))
        yield* drainWork()
        expect(payments.succeededChargesFor(session.id)).toBe(1)
        expect((yield* ended(session.id))?.state._tag).toBe("Ended")
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("a declined card: session closed anyway, staff told, one attempt recorded", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1", "declines")
        yield* TestClock.adjust(Duration.minutes(20))
        const result = yield* SessionEnd.endSession(session.id)
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("PaymentFailed")
        expect((yield* MemoryStore).podInUse(session.podId)).toBe(false)
        yield* drainWork()
        expect(yield* sentTags).toContain("PaymentProblem")
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("needs authentication, then the payment event settles it as paid", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* activeSession("pod-1", "needs_authentication")
        yield* TestClock.adjust(Duration.minutes(20))
        const result = yield* SessionEnd.endSession(session.id)
        if (result.state._tag !== "Ended" || result.state.outcome._tag !== "NeedsAuthentication") {
          throw new Error(`unexpected ${result.state._tag}`)
        }
        const paymentIntentId = result.state.outcome.paymentIntentId
        const event = new ChargeSucceeded({
          sessionId: Option.some(session.id),
          paymentIntentId,
          customerId: Option.some(result.card.customerId),
          amountPence: pence(1000),
          currency: "gbp"
        })
        expect((yield* handlePaymentEvent(event))._tag).toBe("Applied")
        expect((yield* handlePaymentEvent(event))._tag).toBe("Applied") // a repeat changes nothing
        const settled = yield* ended(session.id)
        expect(settled?.state._tag === "Ended" && settled.state.outcome._tag).toBe("Paid")
        expect(settled?.version).toBe(result.version + 1)
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("below the minimum nothing is charged; a receipt says not billed", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.seconds(35))
        const result = yield* SessionEnd.endSession(session.id)
        expect(result.state._tag === "Ended" && result.state.outcome._tag).toBe("NotBilled")
        expect((yield* FakePayments).charges()).toHaveLength(0)
        yield* drainWork()
        const receipt = (yield* FakeMailer).sent().find((m) => m._tag === "Receipt")
        expect(receipt?._tag === "Receipt" && receipt.basis).toBe("not_billed")
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("staff end at a given time, waived with a reason: nothing charged, the time is kept", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.hours(5))
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
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("preview shows the running cost, then the recorded cost", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(10))
        expect((yield* Viewing.previewCost(session.id)).quote.chargePence).toBe(500)
        yield* SessionEnd.endSession(session.id)
        yield* TestClock.adjust(Duration.minutes(10))
        const preview = yield* Viewing.previewCost(session.id)
        expect(preview.isComplete).toBe(true)
        expect(preview.quote.chargePence).toBe(500)
      })
    ).pipe(Effect.provide(staticKit()))
  )
})

describe("provisioning", () => {
  it.effect("a lock code that becomes active after a few checks", () =>
    Effect.gen(function* () {
      const lock = yield* FakeLock
      lock.setActivation(3)
      const session = yield* activeSession()
      const view = yield* Viewing.viewSession(session.id)
      expect(view.provisioning).toBe("ready")
      expect(lock.codesOn("dev-1")).toHaveLength(1)
      expect(Option.getOrThrow(view.accessCode)).toBe(lock.codesOn("dev-1")[0]?.code)
    }).pipe(Effect.provide(lockKit()))
  )

  it.effect("retries reuse the code by name: never a second code on the lock", () =>
    Effect.gen(function* () {
      const lock = yield* FakeLock
      lock.faults.arm("readCode", "before", { times: 2 })
      lock.setActivation(1)
      lock.faults.arm("createCode", "after", { times: 2 }) // created, answer lost, twice
      const session = yield* activeSession()
      expect((yield* Viewing.viewSession(session.id)).provisioning).toBe("ready")
      expect(lock.codesOn("dev-1")).toHaveLength(1)
    }).pipe(Effect.provide(lockKit()))
  )

  it.effect("a code never active: retries run out, the pod is released, customer and staff told", () =>
    Effect.gen(function* () {
      const lock = yield* FakeLock
      const store = yield* MemoryStore
      lock.setActivation("never")
      const session = yield* book()
      yield* drainWork()
      yield* drainWork()
      const failed = store.sessions().find((s) => s.id === session.id)
      expect(failed?.state._tag).toBe("ProvisioningFailed")
      expect(store.podInUse(session.podId)).toBe(false)
      expect(yield* sentTags).toEqual(expect.arrayContaining(["ProvisioningFailedNotice", "StaffAlert"]))
      expect((yield* FakePayments).charges()).toHaveLength(0)
      // The code made but never active is removed, so it cannot start working later.
      expect(lock.codesOn("dev-1")).toHaveLength(0)
      expect(Option.isSome(failed?.accessRevokedAt ?? Option.none())).toBe(true)
      expect((yield* Effect.flip(SessionEnd.endSession(session.id)))._tag).toBe("IllegalTransition")
    }).pipe(Effect.provide(lockKit()))
  )

  it.effect("a device that cannot program codes fails at once without retrying", () =>
    Effect.gen(function* () {
      const lock = yield* FakeLock
      lock.rejectDevice("dev-1")
      const session = yield* book()
      yield* drainWork()
      expect((yield* MemoryStore).sessions().find((s) => s.id === session.id)?.state._tag).toBe("ProvisioningFailed")
    }).pipe(Effect.provide(lockKit()))
  )

  it.effect("an email failure after the code is set does not fail provisioning", () =>
    withCodes(
      Effect.gen(function* () {
        const mailer = yield* FakeMailer
        mailer.faults.arm("send", "before", { times: 2 })
        const session = yield* book()
        yield* drainWork()
        expect((yield* Viewing.viewSession(session.id)).provisioning).toBe("ready")
        expect(mailer.sent()).toHaveLength(0)
        yield* drainWorkFor(Duration.minutes(1))
        expect(mailer.sent().map((m) => m._tag)).toContain("AccessReady")
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("a code whose revocation fails is not treated as revoked, and is retried", () =>
    Effect.gen(function* () {
      const lock = yield* FakeLock
      const store = yield* MemoryStore
      const session = yield* activeSession()
      lock.faults.arm("revokeCode", "before", { times: 2 })
      yield* TestClock.adjust(Duration.minutes(20))
      yield* SessionEnd.endSession(session.id)
      yield* Worker.runDueWork("worker-1", 50) // one pass: the revocation fails and is deferred
      const afterFailure = store.sessions().find((s) => s.id === session.id)
      expect(Option.isNone(afterFailure?.accessRevokedAt ?? Option.none())).toBe(true)
      expect(lock.codesOn("dev-1")).toHaveLength(1)
      yield* drainWorkFor(Duration.minutes(1))
      const revoked = store.sessions().find((s) => s.id === session.id)
      expect(Option.isSome(revoked?.accessRevokedAt ?? Option.none())).toBe(true)
      expect(lock.codesOn("dev-1")).toHaveLength(0)
    }).pipe(Effect.provide(lockKit()))
  )

  it.effect("static picks avoid codes other live sessions hold when one is free", () =>
    Effect.gen(function* () {
      const codes = ["11111", "22222", "33333"].map((c) => Schema.decodeSync(AccessCode)(c))
      for (let i = 0; i < 50; i++) {
        const picked = yield* pickStaticCode(codes, [codes[0] as AccessCode, codes[2] as AccessCode])
        expect(picked).toEqual(Option.some(codes[1]))
      }
      const allHeld = yield* pickStaticCode(codes, codes)
      expect(Option.isSome(allHeld)).toBe(true)
      expect(yield* pickStaticCode([], [])).toEqual(Option.none())
    })
  )
})

describe("payment events and overdue sessions", () => {
  it.effect("a card set-up the client never finalized is finalized by the event, once", () =>
    withCodes(
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
        expect((yield* MemoryStore).sessions()).toHaveLength(1)
        // The client's late finalize gets the same session.
        expect((yield* Checkout.finalizeBooking(started)).id).toBe(first._tag === "Applied" ? first.sessionId : "")
      })
    ).pipe(Effect.provide(staticKit()))
  )

  it.effect("overdue sessions are reported to staff once", () =>
    withCodes(
      Effect.gen(function* () {
        const session = yield* activeSession()
        yield* TestClock.adjust(Duration.minutes(180 + 29))
        expect(yield* Overdue.reportOverdueSessions()).toHaveLength(0)
        yield* TestClock.adjust(Duration.minutes(2))
        expect((yield* Overdue.reportOverdueSessions()).map((s) => s.id)).toEqual([session.id])
        yield* Overdue.reportOverdueSessions()
        yield* drainWork()
        const alerts = (yield* FakeMailer).sent().filter((m) => m._tag === "StaffAlert")
        expect(alerts).toHaveLength(1)
      })
    ).pipe(Effect.provide(staticKit()))
  )
})

describe("access modes", () => {
  it.effect("USE_STATIC_CODES makes a lock-provider pod use its static list", () =>
    Effect.gen(function* () {
      const codes = yield* FakeStaticCodes
      codes.setCodes("pod-1" as PodId, ["04726"])
      const session = yield* activeSession()
      expect(Option.getOrThrow((yield* Viewing.viewSession(session.id)).accessCode)).toBe("04726")
      expect((yield* FakeLock).codesOn("dev-1")).toHaveLength(0)
    }).pipe(
      Effect.provide(
        layer({
          pods: [demoPod({ id: "pod-1", mode: "lock-provider", deviceId: "dev-1" })],
          policy: { staticCodesOnly: true }
        })
      )
    )
  )

  it.effect("a session with no stored code (the old service's lock codes) reads as having none", () =>
    Effect.gen(function* () {
      const session = yield* activeSession()
      const store = yield* MemoryStore
      const current = store.sessions().find((s) => s.id === session.id)
      if (current === undefined || Option.isNone(current.access)) throw new Error("no access")
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
    }).pipe(Effect.provide(lockKit()))
  )

  it.effect("lock status: asks the lock of a lock-provider pod, answers locked for static codes", () =>
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
    }).pipe(Effect.provide(lockKit()))
  )
})
