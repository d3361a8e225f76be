/**
 * The billing rule (`Billing`): billed from when the door code was ready; a session whose code
 * was never ready is not charged, whoever ends it (customer, staff, safety net), and the cost
 * preview agrees with the final charge.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Billing,
  CheckoutPhotos,
  CustomerEnd,
  chargeOf,
  NotBilled,
  type PodId,
  Session,
  SessionEnd,
  type SessionId,
  StaffEnd,
  Viewing,
  Worker
} from "@qwip/core"
import {
  demoPod,
  FakeMailer,
  FakePayments,
  FakeStaticCodes,
  layer,
  layerMemoryStaffStore,
  MemoryStore
} from "@qwip/core/testing"
import { Duration, Effect, Layer, Option, Schema, TestClock } from "effect"
import { book, drainWork } from "./kit.js"

// The customer's end asks for a photo only when the policy requires one; here it does not.
const noPhotos = Layer.succeed(CheckoutPhotos, {
  save: () => Effect.dieMessage("CheckoutPhotos.save is not used here"),
  find: () => Effect.dieMessage("CheckoutPhotos.find is not used here"),
  signedUrl: () => Effect.dieMessage("CheckoutPhotos.signedUrl is not used here")
})

const kit = () =>
  Layer.mergeAll(layerMemoryStaffStore.pipe(Layer.provideMerge(layer({ pods: [demoPod({ id: "pod-1" })] }))), noPhotos)

const run = <A, E, R extends Layer.Layer.Success<ReturnType<typeof kit>>>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    ;(yield* FakeStaticCodes).setCodes("pod-1" as PodId, ["04726"])
    return yield* self
  }).pipe(Effect.provide(kit()))

const stored = (id: SessionId) =>
  Effect.map(MemoryStore, (store) => {
    const found = store.sessions().find((s) => s.id === id)
    if (found === undefined) throw new Error(`session ${id} is not in the store`)
    return found
  })

const receiptFor = (id: SessionId) =>
  Effect.map(FakeMailer, (m) => m.sent().find((x) => x._tag === "Receipt" && x.sessionId === id))

/** Checks a session ended without a charge because no door code was ever ready. */
const expectNoDoorCodeEnd = (id: SessionId) =>
  Effect.gen(function* () {
    const ended = yield* stored(id)
    expect(ended.state._tag).toBe("Ended")
    if (ended.state._tag !== "Ended") return
    expect(ended.state.outcome).toEqual(new NotBilled({ reason: "no_door_code" }))
    expect(ended.state.billedFrom).toEqual({ _tag: "NoCode" })
    expect(ended.state.quote.billableSeconds).toBe(0)
    expect(ended.state.quote.chargePence).toBe(0)
    expect((yield* FakePayments).charges()).toEqual([])
    expect(Option.map(chargeOf(ended), (c) => [c.status, c.amountPence])).toEqual(Option.some(["not_billed", 0]))
    expect((yield* MemoryStore).podInUse(ended.podId)).toBe(false)
    expect((yield* Viewing.previewCost(id)).quote.chargePence).toBe(0)
  })

describe("billing: a session whose door code was never ready", () => {
  it.effect("ended by the customer: not charged, the outcome and the receipt say why", () =>
    run(
      Effect.gen(function* () {
        const session = yield* book()
        yield* TestClock.adjust(Duration.minutes(10))
        // Still provisioning: ending now would cost nothing.
        expect((yield* Viewing.previewCost(session.id)).quote.chargePence).toBe(0)
        yield* CustomerEnd.endAsCustomer(session.id)
        yield* expectNoDoorCodeEnd(session.id)
        yield* drainWork() // the provisioning that never finished now finds the session over
        expect((yield* stored(session.id)).state._tag).toBe("Ended")
        const receipt = yield* receiptFor(session.id)
        expect(receipt?._tag === "Receipt" && [receipt.basis, receipt.amountPence, receipt.billedFrom]).toEqual([
          "no_door_code",
          0,
          Option.none()
        ])
      })
    )
  )

  it.effect("ended by staff: not charged, the outcome says why", () =>
    run(
      Effect.gen(function* () {
        const session = yield* book()
        yield* TestClock.adjust(Duration.minutes(25))
        const result = yield* StaffEnd.endAsStaff(session.id, { by: "sam" })
        expect(result.after.state._tag === "Ended" && result.after.state.by).toEqual({ _tag: "Staff", name: "sam" })
        yield* expectNoDoorCodeEnd(session.id)
      })
    )
  )

  it.effect("an end interrupted after it was fixed: the safety net closes it, not charged", () =>
    run(
      Effect.gen(function* () {
        const store = yield* MemoryStore
        const session = yield* book()
        yield* TestClock.adjust(Duration.minutes(5))
        store.faults.arm("commit", "after") // the end is fixed, then the instance dies
        expect((yield* Effect.exit(SessionEnd.endSession(session.id)))._tag).toBe("Failure")
        const ending = yield* stored(session.id)
        expect(ending.state._tag === "Ending" && ending.state.billedFrom).toEqual({ _tag: "NoCode" })
        yield* TestClock.adjust(Duration.minutes(3))
        yield* drainWork()
        yield* expectNoDoorCodeEnd(session.id)
      })
    )
  )

  it.effect("ended by staff at a time before the code became ready: not charged", () =>
    run(
      Effect.gen(function* () {
        const session = yield* book()
        yield* TestClock.adjust(Duration.seconds(70))
        yield* Worker.runDueWork("worker-1")
        expect((yield* stored(session.id)).state._tag).toBe("Active")
        yield* TestClock.adjust(Duration.minutes(30))
        const at = new Date(session.startedAt.getTime() + 30_000)
        yield* StaffEnd.endAsStaff(session.id, { by: "sam", at })
        yield* expectNoDoorCodeEnd(session.id)
      })
    )
  )
})

describe("billing: a door code that was slow to be ready", () => {
  it.effect("code ready 70 s after booking, ended 10 min after booking: billed 8 min 50 s; preview agrees", () =>
    run(
      Effect.gen(function* () {
        const session = yield* book()
        const ready = new Date(session.startedAt.getTime() + 70_000)
        yield* TestClock.adjust(Duration.seconds(70))
        yield* Worker.runDueWork("worker-1")
        const active = yield* stored(session.id)
        expect(active.state._tag === "Active" && active.state.activatedAt).toEqual(ready)
        expect(Billing.billableStartOf(active)).toEqual(Option.some(ready))

        yield* TestClock.setTime(session.startedAt.getTime() + 10 * 60_000)
        const preview = yield* Viewing.previewCost(session.id)
        expect(preview.quote.billableSeconds).toBe(8 * 60 + 50)
        // 530 s at £0.50 a minute = 441.67p, rounded half-up once.
        expect(preview.quote.chargePence).toBe(442)

        const ended = yield* SessionEnd.endSession(session.id)
        expect(ended.state._tag === "Ended" && ended.state.quote).toEqual(preview.quote)
        expect(ended.state._tag === "Ended" && ended.state.billedFrom).toEqual({ _tag: "CodeReady", at: ready })
        expect(ended.state._tag === "Ended" && ended.state.outcome._tag).toBe("Paid")
        expect((yield* FakePayments).charges().map((c) => c.amountPence)).toEqual([442])

        // The recorded price never moves, however late it is read.
        yield* TestClock.adjust(Duration.hours(2))
        expect((yield* Viewing.previewCost(session.id)).quote).toEqual(preview.quote)
        yield* drainWork()
        const receipt = yield* receiptFor(session.id)
        expect(
          receipt?._tag === "Receipt" && [
            receipt.basis,
            receipt.amountPence,
            receipt.billableSeconds,
            receipt.billedFrom
          ]
        ).toEqual(["charged", 442, 530, Option.some(ready)])
      })
    )
  )
})

describe("billing: ends fixed before the rule", () => {
  it("an end recorded without what it billed from was billed from the booking, and keeps its price", () => {
    const startedAt = "2025-06-01T09:00:00.000Z"
    const legacy = Schema.decodeUnknownSync(Session)({
      id: "0b0e6a52-52a2-4c43-9a3b-1e0f0f0f0f0f",
      podId: "pod-1",
      provisioningId: "1b0e6a52-52a2-4c43-9a3b-1e0f0f0f0f0f",
      setupIntentId: "seti_1",
      card: { customerId: "cus_1", paymentMethodId: "pm_1", email: "ada@example.com" },
      rate: 5000,
      startedAt,
      accessUntil: "2025-06-01T12:00:00.000Z",
      access: null,
      accessRevokedAt: null,
      state: {
        _tag: "Ended",
        endedAt: "2025-06-01T09:10:00.000Z",
        quote: { billableSeconds: 600, grossPence: 500, chargePence: 500, reason: "charge" },
        outcome: { _tag: "Paid", paymentIntentId: "pi_1", amountPence: 500 },
        closedAt: "2025-06-01T09:10:00.000Z",
        by: { _tag: "Customer" }
      },
      version: 3,
      updatedAt: "2025-06-01T09:10:00.000Z"
    })
    expect(legacy.state._tag === "Ended" && legacy.state.billedFrom).toEqual({ _tag: "Booking" })
    expect(Billing.billableStartOf(legacy)).toEqual(Option.some(new Date(startedAt)))
    expect(legacy.state._tag === "Ended" && legacy.state.quote.chargePence).toBe(500)
  })

  it("a not-billed outcome recorded without a reason was below the minimum", () => {
    expect(Schema.decodeUnknownSync(NotBilled)({ _tag: "NotBilled" })).toEqual(
      new NotBilled({ reason: "below_minimum" })
    )
  })
})
