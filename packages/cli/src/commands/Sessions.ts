/**
 * `qwip sessions list | show | end | retry-provisioning`.
 */
import { Args, Command, Options } from "@effect/cli"
import {
  Billing,
  describeActor,
  endedAtOf,
  formatRate,
  Overdue,
  Policy,
  refundedPence,
  type Session,
  SessionNotFound,
  SessionStore,
  StaffEnd,
  StaffSessions,
  StaffStore,
  termsFor
} from "@qwip/core"
import { Clock, type Duration, Effect, Either, Option } from "effect"
import {
  actorName,
  adapters,
  changeOptions,
  confirm,
  limit,
  onPlatform,
  podIdOf,
  readOptions,
  sessionIdOf,
  timeOf,
  UsageError
} from "../Common.js"
import { bold, dim, green, pounds, printJson, printTable, red, say, when, yellow } from "../Output.js"

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

/** Why a session failed, when it did. */
const failureOf = (s: Session): string | null => {
  const state = s.state
  if (state._tag === "ProvisioningFailed") return state.reason
  if (state._tag !== "Ended") return null
  const o = state.outcome
  switch (o._tag) {
    case "PaymentFailed":
      return `${o.declineCode}: ${o.message}`
    case "NeedsAuthentication":
      return `waiting for the customer to authenticate ${o.paymentIntentId}`
    case "PaymentUnknown":
      return o.detail
    default:
      return null
  }
}

/** What a fixed end billed: time and amount, and from when (or why nothing). */
const billedText = (s: Session): string => {
  const state = s.state
  if (state._tag !== "Ending" && state._tag !== "Ended") return "-"
  const amount = `${Math.floor(state.quote.billableSeconds / 60)} min, ${pounds(state.quote.chargePence)}`
  switch (state.billedFrom._tag) {
    case "CodeReady":
      return `${amount} from ${when(state.billedFrom.at)} (door code ready)`
    case "NoCode":
      return "nothing: no door code was ever ready"
    case "Booking":
      return `${amount} from the booking (ended before billing followed the door code)`
  }
}

/** A session as staff see it (and `--json` prints it). */
export const sessionView = (s: Session, at: Date, grace: Duration.Duration) => {
  const state = s.state
  return {
    id: s.id,
    podId: s.podId,
    state: state._tag,
    email: s.card.email,
    ratePerMinute: formatRate(s.rate),
    startedAt: s.startedAt.toISOString(),
    accessUntil: s.accessUntil.toISOString(),
    endedAt: Option.getOrNull(Option.map(endedAtOf(s), (d) => d.toISOString())),
    /** When billing starts or started (the door code was ready); null while none is or if none ever was. */
    billedFrom: Option.getOrNull(Option.map(Billing.billableStartOf(s), (d) => d.toISOString())),
    overdue: Overdue.isOverdue(s, at, grace),
    outcome: state._tag === "Ended" ? state.outcome._tag : null,
    notBilledReason: state._tag === "Ended" && state.outcome._tag === "NotBilled" ? state.outcome.reason : null,
    chargePence: state._tag === "Ending" || state._tag === "Ended" ? state.quote.chargePence : null,
    endedBy: state._tag === "Ending" || state._tag === "Ended" ? describeActor(state.by) : null,
    failure: failureOf(s),
    accessMode: Option.getOrNull(Option.map(s.access, (a) => a.mode)),
    accessRevoked: Option.isSome(s.accessRevokedAt),
    version: s.version
  }
}

const stateText = (v: ReturnType<typeof sessionView>) => {
  if (v.state === "Ended") {
    const ok = v.outcome === "Paid" || v.outcome === "NotBilled" || v.outcome === "Waived"
    return ok ? `Ended/${v.outcome}` : red(`Ended/${v.outcome}`)
  }
  if (v.state === "ProvisioningFailed") return red(v.state)
  return v.overdue ? yellow(`${v.state} (overdue)`) : green(v.state)
}

const list = Command.make(
  "list",
  {
    ...readOptions,
    live: Options.boolean("live").pipe(Options.withDescription("only sessions holding their pod")),
    overdue: Options.boolean("overdue").pipe(
      Options.withDescription("only live sessions past their door-code window and the grace period")
    ),
    failed: Options.boolean("failed").pipe(
      Options.withDescription("only sessions whose provisioning or payment failed (or whose payment is unknown)")
    ),
    pod: Options.text("pod").pipe(Options.withDescription("only this pod's sessions"), Options.optional),
    limit: limit(50)
  },
  (o) =>
    Effect.gen(function* () {
      const chosen = (["live", "overdue", "failed"] as const).filter((f) => o[f])
      if (chosen.length > 1) return yield* new UsageError({ message: "choose one of --live, --overdue and --failed" })
      const podId = Option.isSome(o.pod) ? yield* podIdOf(o.pod.value) : undefined
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          const policy = yield* Policy
          const at = yield* now
          const sessions = yield* StaffSessions.listSessions({ filter: chosen[0] ?? "all", podId, limit: o.limit })
          const views = sessions.map((s) => sessionView(s, at, policy.overdueGrace))
          if (o.json) return yield* printJson(views)
          yield* printTable(
            ["SESSION", "POD", "STATE", "STARTED", "ENDED", "AMOUNT", "EMAIL"],
            views.map((v) => [
              v.id,
              v.podId,
              stateText(v),
              when(new Date(v.startedAt)),
              v.endedAt === null ? "-" : when(new Date(v.endedAt)),
              v.chargePence === null ? "-" : pounds(v.chargePence),
              v.email
            ]),
            "no sessions"
          )
        })
      )
    })
).pipe(Command.withDescription("sessions, newest first (times in London)"))

interface TimelineEntry {
  readonly at: string
  readonly event: string
  readonly detail: string
}

const shownSession = Args.text({ name: "SESSION" }).pipe(
  Args.withDescription("the session's id (a UUID, see qwip sessions list)")
)

const show = Command.make("show", { ...readOptions, id: shownSession }, (o) =>
  Effect.gen(function* () {
    const id = yield* sessionIdOf(o.id)
    yield* onPlatform(o.dataDir)(
      Effect.gen(function* () {
        const store = yield* SessionStore
        const { StaffViews, StoreRecords } = yield* adapters
        const records = yield* StoreRecords
        const staff = yield* StaffStore
        const views = yield* StaffViews
        const policy = yield* Policy
        const found = yield* store.sessionWithPod(id)
        if (Option.isNone(found)) return yield* new SessionNotFound({ sessionId: id })
        const { session, pod } = found.value
        const [charge, attempts, work, failures, emails, audit] = yield* Effect.all([
          records.chargeFor(id),
          staff.chargeAttempts(id),
          records.workFor(id),
          records.paymentAttemptsFor(id),
          views.emailsFor(id),
          records.listAudit({ subject: id, limit: 100 })
        ])
        const timeline: Array<TimelineEntry> = []
        const add = (at: Date | null | undefined, event: string, detail = "") => {
          if (at !== null && at !== undefined) timeline.push({ at: at.toISOString(), event, detail })
        }
        const state = session.state
        add(session.startedAt, "booked", `by ${session.card.email} at £${formatRate(session.rate)}/min`)
        if (state._tag === "Active") add(state.activatedAt, "door code active")
        if ((state._tag === "Ending" || state._tag === "Ended") && state.billedFrom._tag === "CodeReady") {
          add(state.billedFrom.at, "billed from", "the door code was ready")
        }
        if (state._tag === "ProvisioningFailed") add(state.failedAt, "provisioning failed", state.reason)
        if (state._tag === "Ending" || state._tag === "Ended") {
          add(state.endedAt, "ended", `by ${describeActor(state.by)}: ${billedText(session)}`)
        }
        if (state._tag === "Ended") add(state.closedAt, "closed", state.outcome._tag)
        add(Option.getOrNull(session.accessRevokedAt), "door code revoked")
        for (const w of work) {
          add(w.createdAt, `queued ${w.kind}`, w.key)
          if (w.status === "done") add(w.finishedAt, `${w.kind} done`, `after ${w.attempts} attempt(s)`)
          if (w.status === "parked") add(w.finishedAt, `${w.kind} parked`, w.lastError ?? "")
        }
        for (const f of failures)
          add(f.createdAt, "payment failed", `${f.declineCode ?? "?"} (${pounds(f.sessionCost ?? 0)})`)
        for (const a of attempts) {
          add(a.createdAt, `staff charge retry ${a.attempt}`, `by ${a.by}, key ${a.idempotencyKey}`)
          if (a.status !== "pending")
            add(
              a.updatedAt,
              `retry ${a.attempt} ${a.status}`,
              Option.getOrElse(a.paymentIntentId, () => "")
            )
        }
        for (const e of emails) {
          const subject = (e.rendered as { subject?: string } | null)?.subject ?? ""
          add(e.createdAt, `email ${e.kind}`, `to ${e.recipient}: ${subject}`)
        }
        for (const a of audit) add(a.at, `staff: ${a.action}`, `by ${a.actor}`)
        const collection = session.collection
        for (const attempt of Option.match(collection.dunning, { onNone: () => [], onSome: (d) => d.attempts })) {
          add(
            attempt.at,
            `collection attempt ${attempt.attempt} ${attempt.status}`,
            `${pounds(attempt.amountPence)}, key ${attempt.idempotencyKey}${Option.match(attempt.declineCode, { onNone: () => "", onSome: (c) => ` (${c})` })}`
          )
        }
        for (const r of collection.refunds) {
          add(r.at, `refund ${r.status}`, `${pounds(r.amountPence)} by ${r.by}: ${r.reason} (${r.paymentIntentId})`)
        }
        timeline.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))

        const view = sessionView(session, yield* now, policy.overdueGrace)
        const chargeJson = Option.getOrNull(
          Option.map(charge, (c) => ({
            status: c.status,
            amountPence: c.amountPence,
            paymentIntentId: c.paymentIntentId,
            idempotencyKey: c.idempotencyKey,
            detail: c.detail
          }))
        )
        if (o.json) {
          return yield* printJson({
            session: view,
            pod: { id: pod.id, name: pod.name, address: pod.address },
            charge: chargeJson,
            chargeRetries: attempts.map((a) => ({
              attempt: a.attempt,
              idempotencyKey: a.idempotencyKey,
              status: a.status,
              paymentIntentId: Option.getOrNull(a.paymentIntentId),
              by: a.by
            })),
            work: work.map((w) => ({
              key: w.key,
              kind: w.kind,
              status: w.status,
              attempts: w.attempts,
              lastError: w.lastError
            })),
            emails: emails.map((e) => ({
              id: e.id,
              kind: e.kind,
              recipient: e.recipient,
              createdAt: e.createdAt.toISOString()
            })),
            audit: audit.map((a) => ({ actor: a.actor, action: a.action, at: a.at.toISOString() })),
            collection: {
              hold: Option.getOrNull(
                Option.map(collection.hold, (h) => ({
                  paymentIntentId: h.paymentIntentId,
                  amountPence: h.amountPence,
                  status: h.status,
                  capturedPence: h.capturedPence
                }))
              ),
              dunning: Option.getOrNull(
                Option.map(collection.dunning, (d) => ({
                  status: d.status,
                  nextAttemptAt: Option.getOrNull(Option.map(d.nextAttemptAt, (t) => t.toISOString())),
                  attempts: d.attempts.length
                }))
              ),
              refundedPence: refundedPence(collection),
              refunds: collection.refunds.map((r) => ({
                key: r.key,
                refundId: Option.getOrNull(r.refundId),
                paymentIntentId: r.paymentIntentId,
                amountPence: r.amountPence,
                status: r.status,
                reason: r.reason,
                by: r.by,
                at: r.at.toISOString()
              }))
            },
            timeline
          })
        }
        yield* say(`${bold(`Session ${session.id}`)}  ${stateText(view)}`)
        yield* say(`pod        ${pod.id} (${pod.name})`)
        yield* say(`customer   ${session.card.email}`)
        yield* say(`started    ${when(session.startedAt)}   door code until ${when(session.accessUntil)}`)
        if (view.endedAt !== null) yield* say(`ended      ${when(new Date(view.endedAt))}   by ${view.endedBy}`)
        if (view.endedAt !== null) yield* say(`billed     ${billedText(session)}`)
        if (Option.isSome(charge)) {
          const c = charge.value
          yield* say(
            `charge     ${pounds(c.amountPence)} ${c.status}${c.paymentIntentId === null ? "" : ` (${c.paymentIntentId})`}`
          )
        }
        if (Option.isSome(collection.hold)) {
          const h = collection.hold.value
          yield* say(
            `hold       ${pounds(h.amountPence)} ${h.status}${h.capturedPence > 0 ? `, ${pounds(h.capturedPence)} captured` : ""} (${h.paymentIntentId})`
          )
        }
        if (Option.isSome(collection.dunning)) {
          const d = collection.dunning.value
          const next = Option.match(d.nextAttemptAt, { onNone: () => "", onSome: (t) => `, next ${when(t)}` })
          yield* say(`dunning    ${d.status}${next} (${d.attempts.length} attempt(s))`)
        }
        if (collection.refunds.length > 0) yield* say(`refunded   ${pounds(refundedPence(collection))}`)
        if (view.failure !== null) yield* say(`problem    ${red(view.failure)}`)
        yield* say("")
        yield* printTable(
          ["WHEN", "WHAT", "DETAIL"],
          timeline.map((t) => [when(new Date(t.at)), t.event, dim(t.detail)]),
          "nothing recorded"
        )
      })
    )
  })
).pipe(Command.withDescription("one session: its state, charge, background work, emails and staff actions"))

const endedLine = (s: Session): string => {
  const state = s.state
  if (state._tag !== "Ended") return `Session ${s.id} is ${state._tag}.`
  const o = state.outcome
  const minutes = `${Math.floor(state.quote.billableSeconds / 60)} min`
  switch (o._tag) {
    case "Paid":
      return `Session ${s.id} ended at ${when(state.endedAt)} (${minutes}): charged ${pounds(o.amountPence)} (${o.paymentIntentId}).`
    case "NotBilled":
      return `Session ${s.id} ended at ${when(state.endedAt)} (${minutes}): not billed (${
        o.reason === "no_door_code" ? "no door code was ever ready" : "under the minimum charge"
      }).`
    case "Waived":
      return `Session ${s.id} ended at ${when(state.endedAt)} (${minutes}): charge waived (${o.reason}).`
    case "PaymentFailed":
      return red(
        `Session ${s.id} ended at ${when(state.endedAt)} but the charge of ${pounds(state.quote.chargePence)} was declined (${o.declineCode}): retry with qwip payments retry ${s.id}`
      )
    case "NeedsAuthentication":
      return yellow(
        `Session ${s.id} ended; the charge of ${pounds(state.quote.chargePence)} waits for the customer to authenticate (${o.paymentIntentId}).`
      )
    case "PaymentUnknown":
      return yellow(
        `Session ${s.id} ended; the charge's outcome is unknown (${o.detail}): the service settles it by reading it back.`
      )
  }
}

const end = Command.make(
  "end",
  {
    ...changeOptions,
    id: Args.text({ name: "SESSION" }).pipe(
      Args.withDescription("the session to end and charge: its id (a UUID, see qwip sessions list)")
    ),
    at: Options.text("at").pipe(
      Options.withDescription("end at this time (ISO 8601 with zone) instead of now; never in the future"),
      Options.optional
    ),
    waive: Options.boolean("waive").pipe(
      Options.withDescription("end without charging the customer anything (needs --reason)")
    ),
    reason: Options.text("reason").pipe(
      Options.withDescription("why the charge is waived, kept with the session's outcome"),
      Options.optional
    )
  },
  (o) =>
    Effect.gen(function* () {
      const id = yield* sessionIdOf(o.id)
      const at = Option.isSome(o.at) ? yield* timeOf(o.at.value) : undefined
      if (o.waive && Option.isNone(o.reason)) return yield* new UsageError({ message: "--waive needs --reason TEXT" })
      if (!o.waive && Option.isSome(o.reason)) {
        return yield* new UsageError({ message: "--reason goes with --waive (it says why the charge is waived)" })
      }
      const by = actorName(o.actor)
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          const store = yield* SessionStore
          const policy = yield* Policy
          const found = yield* store.sessionWithPod(id)
          if (Option.isNone(found)) return yield* new SessionNotFound({ sessionId: id })
          const { session, pod } = found.value
          if (session.state._tag === "Provisioning" || session.state._tag === "Active") {
            const endAt = at ?? (yield* now)
            const priced = Either.getRight(Billing.priceEnd(session, endAt, termsFor(policy, session.rate)))
            const charge = o.waive
              ? "waiving the charge"
              : Option.match(priced, {
                  onNone: () => "charging per the tariff",
                  onSome: (p) =>
                    p.billedFrom._tag === "NoCode"
                      ? "charging nothing (no door code was ever ready)"
                      : `charging ${pounds(p.quote.chargePence)}`
                })
            yield* confirm(
              o.yes,
              `End session ${id} on ${pod.name} (${session.state._tag}, started ${when(session.startedAt)}) at ${when(endAt)}, ${charge}?`
            )
          } else if (session.state._tag === "Ending") {
            const { endedAt, quote } = session.state
            yield* confirm(
              o.yes,
              `Session ${id}'s end was interrupted: finish it (ended ${when(endedAt)}, ${pounds(quote.chargePence)} as fixed then)?`
            )
          }
          const result = yield* StaffEnd.endAsStaff(id, {
            by,
            at,
            waiveReason: o.waive ? Option.getOrUndefined(o.reason) : undefined
          })
          if (result.resumed) yield* say("Finished an end that had been interrupted; its recorded end time stands.")
          yield* say(endedLine(result.after))
          const status = yield* store.podStatus(pod.id)
          yield* say(
            Option.exists(status, (p) => Option.isSome(p.codeHold))
              ? `Pod ${pod.id} stays blocked until the lock confirms the door code removed (the service's background work does it); see qwip pods list.`
              : `Pod ${pod.id} is free; the door code is revoked by the service's background work.`
          )
        })
      )
    })
).pipe(
  Command.withDescription(
    "end a customer's session as staff: charges their saved card once, per the tariff from when the door code was ready up to --at or now (nothing if no code was ever ready, nothing with --waive); revokes the code and frees the pod"
  )
)

const retryProvisioning = Command.make(
  "retry-provisioning",
  {
    ...changeOptions,
    id: Args.text({ name: "SESSION" }).pipe(
      Args.withDescription("the session stuck in provisioning: its id (a UUID, see qwip sessions list --failed)")
    )
  },
  (o) =>
    Effect.gen(function* () {
      const id = yield* sessionIdOf(o.id)
      const by = actorName(o.actor)
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          yield* confirm(o.yes, `Try again to make the door code of session ${id}?`)
          yield* say(dim("provisioning (this can take a minute)…"))
          const result = yield* StaffSessions.retryProvisioning(id, { by })
          const state = result.after.state
          if (state._tag === "Active") {
            return yield* say(green(`Session ${id} has its door code; the email to the customer is queued.`))
          }
          if (state._tag === "ProvisioningFailed") {
            return yield* say(
              red(`Provisioning failed for good: ${state.reason}. The pod was released and the customer told.`)
            )
          }
          yield* say(`Session ${id} is ${state._tag}; the service keeps trying (work ${result.workKey}).`)
        })
      )
    })
).pipe(
  Command.withDescription(
    "queue provisioning again under a new work key for a session stuck in provisioning, and run it"
  )
)

export const sessions = Command.make("sessions").pipe(
  Command.withDescription(
    "customers' sessions: find stuck, live, overdue and failed ones, see one's history, end one (charged once), make its door code again. Example: qwip sessions list --overdue"
  ),
  Command.withSubcommands([list, show, end, retryProvisioning])
)
