/**
 * What staff do to pods, sessions, codes and payments (the `qwip` CLI's use cases). Every
 * change goes through the same rules as the service's use cases and writes one row to the
 * staff audit log (actor, action, the record before and after). Door codes never appear in
 * the log: code lists are recorded masked.
 *
 * Decisions:
 * - Releasing a pod a live session holds is refused unless forced with a reason. Forcing
 *   ends each live session through the ordinary end (so the pod's in-use flag and its live
 *   sessions never disagree): each is priced by the one billing rule (`Billing`: an active
 *   session from when its code was ready up to now, a session still provisioning not at
 *   all), and an interrupted end is finished at its recorded time. `waive` waives them all.
 * - Changing a pod's lock device is refused while a live session holds the pod: its code
 *   would be revoked from the new device instead of the one it was made on.
 * - Retrying a payment never makes two successful charges. An unknown outcome is retried
 *   with the same idempotency key (the provider answers with the first charge if it landed).
 *   After a definite decline the provider would only replay the cached decline for that key,
 *   so a new attempt gets its own key (`qwip-session-charge-<id>-retry-<n>`), recorded before
 *   the request is sent; a new attempt starts only when the provider reports no successful,
 *   pending or authenticating charge for the session, and an attempt whose answer was lost
 *   stays pending and is retried with its own key.
 */
import { Duration, Effect, Either, Option, Random, Schema } from "effect"
import { provisionAccess } from "./Access.js"
import { AccessCode, accessCode, maskCode } from "./AccessCode.js"
import { billableStartOf } from "./Billing.js"
import { IllegalTransition, PodMisconfigured, PodNotFound, SessionAlreadyEnded } from "./Errors.js"
import { type PodId, randomUuid, type SessionId } from "./Ids.js"
import { pence } from "./Money.js"
import { boundedPayments } from "./OutsideCalls.js"
import { type AccessMode, Pod, type PodStatus } from "./Pod.js"
import { chargeRetry, Policy } from "./Policy.js"
import { type ChargeResult, chargeKeyFor } from "./ports/Payments.js"
import { SealedCodeKeys } from "./ports/SealedCodeKeys.js"
import { SessionStore } from "./ports/SessionStore.js"
import { type ChargeAttempt, type SessionListFilter, StaffStore } from "./ports/StaffStore.js"
import { formatRate, type RatePerMinute } from "./Rate.js"
import { AccessGrant, isUnsettled, type Outcome, type Session, sealedCodeOf } from "./Session.js"
import { outcomeOf, recordSettlement, staffEndSession } from "./SessionEnd.js"
import { loadSession, now } from "./SessionSteps.js"
import { WorkOrder } from "./Work.js"

// ---- errors ---------------------------------------------------------------------------

/** Live sessions hold the pod, so the change would leave them inconsistent. */
export class PodHeld extends Schema.TaggedError<PodHeld>()("PodHeld", {
  podId: Schema.String,
  sessionIds: Schema.Array(Schema.String),
  action: Schema.String
}) {
  override get message() {
    return `cannot ${this.action} pod ${this.podId}: live session ${this.sessionIds.join(", ")} holds it`
  }
}

/**
 * A pod kept in use because a previous session's door code is not confirmed gone from its
 * lock: the previous customer could still open the door. Only a forced release frees it.
 */
export class PodBlockedByCode extends Schema.TaggedError<PodBlockedByCode>()("PodBlockedByCode", {
  podId: Schema.String,
  sessionId: Schema.String,
  since: Schema.Date,
  action: Schema.optionalWith(Schema.String, { default: () => "release" })
}) {
  override get message() {
    return `cannot ${this.action} pod ${this.podId}: session ${this.sessionId}'s door code is not confirmed removed from the lock (since ${this.since.toISOString()}); the pod frees itself once the lock confirms. To free it now, remove the code from the lock by hand, then: qwip pods release ${this.podId} --force --reason "door code removed by hand"`
  }
}

/** The staff request is incomplete or contradicts itself (e.g. forcing without a reason). */
export class InvalidStaffRequest extends Schema.TaggedError<InvalidStaffRequest>()("InvalidStaffRequest", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/** The session is not in a state the retry applies to. */
export class NothingToRetry extends Schema.TaggedError<NothingToRetry>()("NothingToRetry", {
  sessionId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `nothing to retry for session ${this.sessionId}: ${this.reason}`
  }
}

/** A charge waits for the customer's authentication: charging again could charge twice. */
export class PaymentNeedsCustomer extends Schema.TaggedError<PaymentNeedsCustomer>()("PaymentNeedsCustomer", {
  sessionId: Schema.String,
  paymentIntentId: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId}'s charge ${this.paymentIntentId} is waiting for the customer to authenticate; charging again could charge twice: cancel that payment at the provider first`
  }
}

/** The provider has not finished the session's charge yet. */
export class PaymentStillProcessing extends Schema.TaggedError<PaymentStillProcessing>()("PaymentStillProcessing", {
  sessionId: Schema.String,
  paymentIntentId: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId}'s charge ${this.paymentIntentId} is still processing at the provider; try again in a few minutes`
  }
}

/** A static code list that cannot be used. */
export class InvalidCodeList extends Schema.TaggedError<InvalidCodeList>()("InvalidCodeList", {
  reason: Schema.String
}) {
  override get message() {
    return `invalid code list: ${this.reason}`
  }
}

// ---- records as the audit log keeps them ------------------------------------------------

const iso = (d: Date) => d.toISOString()

/** A pod as JSON, for the audit log and `--json` output. */
export const podRecord = (status: PodStatus) => ({
  id: status.pod.id,
  name: status.pod.name,
  address: status.pod.address,
  rate: formatRate(status.pod.rate),
  lockDeviceId: Option.getOrNull(status.pod.lockDeviceId),
  accessMode: status.pod.accessMode,
  inUse: status.inUse,
  /** Kept in use for a previous session's door code not yet confirmed gone from the lock. */
  codeHold: Option.getOrNull(Option.map(status.codeHold, (h) => ({ sessionId: h.sessionId, since: iso(h.since) })))
})

/** A session's state in short, for the audit log. */
export const sessionRecord = (s: Session) => {
  const state = s.state
  return {
    id: s.id,
    podId: s.podId,
    state: state._tag,
    version: s.version,
    ...(state._tag === "Ending" || state._tag === "Ended"
      ? {
          endedAt: iso(state.endedAt),
          billedFrom: Option.getOrNull(Option.map(billableStartOf(s), iso)),
          chargePence: state.quote.chargePence
        }
      : {}),
    ...(state._tag === "Ended" ? { outcome: state.outcome._tag } : {}),
    ...(state._tag === "Ended" && state.outcome._tag === "NotBilled" ? { notBilled: state.outcome.reason } : {}),
    ...(state._tag === "ProvisioningFailed" ? { failedAt: iso(state.failedAt), reason: state.reason } : {})
  }
}

const codesRecord = (codes: ReadonlyArray<AccessCode>) => ({ count: codes.length, masked: codes.map(maskCode) })

const audit = (actor: string, action: string, subject: string | undefined, before: unknown, after: unknown) =>
  Effect.flatMap(StaffStore, (staff) => staff.appendAudit({ actor, action, subject, before, after }))

const requirePod = (podId: PodId) =>
  Effect.flatMap(SessionStore, (store) => store.podStatus(podId)).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(new PodNotFound({ podId })), onSome: Effect.succeed }))
  )

const checkDevice = (pod: Pod) =>
  pod.accessMode === "lock-provider" && Option.isNone(pod.lockDeviceId)
    ? Effect.fail(new PodMisconfigured({ podId: pod.id, reason: "lock-provider mode needs a lock device" }))
    : Effect.void

// ---- sessions -----------------------------------------------------------------------------

/** Whether a live session is past its door-code window plus the policy's grace. */
export const isOverdue = (session: Session, at: Date, overdueGrace: Duration.Duration): boolean =>
  (session.state._tag === "Provisioning" || session.state._tag === "Active" || session.state._tag === "Ending") &&
  session.accessUntil.getTime() < at.getTime() - Duration.toMillis(overdueGrace)

/** Sessions newest first: all, live, overdue (past their window plus the grace) or failed. */
export const listSessions = Effect.fn("Staff.listSessions")(function* (request: {
  readonly filter: SessionListFilter
  readonly podId?: PodId | undefined
  readonly limit?: number | undefined
}) {
  const staff = yield* StaffStore
  const policy = yield* Policy
  const at = yield* now
  return yield* staff.sessions({
    filter: request.filter,
    podId: request.podId,
    windowClosedBefore: new Date(at.getTime() - Duration.toMillis(policy.overdueGrace)),
    limit: request.limit ?? 50
  })
})

/**
 * Ends a session as staff: charged per the tariff up to `at` (default now), or waived with
 * a reason; the code is revoked and the pod freed. An end that was interrupted is finished
 * (one charge); a session that already ended is refused, so running it twice charges once.
 */
export const endSession = Effect.fn("Staff.endSession")(function* (
  sessionId: SessionId,
  options: { readonly by: string; readonly at?: Date | undefined; readonly waiveReason?: string | undefined }
) {
  if (options.waiveReason !== undefined && options.waiveReason.trim() === "") {
    return yield* new InvalidStaffRequest({ reason: "a waiver needs a reason" })
  }
  const before = yield* loadSession(sessionId)
  if (before.state._tag === "Ended") {
    return yield* new SessionAlreadyEnded({ sessionId, endedAt: before.state.endedAt })
  }
  if (before.state._tag === "ProvisioningFailed") {
    return yield* new IllegalTransition({ sessionId, from: before.state._tag, event: "end" })
  }
  const after = yield* staffEndSession(sessionId, {
    staff: options.by,
    ...(options.at === undefined ? {} : { at: options.at }),
    ...(options.waiveReason === undefined ? {} : { waiveReason: options.waiveReason.trim() })
  })
  yield* audit(options.by, "sessions.end", sessionId, sessionRecord(before), {
    ...sessionRecord(after),
    ...(options.at === undefined ? {} : { requestedEnd: iso(options.at) }),
    ...(options.waiveReason === undefined ? {} : { waiveReason: options.waiveReason.trim() })
  })
  return { before, after, resumed: before.state._tag === "Ending" }
})

/**
 * Tries again to make the door code of a session stuck in provisioning: queues provisioning
 * under a new work key (the old key is kept for ever as history) and runs it now. A session
 * whose provisioning failed for good is not revived: its pod was released and the customer told.
 */
export const retryProvisioning = Effect.fn("Staff.retryProvisioning")(function* (
  sessionId: SessionId,
  options: { readonly by: string }
) {
  const store = yield* SessionStore
  const before = yield* loadSession(sessionId)
  if (before.state._tag !== "Provisioning") {
    return yield* new NothingToRetry({
      sessionId,
      reason:
        before.state._tag === "ProvisioningFailed"
          ? `provisioning failed for good at ${iso(before.state.failedAt)} (${before.state.reason}); the pod was released and the customer told: they can book again`
          : `it is ${before.state._tag}, not provisioning`
    })
  }
  const at = yield* now
  const key = `provision-access:${sessionId}:staff-${(yield* randomUuid).slice(0, 8)}`
  yield* store.enqueue([new WorkOrder({ key, kind: "provision-access", sessionId, runAt: at, message: Option.none() })])
  yield* audit(options.by, "sessions.retry-provisioning", sessionId, sessionRecord(before), { workKey: key })
  const after = yield* provisionAccess(sessionId)
  return { workKey: key, before, after }
})

// ---- payments -----------------------------------------------------------------------------

/** The idempotency key of staff's `attempt`-th retry of a session's charge after a decline. */
export const retryChargeKeyFor = (sessionId: SessionId, attempt: number): string =>
  `${chargeKeyFor(sessionId)}-retry-${attempt}`

export type PaymentRetryResult = "paid" | "declined" | "needs_authentication" | "unknown" | "already_paid"

export interface PaymentRetry {
  readonly session: Session
  readonly result: PaymentRetryResult
  /** The key the charge was made with; `None` when nothing was charged. */
  readonly idempotencyKey: Option.Option<string>
  /** 0 for the session's own key, n for staff's n-th retry after a decline. */
  readonly attempt: number
}

const resultOf = (result: ChargeResult): PaymentRetryResult =>
  result._tag === "Succeeded" ? "paid" : result._tag === "Declined" ? "declined" : "needs_authentication"

/**
 * Charges an ended session whose payment failed, needs the customer or is unknown, without
 * ever charging twice (see the module's notes for the keys). Payment-provider outages fail
 * with `PaymentsUnavailable` before anything is charged, or leave the outcome as it was.
 */
export const retryPayment = Effect.fn("Staff.retryPayment")(function* (
  sessionId: SessionId,
  options: { readonly by: string }
) {
  const staff = yield* StaffStore
  const payments = yield* boundedPayments
  const policy = yield* Policy
  const session = yield* loadSession(sessionId)
  const state = session.state
  if (state._tag !== "Ended") {
    return yield* new NothingToRetry({ sessionId, reason: `it is ${state._tag}: end it first` })
  }
  if (!isUnsettled(state.outcome)) {
    return yield* new NothingToRetry({ sessionId, reason: `its payment is settled (${state.outcome._tag})` })
  }
  if (state.outcome._tag === "PaymentFailed" && state.outcome.declineCode === "legacy") {
    // The previous service recorded every charge error as a decline, timeouts included, and
    // kept no charge id: a new charge could be a second one. A person must check first.
    return yield* new NothingToRetry({
      sessionId,
      reason:
        "the previous service recorded this failure without its charge, so it may have charged; check the customer's payments at the provider first"
    })
  }
  const amountPence = state.quote.chargePence

  const finish = (result: PaymentRetryResult, outcome: Option.Option<Outcome>, key: Option.Option<string>, n: number) =>
    Effect.gen(function* () {
      const after = Option.isSome(outcome) ? yield* recordSettlement(sessionId, outcome.value) : session
      yield* audit(
        options.by,
        "payments.retry",
        sessionId,
        { outcome: state.outcome._tag },
        {
          result,
          outcome: after.state._tag === "Ended" ? after.state.outcome._tag : after.state._tag,
          idempotencyKey: Option.getOrNull(key),
          attempt: n
        }
      )
      return { session: after, result, idempotencyKey: key, attempt: n } satisfies PaymentRetry
    })

  // An attempt whose answer was lost is retried with its own key; otherwise ask the provider first.
  const pending = (yield* staff.chargeAttempts(sessionId)).find((a) => a.status === "pending")
  let attempt: Option.Option<ChargeAttempt> = Option.fromNullable(pending)
  if (Option.isNone(attempt)) {
    const reading = yield* payments.readCharge({ sessionId, paymentIntentId: Option.none() })
    if (Option.isSome(reading)) {
      const r = reading.value
      switch (r._tag) {
        case "Succeeded":
          return yield* finish("already_paid", Option.some(outcomeOf(r)), Option.none(), 0)
        case "Processing":
          return yield* new PaymentStillProcessing({ sessionId, paymentIntentId: r.paymentIntentId })
        case "NeedsAuthentication":
          return yield* new PaymentNeedsCustomer({ sessionId, paymentIntentId: r.paymentIntentId })
        case "Declined":
          attempt = Option.some(
            yield* staff.beginChargeAttempt({
              sessionId,
              by: options.by,
              keyPrefix: `${chargeKeyFor(sessionId)}-retry-`
            })
          )
      }
    }
    // No charge at the provider at all: the session's own key never reached it; use it.
  }
  const key = Option.match(attempt, { onNone: () => chargeKeyFor(sessionId), onSome: (a) => a.idempotencyKey })
  const n = Option.match(attempt, { onNone: () => 0, onSome: (a) => a.attempt })
  const charged = yield* payments
    .chargeSession({
      sessionId,
      amountPence: pence(amountPence),
      customerId: session.card.customerId,
      paymentMethodId: session.card.paymentMethodId,
      receiptEmail: session.card.email,
      idempotencyKey: key
    })
    .pipe(Effect.retry({ schedule: chargeRetry(policy) }), Effect.either)
  if (Either.isLeft(charged)) {
    // The answer was lost: the attempt stays pending and the next retry repeats its key.
    yield* Effect.logWarning("staff charge retry has no answer").pipe(
      Effect.annotateLogs({ sessionId, key, reason: charged.left.reason, amountPence })
    )
    return yield* finish("unknown", Option.none(), Option.some(key), n)
  }
  const result = charged.right
  if (Option.isSome(attempt)) {
    yield* staff.finishChargeAttempt(attempt.value, {
      status: result._tag === "Succeeded" ? "succeeded" : result._tag === "Declined" ? "declined" : "requires_action",
      paymentIntentId: result._tag === "Declined" ? result.paymentIntentId : Option.some(result.paymentIntentId)
    })
  }
  return yield* finish(resultOf(result), Option.some(outcomeOf(result)), Option.some(key), n)
})

// ---- pods ---------------------------------------------------------------------------------

export const addPod = Effect.fn("Staff.addPod")(function* (pod: Pod, options: { readonly by: string }) {
  const staff = yield* StaffStore
  yield* checkDevice(pod)
  const created = yield* staff.createPod(pod)
  yield* audit(options.by, "pods.add", pod.id, null, podRecord(created))
  return created
})

/** New sessions are priced at the new rate; live ones keep the rate they started with. */
export const setPodRate = Effect.fn("Staff.setPodRate")(function* (
  podId: PodId,
  rate: RatePerMinute,
  options: { readonly by: string }
) {
  const staff = yield* StaffStore
  const before = yield* requirePod(podId)
  if (before.pod.rate === rate) return { before, after: before, changed: false }
  const after = yield* staff.savePod(new Pod({ ...before.pod, rate }))
  yield* audit(options.by, "pods.set-rate", podId, podRecord(before), podRecord(after))
  return { before, after, changed: true }
})

/** Sets (or clears) the pod's lock device and, optionally, its access mode. */
export const setPodDevice = Effect.fn("Staff.setPodDevice")(function* (
  podId: PodId,
  change: { readonly deviceId: Option.Option<string>; readonly accessMode?: AccessMode | undefined },
  options: { readonly by: string }
) {
  const staff = yield* StaffStore
  const store = yield* SessionStore
  const before = yield* requirePod(podId)
  const pod = new Pod({
    ...before.pod,
    lockDeviceId: change.deviceId,
    accessMode: change.accessMode ?? before.pod.accessMode
  })
  yield* checkDevice(pod)
  const unchanged =
    Option.getOrNull(pod.lockDeviceId) === Option.getOrNull(before.pod.lockDeviceId) &&
    pod.accessMode === before.pod.accessMode
  if (unchanged) return { before, after: before, changed: false }
  const live = yield* store.liveSessionsOnPod(podId)
  if (live.length > 0) {
    return yield* new PodHeld({ podId, sessionIds: live.map((s) => s.id), action: "change the lock device of" })
  }
  // Likewise a code still on the old lock: its removal must go to the device it was made on.
  if (Option.isSome(before.codeHold)) {
    const { sessionId, since } = before.codeHold.value
    return yield* new PodBlockedByCode({ podId, sessionId, since, action: "change the lock device of" })
  }
  const after = yield* staff.savePod(pod)
  yield* audit(options.by, "pods.set-device", podId, podRecord(before), podRecord(after))
  return { before, after, changed: true }
})

/**
 * Frees a pod. Refused while a live session holds it unless `force` (with a reason) is
 * given: then each live session is ended first (see the module's notes), so the pod is
 * freed by the ordinary end. A pod kept in use for a previous session's door code not yet
 * confirmed gone from the lock is also freed only by force (staff removed the code by hand);
 * the audit row then names the code that may still be on the lock. A pod marked in use with
 * no live session (left by the previous service) is simply freed.
 */
export const releasePod = Effect.fn("Staff.releasePod")(function* (
  podId: PodId,
  options: {
    readonly by: string
    readonly force?: { readonly reason: string; readonly waive?: boolean | undefined } | undefined
  }
) {
  const store = yield* SessionStore
  const staff = yield* StaffStore
  const before = yield* requirePod(podId)
  const live = yield* store.liveSessionsOnPod(podId)
  const force = options.force
  if (force !== undefined && force.reason.trim() === "") {
    return yield* new InvalidStaffRequest({ reason: "forcing a release needs a reason" })
  }
  if (live.length > 0 && force === undefined) {
    return yield* new PodHeld({ podId, sessionIds: live.map((s) => s.id), action: "release" })
  }
  if (Option.isSome(before.codeHold) && force === undefined) {
    const hold = before.codeHold.value
    return yield* new PodBlockedByCode({ podId, sessionId: hold.sessionId, since: hold.since })
  }
  const ended: Array<Session> = []
  for (const session of live) {
    const reason = force?.reason.trim() ?? ""
    const after = yield* staffEndSession(session.id, {
      staff: options.by,
      ...(force?.waive === true ? { waiveReason: `pod released: ${reason}` } : {})
    })
    ended.push(after)
  }
  // The ends above may have left the pod held by a code of theirs; forcing overrides it too.
  const held = force === undefined ? Option.none() : (yield* requirePod(podId)).codeHold
  yield* staff.freePod(
    podId,
    Option.map(held, (h) => h.sessionId)
  )
  const after = yield* requirePod(podId)
  const changed = before.inUse !== after.inUse || ended.length > 0
  if (changed) {
    yield* audit(
      options.by,
      "pods.release",
      podId,
      { ...podRecord(before), liveSessions: live.map(sessionRecord) },
      {
        ...podRecord(after),
        endedSessions: ended.map(sessionRecord),
        ...(force === undefined ? {} : { reason: force.reason.trim() }),
        ...Option.match(held, {
          onNone: () => ({}),
          onSome: (h) => ({
            codeMayBeOnLock: {
              sessionId: h.sessionId,
              since: iso(h.since),
              note: "released before the lock confirmed this session's door code gone; it may still open the door"
            }
          })
        })
      }
    )
  }
  return { before, after, endedSessions: ended as ReadonlyArray<Session>, codeOverridden: held, changed }
})

// ---- static codes -------------------------------------------------------------------------

const decodeCode = Schema.decodeUnknownEither(AccessCode)

/** Checks a code list: not empty, every entry 4 to 12 digits, no repeats. */
export const validateCodes = (
  codes: ReadonlyArray<string>
): Either.Either<ReadonlyArray<AccessCode>, InvalidCodeList> => {
  if (codes.length === 0) {
    return Either.left(new InvalidCodeList({ reason: "it is empty; a static pod needs at least one code" }))
  }
  const seen = new Set<string>()
  const out: Array<AccessCode> = []
  for (const [i, raw] of codes.entries()) {
    const code = decodeCode(raw)
    if (Either.isLeft(code)) {
      return Either.left(new InvalidCodeList({ reason: `entry ${i + 1} is not 4 to 12 digits` }))
    }
    if (seen.has(code.right)) return Either.left(new InvalidCodeList({ reason: `entry ${i + 1} repeats a code` }))
    seen.add(code.right)
    out.push(code.right)
  }
  return Either.right(out)
}

/** `count` distinct random codes of `digits` digits, from `Random` (cryptographic at the entry points). */
export const generateCodes = Effect.fn("Staff.generateCodes")(function* (count: number, digits = 5) {
  if (!Number.isInteger(digits) || digits < 4 || digits > 12) {
    return yield* new InvalidCodeList({ reason: "codes have 4 to 12 digits" })
  }
  if (!Number.isInteger(count) || count < 1 || count > Math.min(1000, 10 ** digits / 10)) {
    return yield* new InvalidCodeList({
      reason: `generate between 1 and ${Math.min(1000, 10 ** digits / 10)} codes of ${digits} digits`
    })
  }
  const codes = new Set<string>()
  while (codes.size < count) {
    let code = ""
    for (let i = 0; i < digits; i++) code += String(yield* Random.nextIntBetween(0, 10))
    codes.add(code)
  }
  return [...codes].map(accessCode) as ReadonlyArray<AccessCode>
})

/**
 * Replaces a pod's static code list. New sessions pick from the new list; live sessions
 * keep the code they were given until they end (keep it working on the door until then).
 */
export const rotateCodes = Effect.fn("Staff.rotateCodes")(function* (
  podId: PodId,
  codes: ReadonlyArray<string>,
  options: { readonly by: string }
) {
  const staff = yield* StaffStore
  const store = yield* SessionStore
  const pod = yield* requirePod(podId)
  const list = yield* validateCodes(codes)
  const before = yield* staff.podCodes(podId)
  if (!(yield* staff.setPodCodes(podId, list))) return yield* new PodNotFound({ podId })
  const live = yield* store.liveSessionsOnPod(podId)
  yield* audit(options.by, "codes.rotate", podId, codesRecord(before), codesRecord(list))
  return { pod, before: before.length, after: list, liveSessions: live.length }
})

export interface RekeyProgress {
  /** Sessions storing a sealed code when the run started. */
  readonly total: number
  readonly examined: number
  readonly rekeyed: number
  /** Already sealed under the current key. */
  readonly current: number
  /** Opened by no known key: left as they are. */
  readonly unreadable: ReadonlyArray<SessionId>
}

/**
 * Seals every stored door code again under the current key, a session at a time (each one
 * atomic, guarded by the session's version), so it can be interrupted and run again: a
 * re-run skips what is already current. Reports progress after every batch.
 */
export const rekeyAccessCodes = Effect.fn("Staff.rekeyAccessCodes")(function* (options: {
  readonly by: string
  readonly batchSize?: number | undefined
  /** Stop after examining this many (a slice of a large store). */
  readonly limit?: number | undefined
  /** Pause between batches, to go easy on a production database. */
  readonly pause?: Duration.Duration | undefined
  readonly onProgress?: ((progress: RekeyProgress) => Effect.Effect<void>) | undefined
}) {
  const staff = yield* StaffStore
  const store = yield* SessionStore
  const keys = yield* SealedCodeKeys
  const batchSize = Math.max(1, options.batchSize ?? 100)
  const total = yield* staff.countSealedCodeSessions
  let examined = 0
  let rekeyed = 0
  let current = 0
  const unreadable: Array<SessionId> = []
  const progress = (): RekeyProgress => ({ total, examined, rekeyed, current, unreadable: [...unreadable] })

  /** One session: true when it was sealed again. Re-reads it if another writer changed it first. */
  const rekeyOne = (first: Session) =>
    Effect.gen(function* () {
      let session = first
      for (let tries = 0; tries < 20; tries++) {
        const grant = Option.getOrUndefined(session.access)
        const sealed = grant === undefined ? Option.none<string>() : sealedCodeOf(grant)
        if (grant === undefined || Option.isNone(sealed)) return "current" as const
        const needs = yield* Effect.either(keys.needsRekey(sealed.value))
        if (Either.isLeft(needs)) return "unreadable" as const
        if (!needs.right) return "current" as const
        const fresh = yield* Effect.either(keys.rekey(sealed.value))
        if (Either.isLeft(fresh)) return "unreadable" as const
        const replaced = new AccessGrant({
          ref: grant.ref === sealed.value ? fresh.right : grant.ref,
          sealedCode: fresh.right,
          mode: grant.mode
        })
        const written = yield* Effect.either(staff.replaceSealedCode(session, replaced, yield* now))
        if (Either.isRight(written)) return "rekeyed" as const
        const reread = yield* store.session(session.id)
        if (Option.isNone(reread)) return "current" as const
        session = reread.value
      }
      return yield* Effect.dieMessage(`session ${first.id} kept changing while its code was sealed again`)
    })

  let after = Option.none<SessionId>()
  while (options.limit === undefined || examined < options.limit) {
    const room = options.limit === undefined ? batchSize : Math.min(batchSize, options.limit - examined)
    const batch = yield* staff.sealedCodeSessions(after, room)
    if (batch.length === 0) break
    for (const session of batch) {
      const result = yield* rekeyOne(session)
      examined++
      if (result === "rekeyed") rekeyed++
      else if (result === "current") current++
      else unreadable.push(session.id)
    }
    after = Option.some((batch[batch.length - 1] as Session).id)
    if (options.onProgress !== undefined) yield* options.onProgress(progress())
    if (options.pause !== undefined && batch.length === room) yield* Effect.sleep(options.pause)
  }
  const report = progress()
  yield* audit(options.by, "codes.rekey", undefined, null, {
    total: report.total,
    examined: report.examined,
    rekeyed: report.rekeyed,
    current: report.current,
    unreadable: report.unreadable
  })
  return report
})
