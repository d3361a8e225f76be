/**
 * Money given back to the customer: refunds staff make (`StaffPayments.refundPayment`) and
 * those made in the provider's dashboard (the `ChargeRefunded` event, or reconciliation).
 *
 * A session may have been paid through two PaymentIntents: the end's charge (or a later one:
 * dunning, the pay link, staff) and the part captured from the card check hold. A refund is
 * split over them, the charge first, each part with its own key (`<key>-<paymentIntentId>`),
 * and each part is recorded `pending` on the session before the request is sent. So a crash
 * resends the same keys, a repeat with the same amount and reason finds its refund recorded
 * and refunds nothing more, and no refund (pending ones count) ever takes the session past
 * what it was paid.
 */
import { Duration, Effect, Either, Option } from "effect"
import { finishRefundWork, sendMail, type WorkOrder } from "../background/Work.js"
import { WorkNotDone } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { RefundNotice, StaffAlert } from "../Messages.js"
import { boundedPayments } from "../OutsideCalls.js"
import { chargeRetry, Policy } from "../Policy.js"
import type { PaymentsUnavailable, ProviderRefund, RefundRefused } from "../ports/Payments.js"
import { SessionStore } from "../ports/SessionStore.js"
import { recordCollection, type TransitionResult } from "../session/Lifecycle.js"
import type { Session } from "../session/Session.js"
import { loadSessionWithPod, now, persist, retryWhenStale } from "../session/SessionSteps.js"
import { type Pence, pence } from "../tariff/Money.js"
import { Collection, capturedPence, Refund, refundedPence } from "./Collection.js"
import type { PaymentEventResult } from "./PaymentEvents.js"

/** What a session was paid through one PaymentIntent. */
export interface PaidPart {
  readonly paymentIntentId: string
  readonly amountPence: Pence
  readonly purpose: "charge" | "hold"
}

/**
 * What the session was paid, per PaymentIntent, in the order refunds take from them: the
 * charge (`Paid.amountPence` is the total, so the charged part is what the hold did not
 * capture), then the part captured from the card check hold. A session whose remainder was
 * declined was still paid what the hold captured.
 */
export const paidParts = (session: Session): ReadonlyArray<PaidPart> => {
  const hold = Option.filter(session.collection.hold, (h) => h.status === "captured" && h.capturedPence > 0)
  const captured = capturedPence(session.collection)
  const parts: Array<PaidPart> = []
  const outcome = session.state._tag === "Ended" ? session.state.outcome : undefined
  if (outcome?._tag === "Paid") {
    const charged = outcome.amountPence - captured
    const viaHold = Option.exists(hold, (h) => h.paymentIntentId === outcome.paymentIntentId)
    if (charged > 0 && !viaHold) {
      parts.push({ paymentIntentId: outcome.paymentIntentId, amountPence: pence(charged), purpose: "charge" })
    }
  }
  if (Option.isSome(hold)) {
    parts.push({ paymentIntentId: hold.value.paymentIntentId, amountPence: hold.value.capturedPence, purpose: "hold" })
  }
  return parts
}

/** Everything the session was paid: captured plus charged. */
export const paidPence = (session: Session): Pence =>
  pence(paidParts(session).reduce((sum, p) => sum + p.amountPence, 0))

/** Refunded so far from one PaymentIntent (pending refunds count: they may have landed). */
export const refundedFrom = (collection: Collection, paymentIntentId: string): number =>
  collection.refunds
    .filter((r) => r.paymentIntentId === paymentIntentId && r.status !== "failed")
    .reduce((sum, r) => sum + r.amountPence, 0)

/** What can still be refunded: paid minus refunded, never below 0. */
export const refundablePence = (session: Session): Pence =>
  pence(Math.max(0, paidPence(session) - refundedPence(session.collection)))

/** The reason as it appears in a key: lower case, letters and digits, dashes between words. */
export const reasonSlug = (reason: string): string =>
  reason
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "") || "no-reason"

/**
 * The key of a staff refund: the same session, amount (or `full`) and reason make the same
 * key, so asking twice refunds once. Each part adds its PaymentIntent (`refundPartKey`).
 */
export const refundKeyFor = (sessionId: SessionId, amountPence: Option.Option<Pence>, reason: string): string =>
  `qwip-refund-${sessionId}-${Option.match(amountPence, { onNone: () => "full", onSome: String })}-${reasonSlug(reason)}`

export const refundPartKey = (key: string, paymentIntentId: string): string => `${key}-${paymentIntentId}`

/** The key a refund made in the provider's dashboard is recorded under. */
export const providerRefundKey = (refundId: string): string => `provider:${refundId}`

/** Splits `amount` over the parts, the charge first, each only up to what is left on it. */
export const splitRefund = (
  session: Session,
  amount: number
): ReadonlyArray<{ readonly paymentIntentId: string; readonly amountPence: Pence }> => {
  const split: Array<{ readonly paymentIntentId: string; readonly amountPence: Pence }> = []
  let rest = amount
  for (const part of paidParts(session)) {
    if (rest <= 0) break
    const left = part.amountPence - refundedFrom(session.collection, part.paymentIntentId)
    const take = Math.min(rest, left)
    if (take > 0) {
      split.push({ paymentIntentId: part.paymentIntentId, amountPence: pence(take) })
      rest -= take
    }
  }
  return split
}

/** The session with its refunds replaced: one versioned step, like any transition. */
export const withRefunds = (session: Session, refunds: ReadonlyArray<Refund>, at: Date): TransitionResult =>
  recordCollection(session, new Collection({ ...session.collection, refunds }), at)

/** A refund's status as the provider reports it, in ours (a cancelled refund gave nothing back). */
export const refundStatusOf = (r: ProviderRefund): Refund["status"] =>
  r.status === "succeeded" ? "succeeded" : r.status === "pending" ? "pending" : "failed"

export interface RefundRequest {
  readonly sessionId: SessionId
  readonly amountPence: Option.Option<Pence>
  readonly reason: string
  readonly by: string
}

/** Why a refund cannot be made, for the staff entry point to turn into its errors. */
export type RefundRefusal =
  | { readonly _tag: "NothingPaid"; readonly reason: string }
  | { readonly _tag: "TooLarge"; readonly requestedPence: Pence; readonly refundablePence: Pence }

export interface RefundMade {
  readonly session: Session
  /** Refunded by this call: the parts it sent that the provider accepted. */
  readonly refundedPence: Pence
  /** Everything refunded on the session so far, pending refunds included. */
  readonly totalRefundedPence: Pence
  /** The refund was already recorded and final: nothing was sent, nothing more refunded. */
  readonly repeated: boolean
  /** This refund's parts, one per PaymentIntent, as recorded. */
  readonly refunds: ReadonlyArray<Refund>
  /** The first part the provider refused, if any (recorded `failed`). */
  readonly refused: Option.Option<RefundRefused>
  /** The provider did not answer for some part: it stays `pending`, and a repeat resends it. */
  readonly unanswered: Option.Option<PaymentsUnavailable>
}

/**
 * Records this refund's parts `pending` (or finds them recorded by an earlier call with the
 * same key), in one step against the session as read: the check against what is left and
 * the record cannot be split by another refund.
 */
const recordPending = (request: RefundRequest, key: string) =>
  retryWhenStale(
    Effect.gen(function* () {
      const { session, pod } = yield* loadSessionWithPod(request.sessionId)
      const partKeys = paidParts(session).map((p) => refundPartKey(key, p.paymentIntentId))
      const recorded = session.collection.refunds.filter((r) => partKeys.includes(r.key))
      if (recorded.length > 0) return Either.right({ session, podName: pod.name, parts: recorded, repeat: true })
      const state = session.state
      if (state._tag !== "Ended") {
        return Either.left<RefundRefusal>({ _tag: "NothingPaid", reason: `it is ${state._tag}: nothing is paid yet` })
      }
      const refundable = refundablePence(session)
      if (refundable === 0) {
        const paid = paidPence(session)
        return Either.left<RefundRefusal>({
          _tag: "NothingPaid",
          reason:
            paid === 0
              ? `nothing was paid (${state.outcome._tag})`
              : `all ${paid}p paid is already refunded or being refunded`
        })
      }
      const amount = Option.getOrElse(request.amountPence, () => refundable)
      if (amount === 0)
        return Either.left<RefundRefusal>({ _tag: "NothingPaid", reason: "a refund of 0p refunds nothing" })
      if (amount > refundable) {
        return Either.left<RefundRefusal>({ _tag: "TooLarge", requestedPence: amount, refundablePence: refundable })
      }
      const at = yield* now
      const parts = splitRefund(session, amount).map(
        (p) =>
          new Refund({
            key: refundPartKey(key, p.paymentIntentId),
            refundId: Option.none(),
            paymentIntentId: p.paymentIntentId,
            amountPence: p.amountPence,
            status: "pending",
            reason: request.reason,
            by: request.by,
            at
          })
      )
      const refunds = [...session.collection.refunds, ...parts]
      const { settleDelay } = yield* Policy
      const after = yield* persist(session, {
        transition: withRefunds(session, refunds, at),
        // If this request never reaches the provider (a crash), the worker sends it.
        work: [finishRefundWork(session.id, refunds.length, new Date(at.getTime() + Duration.toMillis(settleDelay)))]
      })
      return Either.right({ session: after, podName: pod.name, parts, repeat: false })
    })
  )

/**
 * Records what the provider answered for this refund's parts and, once every part has an
 * answer and some money went back, the customer's email (once per refund key).
 */
const recordAnswers = (
  sessionId: SessionId,
  key: string,
  podName: string,
  reason: string,
  partKeys: ReadonlyArray<string>,
  answers: ReadonlyMap<string, { readonly status: Refund["status"]; readonly refundId: Option.Option<string> }>,
  notify: boolean
) =>
  retryWhenStale(
    Effect.gen(function* () {
      const { session } = yield* loadSessionWithPod(sessionId)
      const at = yield* now
      const refunds = session.collection.refunds.map((r) => {
        const answer = answers.get(r.key)
        // A later answer (a refund event) may already have settled it: never undo that.
        if (answer === undefined || r.status !== "pending") return r
        return new Refund({ ...r, status: answer.status, refundId: Option.orElse(answer.refundId, () => r.refundId) })
      })
      const ofThis = refunds.filter((r) => partKeys.includes(r.key))
      const given = ofThis.filter((r) => r.status !== "failed").reduce((sum, r) => sum + r.amountPence, 0)
      const work: Array<WorkOrder> = []
      if (notify && given > 0) {
        work.push(
          sendMail(
            new RefundNotice({
              to: session.card.email,
              sessionId,
              podName,
              key,
              amountPence: pence(given),
              totalRefundedPence: refundedPence(new Collection({ ...session.collection, refunds })),
              reason
            }),
            at
          )
        )
      }
      const changed = refunds.some((r, i) => r !== session.collection.refunds[i])
      if (!changed && work.length === 0) return session
      return yield* persist(session, { transition: withRefunds(session, refunds, at), work })
    })
  )

/**
 * Sends a refund's `pending` parts under their own keys (a repeat finds the refund the first
 * request made) and records the answers; a refused part is recorded `failed`, an unanswered
 * one stays `pending`.
 */
const sendParts = (
  sessionId: SessionId,
  key: string,
  podName: string,
  reason: string,
  parts: ReadonlyArray<Refund>,
  session: Session
) =>
  Effect.gen(function* () {
    const payments = yield* boundedPayments
    const policy = yield* Policy
    const answers = new Map<string, { status: Refund["status"]; refundId: Option.Option<string> }>()
    let refused: Option.Option<RefundRefused> = Option.none()
    let unanswered: Option.Option<PaymentsUnavailable> = Option.none()
    let sent = 0
    for (const part of parts) {
      if (part.status !== "pending") continue
      const answer = yield* payments
        .refund({
          sessionId,
          paymentIntentId: part.paymentIntentId,
          amountPence: part.amountPence,
          idempotencyKey: part.key,
          reason: part.reason
        })
        .pipe(
          // The same key every time: a retry finds the refund the first request made.
          Effect.retry({ schedule: chargeRetry(policy), while: (e) => e._tag === "PaymentsUnavailable" }),
          Effect.either
        )
      if (Either.isRight(answer)) {
        const status = refundStatusOf(answer.right)
        answers.set(part.key, { status, refundId: Option.some(answer.right.refundId) })
        if (status !== "failed") sent += part.amountPence
      } else if (answer.left._tag === "RefundRefused") {
        answers.set(part.key, { status: "failed", refundId: Option.none() })
        if (Option.isNone(refused)) refused = Option.some(answer.left)
      } else if (Option.isNone(unanswered)) {
        unanswered = Option.some(answer.left)
      }
    }
    // A repeat that sent nothing writes nothing: its answers and email were recorded together.
    const after =
      answers.size > 0
        ? yield* recordAnswers(
            sessionId,
            key,
            podName,
            reason,
            parts.map((p) => p.key),
            answers,
            Option.isNone(unanswered)
          )
        : session
    return { after, refused, unanswered, sent }
  })

/**
 * Refunds part (`amountPence`) or all of what a session was paid (see the module's notes).
 * Fails with the refusal when nothing can be refunded or the amount is more than is left;
 * a provider's refusal or silence comes back in the result, recorded on the session.
 */
export const refundSession = Effect.fn("Refunds.refundSession")(function* (request: RefundRequest) {
  const key = refundKeyFor(request.sessionId, request.amountPence, request.reason)
  const recorded = yield* recordPending(request, key)
  if (Either.isLeft(recorded)) return Either.left(recorded.left)
  const { podName, parts, repeat } = recorded.right

  const { after, refused, unanswered, sent } = yield* sendParts(
    request.sessionId,
    key,
    podName,
    request.reason,
    parts,
    recorded.right.session
  )
  const nothingSent = parts.every((p) => p.status !== "pending")
  const ofThis = after.collection.refunds.filter((r) => parts.some((p) => p.key === r.key))
  return Either.right<RefundMade>({
    session: after,
    refundedPence: pence(sent),
    totalRefundedPence: refundedPence(after.collection),
    repeated: repeat && nothingSent,
    refunds: ofThis,
    refused,
    unanswered
  })
})

/** A part's refund key: its own key without the `-<paymentIntentId>` it ends with. */
const refundKeyOfPart = (part: Refund): string => part.key.slice(0, -(part.paymentIntentId.length + 1))

/**
 * Sends every refund of the session still `pending` (`finish-refund` work): a refund whose
 * request never went, or whose answer never came, is sent again under its own keys. One the
 * provider refuses now (more than is left, say after a dashboard refund) is recorded `failed`
 * and staff are told; one still unanswered fails the work, which is tried again.
 */
export const finishPendingRefunds = Effect.fn("Refunds.finishPendingRefunds")(function* (sessionId: SessionId) {
  const { session, pod } = yield* loadSessionWithPod(sessionId)
  const pending = session.collection.refunds.filter((r) => r.status === "pending" && !r.key.startsWith("provider:"))
  const byKey = new Map<string, Array<Refund>>()
  for (const part of pending) {
    const key = refundKeyOfPart(part)
    byKey.set(key, [...(byKey.get(key) ?? []), part])
  }
  let current = session
  for (const [key, parts] of byKey) {
    const first = parts[0]
    if (first === undefined) continue
    const { after, refused, unanswered } = yield* sendParts(sessionId, key, pod.name, first.reason, parts, current)
    current = after
    if (Option.isSome(refused)) {
      const at = yield* now
      yield* (yield* SessionStore).enqueue([
        sendMail(
          new StaffAlert({
            topic: "refund_failed",
            sessionId,
            podId: session.podId,
            detail: `refund ${key} by ${first.by} ("${first.reason}") was refused: ${refused.value.reason}`
          }),
          at
        )
      ])
    }
    if (Option.isSome(unanswered)) return yield* new WorkNotDone({ reason: unanswered.value.message })
  }
  return current
})

/**
 * Records a PaymentIntent's refunds as the provider reports them (`refundsOf`): ours get their
 * final status, ones made in the dashboard are added under `provider:<refund id>` and the
 * customer is told. Only the session's own payments are read; a repeat changes nothing.
 */
export const recordProviderRefunds = Effect.fn("Refunds.recordProviderRefunds")(function* (
  sessionId: SessionId,
  paymentIntentId: string
) {
  const payments = yield* boundedPayments
  const first = yield* loadSessionWithPod(sessionId)
  if (!paidParts(first.session).some((p) => p.paymentIntentId === paymentIntentId)) {
    return {
      _tag: "Ignored",
      reason: `PaymentIntent ${paymentIntentId} is not a payment session ${sessionId} recorded`
    } as const
  }
  const reported = yield* payments.refundsOf(paymentIntentId)
  return yield* retryWhenStale(
    Effect.gen(function* () {
      const { session, pod } = yield* loadSessionWithPod(sessionId)
      const at = yield* now
      const refunds = [...session.collection.refunds]
      const work: Array<WorkOrder> = []
      let changed = false
      for (const r of reported) {
        const status = refundStatusOf(r)
        const key = Option.getOrElse(r.key, () => providerRefundKey(r.refundId))
        const i = refunds.findIndex(
          (x) => x.key === key || Option.contains(x.refundId, r.refundId) || x.key === providerRefundKey(r.refundId)
        )
        const known = refunds[i]
        if (known !== undefined) {
          if (known.status === status && Option.contains(known.refundId, r.refundId)) continue
          refunds[i] = new Refund({ ...known, status, refundId: Option.some(r.refundId) })
          changed = true
          continue
        }
        if (status === "failed") continue
        // Made outside Qwip (the dashboard): recorded, and the customer told once.
        const refund = new Refund({
          key,
          refundId: Option.some(r.refundId),
          paymentIntentId: r.paymentIntentId,
          amountPence: r.amountPence,
          status,
          reason: "refunded at the payment provider",
          by: "payment provider",
          at
        })
        refunds.push(refund)
        changed = true
        work.push(
          sendMail(
            new RefundNotice({
              to: session.card.email,
              sessionId,
              podName: pod.name,
              key,
              amountPence: r.amountPence,
              totalRefundedPence: refundedPence(new Collection({ ...session.collection, refunds })),
              reason: refund.reason
            }),
            at
          )
        )
      }
      if (!changed) return { _tag: "Ignored", reason: `no refund of ${paymentIntentId} is new` } as const
      const after = yield* persist(session, { transition: withRefunds(session, refunds, at), work })
      return { _tag: "Applied", sessionId: after.id } as const
    })
  )
})

/** `recordProviderRefunds` as a payment event's result. */
export const applyRefundEvent = (sessionId: Option.Option<SessionId>, paymentIntentId: string) =>
  Option.match(sessionId, {
    onNone: () =>
      Effect.succeed<PaymentEventResult>({ _tag: "Ignored", reason: "no session id in the charge's metadata" }),
    onSome: (id) =>
      recordProviderRefunds(id, paymentIntentId).pipe(
        Effect.map((r): PaymentEventResult => r),
        Effect.catchTags({
          SessionNotFound: (e) => Effect.succeed<PaymentEventResult>({ _tag: "Ignored", reason: e.message }),
          IllegalTransition: (e) => Effect.succeed<PaymentEventResult>({ _tag: "Ignored", reason: e.message })
        })
      )
  })
