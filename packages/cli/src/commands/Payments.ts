/**
 * `qwip payments list | retry | refund | reconcile`.
 */
import { Args, Command, Options } from "@effect/cli"
import { type Refund, SessionNotFound, SessionStore, StaffPayments } from "@qwip/core"
import { Clock, Data, Effect, Option } from "effect"
import {
  actorName,
  adapters,
  changeOptions,
  confirm,
  json,
  limit,
  onPlatform,
  penceOf,
  readOptions,
  sessionIdOf,
  sinceOf
} from "../Common.js"
import { green, pounds, printJson, printTable, red, say, when, yellow } from "../Output.js"

/** The command ran but its goal was not reached (a charge declined again): exit code 1. */
export class NotDone extends Data.TaggedError("NotDone")<{ readonly message: string }> {}

const list = Command.make(
  "list",
  {
    ...readOptions,
    failed: Options.boolean("failed").pipe(
      Options.withDescription("only charges that failed, wait for the customer, or whose outcome is unknown")
    ),
    limit: limit(50)
  },
  (o) =>
    onPlatform(o.dataDir)(
      Effect.gen(function* () {
        const views = yield* (yield* adapters).StaffViews
        const charges = yield* views.charges({ failed: o.failed, limit: o.limit })
        if (o.json) {
          return yield* printJson(
            charges.map((c) => ({
              sessionId: c.sessionId,
              status: c.status,
              amountPence: c.amountPence,
              paymentIntentId: c.paymentIntentId,
              idempotencyKey: c.idempotencyKey,
              retries: c.retries,
              lastRetryKey: c.lastRetryKey,
              detail: c.detail,
              refundedPence: c.refundedPence,
              dunning: c.collection,
              nextAttemptAt: c.nextAttemptAt?.toISOString() ?? null,
              createdAt: c.createdAt.toISOString(),
              updatedAt: c.updatedAt.toISOString()
            }))
          )
        }
        const painted = (status: string) =>
          status === "succeeded" || status === "not_billed" || status === "waived"
            ? status
            : status === "failed"
              ? red(status)
              : yellow(status)
        // Where collecting an unpaid charge stands: its dunning status, and when it next tries.
        const dunning = (c: (typeof charges)[number]) =>
          c.collection === null
            ? "-"
            : c.collection === "scheduled" && c.nextAttemptAt !== null
              ? yellow(`next ${when(c.nextAttemptAt)}`)
              : c.collection === "paid"
                ? "paid"
                : c.collection === "exhausted"
                  ? red("unpaid after collection")
                  : red(c.collection)
        yield* printTable(
          ["SESSION", "STATUS", "AMOUNT", "REFUNDED", "DUNNING", "PAYMENT INTENT", "RETRIES", "UPDATED", "DETAIL"],
          charges.map((c) => [
            c.sessionId,
            painted(c.status),
            pounds(c.amountPence),
            c.refundedPence > 0 ? pounds(c.refundedPence) : "-",
            dunning(c),
            c.paymentIntentId ?? "-",
            String(c.retries),
            when(c.updatedAt),
            c.detail ?? ""
          ]),
          o.failed ? "no failed payments" : "no charges"
        )
      })
    )
).pipe(Command.withDescription("session charges, newest first"))

const retriedSession = Args.text({ name: "SESSION" }).pipe(
  Args.withDescription("the ended session whose charge to try again: its id (a UUID, see qwip payments list --failed)")
)

const retry = Command.make("retry", { ...changeOptions, id: retriedSession }, (o) =>
  Effect.gen(function* () {
    const id = yield* sessionIdOf(o.id)
    yield* onPlatform(o.dataDir)(
      Effect.gen(function* () {
        const store = yield* SessionStore
        const session = yield* store.session(id)
        if (Option.isNone(session)) return yield* new SessionNotFound({ sessionId: id })
        const state = session.value.state
        if (state._tag === "Ended") {
          yield* confirm(o.yes, `Charge session ${id} (${pounds(state.quote.chargePence)}) again?`)
        }
        const r = yield* StaffPayments.retryPayment(id, { by: actorName(o.actor) })
        const key = Option.getOrElse(r.idempotencyKey, () => "-")
        const amount = r.session.state._tag === "Ended" ? pounds(r.session.state.quote.chargePence) : ""
        switch (r.result) {
          case "paid":
            return yield* say(green(`Charged ${amount} for session ${id} (attempt ${r.attempt}, key ${key}).`))
          case "already_paid":
            return yield* say(
              green(`Session ${id} was already paid at the payment provider: recorded, nothing charged again.`)
            )
          case "declined":
            return yield* new NotDone({
              message: `the charge of ${amount} for session ${id} was declined again (attempt ${r.attempt}, key ${key}); nothing was charged`
            })
          case "needs_authentication":
            return yield* new NotDone({
              message: `the charge for session ${id} needs the customer to authenticate it (attempt ${r.attempt}, key ${key})`
            })
          case "unknown":
            return yield* new NotDone({
              message: `no answer from the payment provider for session ${id} (key ${key}); run payments retry again later: it repeats the same key, so it cannot charge twice`
            })
        }
      })
    )
  })
).pipe(
  Command.withDescription(
    "charge an ended session whose payment failed or is unknown, never twice (same key for an unknown outcome, a new attempt key after a decline)"
  )
)

const refundedSession = Args.text({ name: "SESSION" }).pipe(
  Args.withDescription("the ended, paid session to refund: its id (a UUID, see qwip payments list)")
)

const refundJson = (sessionId: string, r: StaffPayments.PaymentRefund) => ({
  sessionId,
  refundedPence: r.refundedPence,
  totalRefundedPence: r.totalRefundedPence,
  repeated: r.repeated,
  refunds: r.refunds.map((part: Refund) => ({
    key: part.key,
    refundId: Option.getOrNull(part.refundId),
    paymentIntentId: part.paymentIntentId,
    amountPence: part.amountPence,
    status: part.status
  }))
})

const refund = Command.make(
  "refund",
  {
    ...changeOptions,
    json,
    id: refundedSession,
    amount: Options.text("amount").pipe(
      Options.withDescription("how much to refund, e.g. £12.50, 12.50 or 12 (default: everything not yet refunded)"),
      Options.optional
    ),
    reason: Options.text("reason").pipe(
      Options.withDescription("why, in words the customer reads in their email; also audited")
    )
  },
  (o) =>
    Effect.gen(function* () {
      const id = yield* sessionIdOf(o.id)
      const amount = Option.isSome(o.amount) ? Option.some(yield* penceOf("--amount", o.amount.value)) : Option.none()
      yield* confirm(
        o.yes,
        `Refund ${Option.match(amount, { onNone: () => "everything paid", onSome: pounds })} for session ${id}?`
      )
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          const r = yield* StaffPayments.refundPayment(id, {
            amountPence: amount,
            reason: o.reason,
            by: actorName(o.actor)
          }).pipe(
            Effect.catchTag("PaymentsUnavailable", () =>
              Effect.fail(
                new NotDone({
                  message: `no answer from the payment provider for the refund of session ${id}; it is recorded as pending: run the same command again later, it repeats the same keys, so it cannot refund twice`
                })
              )
            )
          )
          if (o.json) return yield* printJson(refundJson(id, r))
          if (r.repeated) {
            return yield* say(
              `This refund was made before: nothing more refunded for session ${id} (refunded in total ${pounds(r.totalRefundedPence)}).`
            )
          }
          yield* say(
            green(
              `Refunded ${pounds(r.refundedPence)} for session ${id} (refunded in total ${pounds(r.totalRefundedPence)}); the customer is emailed.`
            )
          )
          if (r.refunds.length > 1) {
            yield* printTable(
              ["PAYMENT INTENT", "AMOUNT", "STATUS", "KEY"],
              r.refunds.map((part) => [part.paymentIntentId, pounds(part.amountPence), part.status, part.key]),
              ""
            )
          }
        })
      )
    })
).pipe(
  Command.withDescription(
    'refund part (--amount) or all of what an ended session was paid, never more than paid less refunded; the same amount and reason again refunds nothing more. Audited; the customer is emailed. Example: qwip payments refund ID --amount £2.50 --reason "door code was slow"'
  )
)

const reconcileCommand = Command.make(
  "reconcile",
  {
    ...changeOptions,
    json,
    since: Options.text("since").pipe(
      Options.withDescription("how far back to compare: 30m, 24h, 7d or an ISO 8601 time (default 24h)"),
      Options.withDefault("24h")
    )
  },
  (o) =>
    Effect.gen(function* () {
      const until = new Date(yield* Clock.currentTimeMillis)
      const since = yield* sinceOf(o.since, until)
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          const report = yield* StaffPayments.reconcile({ since, until, by: actorName(o.actor) })
          if (o.json) {
            return yield* printJson({
              since: report.since.toISOString(),
              until: report.until.toISOString(),
              checked: report.checked,
              findings: report.findings
            })
          }
          yield* say(
            `Compared ${report.checked} payment${report.checked === 1 ? "" : "s"} at the provider from ${when(report.since)} to ${when(report.until)}.`
          )
          if (report.findings.length === 0) return yield* say(green("Everything agrees: nothing to do."))
          yield* printTable(
            ["SESSION", "PAYMENT INTENT", "ACTION", "DETAIL"],
            report.findings.map((f) => [
              f.sessionId,
              f.paymentIntentId,
              f.action === "reported" ? yellow(f.action) : f.action,
              f.detail
            ]),
            ""
          )
          const reported = report.findings.filter((f) => f.action === "reported").length
          if (reported > 0) yield* say(yellow(`${reported} reported to staff for a person to check.`))
        })
      )
    })
).pipe(
  Command.withDescription(
    "compare our charges with the payment provider's over a window and fix what the provider's record settles (unknown charges, dashboard refunds, stray holds); reports the rest; never charges. Safe to repeat. Example: qwip payments reconcile --since 24h"
  )
)

export const payments = Command.make("payments").pipe(
  Command.withDescription(
    "what customers were charged for ended sessions: list (with refunds and dunning), retry a failed or unknown charge (never charging twice), refund, reconcile with the provider. Example: qwip payments list --failed"
  ),
  Command.withSubcommands([list, retry, refund, reconcileCommand])
)
