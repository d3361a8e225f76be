/**
 * `qwip payments list | retry`.
 */
import { Args, Command, Options } from "@effect/cli"
import { SessionNotFound, SessionStore, StaffPayments } from "@qwip/core"
import { Data, Effect, Option } from "effect"
import { actorName, adapters, changeOptions, confirm, limit, onPlatform, readOptions, sessionIdOf } from "../Common.js"
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
        yield* printTable(
          ["SESSION", "STATUS", "AMOUNT", "PAYMENT INTENT", "RETRIES", "UPDATED", "DETAIL"],
          charges.map((c) => [
            c.sessionId,
            painted(c.status),
            pounds(c.amountPence),
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

export const payments = Command.make("payments").pipe(
  Command.withDescription(
    "what customers were charged for ended sessions: list, retry a failed or unknown charge (never charging twice). Example: qwip payments list --failed"
  ),
  Command.withSubcommands([list, retry])
)
