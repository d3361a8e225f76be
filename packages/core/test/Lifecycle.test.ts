import { describe, expect, it } from "@effect/vitest"
import {
  AccessGrant,
  Active,
  CardOnFile,
  Customer,
  Ended,
  Ending,
  Lifecycle,
  NeedsAuthentication,
  NotBilled,
  Paid,
  PaymentFailed,
  PaymentUnknown,
  type PodId,
  Provisioning,
  ProvisioningFailed,
  type ProvisioningId,
  pence,
  Quote,
  rate,
  Session,
  type SessionId,
  type SessionState,
  type SetupIntentId,
  Waived
} from "@qwip/core"
import { Either, Option } from "effect"

const t0 = new Date("2025-05-01T09:00:00Z")
const t1 = new Date("2025-05-01T10:00:00Z")
const quote = new Quote({ billableSeconds: 3600, grossPence: 3000, chargePence: 3000, reason: "charge" })
const grant = new AccessGrant({ ref: "ac_1", sealedCode: "sealed:1234", mode: "lock-provider" })
const paid = new Paid({ paymentIntentId: "pi_1", amountPence: pence(3000) })

const sessionIn = (state: SessionState, access = Option.some(grant)) =>
  new Session({
    id: "6f1d3c52-1b7a-4c1e-9d59-0d2b8a1c9e11" as SessionId,
    podId: "pod-1" as PodId,
    provisioningId: "0b7c9a44-2f57-4b6b-8a32-1d7f3e0c5a22" as ProvisioningId,
    setupIntentId: "seti_1" as SetupIntentId,
    card: new CardOnFile({ customerId: "cus_1", paymentMethodId: "pm_1", email: "a@example.com" }),
    rate: rate("0.5"),
    startedAt: t0,
    accessUntil: new Date(t0.getTime() + 3 * 3600_000),
    access,
    accessRevokedAt: Option.none(),
    state,
    version: 3,
    updatedAt: t0
  })

const states: Record<SessionState["_tag"], SessionState> = {
  Provisioning: new Provisioning(),
  Active: new Active({ activatedAt: t0 }),
  ProvisioningFailed: new ProvisioningFailed({ failedAt: t0, reason: "lock offline" }),
  Ending: new Ending({
    endedAt: t1,
    quote,
    billedFrom: { _tag: "CodeReady", at: t0 },
    waiver: Option.none(),
    by: Customer
  }),
  Ended: new Ended({ endedAt: t1, quote, outcome: paid, closedAt: t1, by: Customer })
}

const endRequest = {
  endedAt: t1,
  quote,
  billedFrom: { _tag: "CodeReady", at: t0 },
  waiver: Option.none(),
  by: Customer
} as const

type Event = (s: Session) => Lifecycle.TransitionResult
const events: Record<string, Event> = {
  activate: (s) => Lifecycle.activate(s, grant, t1),
  failProvisioning: (s) => Lifecycle.failProvisioning(s, "lock offline", t1),
  beginEnd: (s) => Lifecycle.beginEnd(s, endRequest, t1),
  close: (s) => Lifecycle.close(s, paid, t1),
  settle: (s) => Lifecycle.settle(s, new Paid({ paymentIntentId: "pi_2", amountPence: pence(3000) }), t1),
  markAccessRevoked: (s) => Lifecycle.markAccessRevoked(s, t1)
}

// For each event and state: "next" state tag when it changes, "same" when it is a repeat, "illegal".
const table: Record<string, Record<SessionState["_tag"], string>> = {
  activate: {
    Provisioning: "Active",
    Active: "same",
    ProvisioningFailed: "illegal",
    Ending: "illegal",
    Ended: "illegal"
  },
  failProvisioning: {
    Provisioning: "ProvisioningFailed",
    Active: "illegal",
    ProvisioningFailed: "same",
    Ending: "illegal",
    Ended: "illegal"
  },
  beginEnd: { Provisioning: "Ending", Active: "Ending", ProvisioningFailed: "illegal", Ending: "same", Ended: "same" },
  close: { Provisioning: "illegal", Active: "illegal", ProvisioningFailed: "illegal", Ending: "Ended", Ended: "same" },
  // Ended here is Paid: settled outcomes never change.
  settle: {
    Provisioning: "illegal",
    Active: "illegal",
    ProvisioningFailed: "illegal",
    Ending: "illegal",
    Ended: "illegal"
  },
  markAccessRevoked: {
    Provisioning: "illegal",
    Active: "illegal",
    ProvisioningFailed: "ProvisioningFailed",
    Ending: "illegal",
    Ended: "Ended"
  }
}

describe("lifecycle: every event from every state", () => {
  for (const [eventName, row] of Object.entries(table)) {
    for (const [from, expected] of Object.entries(row) as Array<[SessionState["_tag"], string]>) {
      it(`${eventName} from ${from} → ${expected}`, () => {
        const before = sessionIn(states[from])
        const result = (events[eventName] as Event)(before)
        if (expected === "illegal") {
          expect(Either.isLeft(result)).toBe(true)
          if (Either.isLeft(result)) {
            expect(result.left._tag).toBe("IllegalTransition")
            expect(result.left.from).toBe(from)
          }
        } else if (expected === "same") {
          expect(result).toEqual(Either.right({ session: before, changed: false }))
        } else {
          if (Either.isLeft(result)) throw result.left
          expect(result.right.changed).toBe(true)
          expect(result.right.session.state._tag).toBe(expected)
          expect(result.right.session.version).toBe(before.version + 1)
          expect(result.right.session.updatedAt).toEqual(t1)
        }
      })
    }
  }
})

describe("lifecycle: details", () => {
  it("activating records the grant", () => {
    const r = Lifecycle.activate(sessionIn(states.Provisioning, Option.none()), grant, t1)
    expect(Either.getOrThrow(r).session.access).toEqual(Option.some(grant))
  })
  it("activating an active session with another code is illegal, not a silent swap", () => {
    const other = new AccessGrant({ ref: "ac_2", sealedCode: "sealed:9999", mode: "lock-provider" })
    expect(Either.isLeft(Lifecycle.activate(sessionIn(states.Active), other, t1))).toBe(true)
  })
  it("a second end keeps the first end's time and price", () => {
    const ending = sessionIn(states.Ending)
    const later = Lifecycle.beginEnd(ending, { ...endRequest, endedAt: new Date(t1.getTime() + 60_000) }, t1)
    expect(Either.getOrThrow(later)).toEqual({ session: ending, changed: false })
  })
  it("closing carries the fixed end, price and billed-from time into Ended with the outcome", () => {
    const closed = Either.getOrThrow(Lifecycle.close(sessionIn(states.Ending), new NotBilled(), t1)).session
    expect(closed.state).toEqual(
      new Ended({
        endedAt: t1,
        quote,
        billedFrom: { _tag: "CodeReady", at: t0 },
        outcome: new NotBilled(),
        closedAt: t1,
        by: Customer
      })
    )
  })
  it("unsettled outcomes settle; settled ones do not change; the same outcome is a repeat", () => {
    const ended = (outcome: Ended["outcome"]) =>
      sessionIn(new Ended({ endedAt: t1, quote, outcome, closedAt: t1, by: Customer }))
    for (const unsettled of [
      new PaymentUnknown({ detail: "timeout" }),
      new NeedsAuthentication({ paymentIntentId: "pi_1" }),
      new PaymentFailed({ paymentIntentId: Option.some("pi_1"), declineCode: "card_declined", message: "no" })
    ]) {
      const r = Either.getOrThrow(Lifecycle.settle(ended(unsettled), paid, t1))
      expect(r.changed).toBe(true)
      expect(r.session.state._tag === "Ended" && r.session.state.outcome).toEqual(paid)
    }
    for (const settled of [paid, new NotBilled(), new Waived({ reason: "door broken", by: "sam" })]) {
      expect(Either.isLeft(Lifecycle.settle(ended(settled), new PaymentUnknown({ detail: "x" }), t1))).toBe(true)
    }
    expect(Either.getOrThrow(Lifecycle.settle(ended(paid), paid, t1)).changed).toBe(false)
  })
  it("revoking access twice is one revocation", () => {
    const once = Either.getOrThrow(Lifecycle.markAccessRevoked(sessionIn(states.Ended), t1)).session
    expect(Either.getOrThrow(Lifecycle.markAccessRevoked(once, t1))).toEqual({ session: once, changed: false })
  })
})
