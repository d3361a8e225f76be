/**
 * Rules that used to live in the adapters, the HTTP service or the CLI: the fallback customer
 * email, the staff actor's name, the door lock without a lock provider, and taking in a payment
 * event once.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  ChargeFailed,
  customerEmail,
  describeActor,
  FALLBACK_CUSTOMER_EMAIL,
  LockStatus,
  PaymentEventInbox,
  type PaymentEventStatus,
  PaymentInbox,
  type ProviderEvent,
  SessionId,
  Staff,
  staffActorName
} from "@qwip/core"
import * as TestKit from "@qwip/core/testing"
import { Effect, Layer, Option } from "effect"

describe("rules moved into the core", () => {
  it("a card without a billing email books with Qwip's own address", () => {
    expect(FALLBACK_CUSTOMER_EMAIL).toBe("hello@qwip.co.uk")
    expect(customerEmail(null)).toBe("hello@qwip.co.uk")
    expect(customerEmail(undefined)).toBe("hello@qwip.co.uk")
    expect(customerEmail("  ")).toBe("hello@qwip.co.uk")
    expect(customerEmail("ada@example.com")).toBe("ada@example.com")
  })

  it("staff act under the name they give, else the account they are logged in as, else unknown", () => {
    const failing = () => {
      throw new Error("no name for this uid")
    }
    expect(staffActorName(Option.some("  ada "), [() => "root"])).toBe("ada")
    expect(staffActorName(Option.some(" "), [() => "root"])).toBe("root")
    expect(staffActorName(Option.none(), [failing, () => undefined, () => "grace"])).toBe("grace")
    expect(staffActorName(Option.none(), [failing])).toBe("unknown")
    expect(describeActor(Staff("ada"))).toBe("ada")
    expect(describeActor({ _tag: "System", reason: "overdue" })).toBe("system (overdue)")
    expect(describeActor({ _tag: "Customer" })).toBe("customer")
  })

  it.effect("without a lock provider every door reads locked, known device or not", () =>
    Effect.gen(function* () {
      expect(yield* LockStatus.lockStatus("no-such-device", "none")).toEqual({ isLocked: true })
      const asked = yield* Effect.flip(LockStatus.lockStatus("no-such-device", "configured"))
      expect(asked._tag).toBe("DeviceNotFound")
    }).pipe(Effect.provide(TestKit.layer()))
  )
})

describe("receivePaymentEvent", () => {
  const inbox = () => {
    const rows = new Map<string, { status: PaymentEventStatus; note: string | undefined }>()
    const decoded = new Map<string, ChargeFailed>()
    const layer = Layer.succeed(PaymentEventInbox, {
      receive: (event) =>
        Effect.sync(() => {
          const row = rows.get(event.id)
          if (row !== undefined) return row.status
          rows.set(event.id, { status: "received", note: undefined })
          return "received"
        }),
      decode: (event) => Option.fromNullable(decoded.get(event.id)),
      markProcessed: (id, note) => Effect.sync(() => void rows.set(id, { status: "processed", note })),
      markFailed: (id, error) => Effect.sync(() => void rows.set(id, { status: "failed", note: error }))
    })
    return { rows, decoded, layer }
  }
  const event = (id: string): ProviderEvent => ({ id, type: "payment_intent.payment_failed", payload: {} })

  it.effect("stores an event once; one it does not act on is processed; a redelivery changes nothing", () =>
    Effect.gen(function* () {
      const { rows, layer } = inbox()
      const run = (e: ProviderEvent) => PaymentInbox.receivePaymentEvent(e).pipe(Effect.provide(layer))
      expect(yield* run(event("evt_1"))).toEqual({ _tag: "NotActedOn" })
      expect(rows.get("evt_1")).toEqual({ status: "processed", note: undefined })
      expect(yield* run(event("evt_1"))).toEqual({ _tag: "AlreadyProcessed" })
    }).pipe(Effect.provide(TestKit.layer()))
  )

  it.effect("an event the core ignores is processed with the reason kept for staff", () =>
    Effect.gen(function* () {
      const { rows, decoded, layer } = inbox()
      const sessionId = SessionId.make("7c9e6679-7425-40de-944b-e07fc1f90ae7")
      decoded.set(
        "evt_2",
        new ChargeFailed({
          sessionId: Option.some(sessionId),
          paymentIntentId: "pi_1",
          customerId: Option.none(),
          code: "card_declined",
          message: "declined"
        })
      )
      const receipt = yield* PaymentInbox.receivePaymentEvent(event("evt_2")).pipe(Effect.provide(layer))
      expect(receipt).toEqual({ _tag: "Ignored", reason: `session ${sessionId} does not exist` })
      expect(rows.get("evt_2")).toEqual({ status: "processed", note: `session ${sessionId} does not exist` })
    }).pipe(Effect.provide(TestKit.layer()))
  )
})
