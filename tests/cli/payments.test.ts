/**
 * `qwip payments refund | reconcile | list` in process against the embedded store with sandbox
 * payments: a partial refund then the rest, a repeat refunding nothing more, a refund larger
 * than what is left refused, a bad amount refused before the store is touched; reconcile
 * reporting in JSON and in words; list showing the refunded amount; audit rows for each.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { DEMO_POD_ID, StoreRecords, TEST_CARDS } from "@qwip/adapters"
import type { Session } from "@qwip/core"
import { Effect } from "effect"
import { book, CARDS, drain, embeddedTarget, ensureBuilt, inStore, qwip, qwipJson, type Target } from "./support/Cli.js"

beforeAll(ensureBuilt, 300_000)

const ACTOR = ["--yes", "--actor", "ada"]

interface RefundJson {
  readonly sessionId: string
  readonly refundedPence: number
  readonly totalRefundedPence: number
  readonly repeated: boolean
  readonly refunds: ReadonlyArray<{
    readonly paymentIntentId: string
    readonly amountPence: number
    readonly status: string
  }>
}

describe("qwip payments refund, reconcile and list", () => {
  let target: Target
  let env: Record<string, string>
  let session: Session
  let paidPence = 0

  beforeAll(async () => {
    target = embeddedTarget()
    env = target.env
    session = await inStore(env, book(DEMO_POD_ID, CARDS.succeeds, { minutesAgo: 30 }))
    const ended = await qwip(["sessions", "end", session.id, ...ACTOR], env)
    expect(ended.code, ended.stderr).toBe(0)
    const charges = await qwipJson<ReadonlyArray<{ sessionId: string; amountPence: number; status: string }>>(
      ["payments", "list"],
      env
    )
    const charge = charges.find((c) => c.sessionId === session.id)
    expect(charge?.status).toBe("succeeded")
    paidPence = charge?.amountPence ?? 0
    expect(paidPence).toBeGreaterThan(100)
  }, 120_000)
  afterAll(() => target?.cleanUp())

  it("refuses an amount it cannot read exactly, before reaching the store", async () => {
    for (const [amount, why] of [
      ["1.005", "more than 2 decimal places"],
      ["-1", "negative"],
      ["lots", "not an amount"]
    ] as const) {
      const r = await qwip(["payments", "refund", session.id, "--amount", amount, "--reason", "x", ...ACTOR], env)
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(why)
    }
  })

  it("refunds part, then a repeat refunds nothing more, then the rest; never more than paid", async () => {
    const args = ["payments", "refund", session.id, "--amount", "£1.00", "--reason", "door code was slow", ...ACTOR]
    const first = await qwipJson<RefundJson>(args, env)
    expect(first).toMatchObject({ sessionId: session.id, refundedPence: 100, totalRefundedPence: 100, repeated: false })
    expect(first.refunds.map((r) => r.amountPence)).toEqual([100])

    const again = await qwipJson<RefundJson>(args, env)
    expect(again).toMatchObject({ refundedPence: 0, totalRefundedPence: 100, repeated: true })

    const words = await qwip(args, env)
    expect(words.code, words.stderr).toBe(0)
    expect(words.stdout).toContain("nothing more refunded")

    const tooMuch = await qwip(
      ["payments", "refund", session.id, "--amount", `${paidPence}`, "--reason", "too much", ...ACTOR],
      env
    )
    expect(tooMuch.code).toBe(1)
    expect(tooMuch.stderr).toContain("at most")

    const rest = await qwip(["payments", "refund", session.id, "--reason", "sorry, full refund", ...ACTOR], env)
    expect(rest.code, rest.stderr).toBe(0)
    const left = ((paidPence - 100) / 100).toFixed(2)
    expect(rest.stdout).toContain(`Refunded £${left} for session ${session.id}`)

    const nothing = await qwip(["payments", "refund", session.id, "--reason", "once more", ...ACTOR], env)
    expect(nothing.code).toBe(1)
    expect(nothing.stderr).toContain("nothing to refund")

    const charges = await qwipJson<ReadonlyArray<{ sessionId: string; refundedPence: number }>>(
      ["payments", "list"],
      env
    )
    expect(charges.find((c) => c.sessionId === session.id)?.refundedPence).toBe(paidPence)
    const shown = await qwipJson<{
      collection: { refundedPence: number; refunds: ReadonlyArray<{ amountPence: number; status: string; by: string }> }
    }>(["sessions", "show", session.id], env)
    expect(shown.collection.refundedPence).toBe(paidPence)
    expect(shown.collection.refunds.map((r) => r.by)).toEqual(["ada", "ada"])
    const showWords = await qwip(["sessions", "show", session.id], env)
    expect(showWords.stdout).toContain(`refunded   £${(paidPence / 100).toFixed(2)}`)
    const table = await qwip(["payments", "list"], env)
    expect(table.stdout).toContain("REFUNDED")
    expect(table.stdout).toContain(`£${(paidPence / 100).toFixed(2)}`)

    // The customer is told about each refund.
    await inStore(env, drain)
    const emails = await qwipJson<ReadonlyArray<{ kind: string; subject: string | null }>>(["mail", "list"], env)
    const notices = emails.filter((e) => e.kind === "RefundNotice")
    expect(notices.length).toBe(2)
    expect(notices.map((e) => e.subject)).toEqual(
      expect.arrayContaining([expect.stringContaining("We've refunded £1.00")])
    )
  })

  it("list shows where collecting a declined charge stands: its next attempt, or stopped for a hard decline", async () => {
    const soft = await inStore(env, book(DEMO_POD_ID, TEST_CARDS.chargesDeclinedInsufficientFunds, { minutesAgo: 20 }))
    expect((await qwip(["sessions", "end", soft.id, ...ACTOR], env)).code).toBe(0)
    const hard = await inStore(env, book(DEMO_POD_ID, TEST_CARDS.chargesDeclinedLostCard, { minutesAgo: 10 }))
    expect((await qwip(["sessions", "end", hard.id, ...ACTOR], env)).code).toBe(0)

    type Row = { sessionId: string; status: string; dunning: string | null; nextAttemptAt: string | null }
    const rows = await qwipJson<ReadonlyArray<Row>>(["payments", "list", "--failed"], env)
    const softRow = rows.find((r) => r.sessionId === soft.id)
    expect(softRow).toMatchObject({ status: "failed", dunning: "scheduled" })
    // The first retry a day after the decline (the default schedule).
    const next = new Date(softRow?.nextAttemptAt ?? 0).getTime() - Date.now()
    expect(next).toBeGreaterThan(23 * 3_600_000)
    expect(next).toBeLessThan(25 * 3_600_000)
    expect(rows.find((r) => r.sessionId === hard.id)).toMatchObject({ dunning: "stopped", nextAttemptAt: null })

    const table = await qwip(["payments", "list", "--failed"], env)
    expect(table.stdout).toContain("DUNNING")
    expect(table.stdout).toMatch(/next \d/)
    expect(table.stdout).toContain("stopped")
  })

  it("reconciles: reports what it compared, in JSON and in words, and is audited", async () => {
    const report = await qwipJson<{ since: string; until: string; checked: number; findings: ReadonlyArray<unknown> }>(
      ["payments", "reconcile", "--since", "24h", "--actor", "ada"],
      env
    )
    expect(report.checked).toBeGreaterThanOrEqual(1)
    expect(new Date(report.until).getTime() - new Date(report.since).getTime()).toBe(24 * 3_600_000)
    const words = await qwip(["payments", "reconcile", "--since", "2h", "--actor", "ada"], env)
    expect(words.code, words.stderr).toBe(0)
    expect(words.stdout).toMatch(/Compared \d+ payments? at the provider/)
    const bad = await qwip(["payments", "reconcile", "--since", "last week"], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--since")

    const audit = await inStore(
      env,
      Effect.flatMap(StoreRecords, (r) => r.listAudit({ limit: 100 }))
    )
    const actions = audit.map((a) => a.action)
    expect(actions).toEqual(expect.arrayContaining(["payments.refund", "payments.reconcile"]))
  })
})
