/**
 * Pods, sessions and work orders for store tests, each with fresh ids so tests can share a
 * store without seeing each other.
 */
import { randomUUID } from "node:crypto"
import {
  AccessGrant,
  Active,
  type Actor,
  CardHold,
  CardOnFile,
  Collection,
  CollectionAttempt,
  Dunning,
  Ended,
  Ending,
  noCollection,
  type Outcome,
  Pod,
  type PodId,
  Provisioning,
  ProvisioningFailed,
  type ProvisioningId,
  pence,
  Quote,
  RatePerMinute,
  Refund,
  Session,
  type SessionId,
  type SessionState,
  type SetupIntentId,
  StaffAlert,
  sendMail,
  WorkOrder
} from "@qwip/core"
import { Option, Schema } from "effect"

export const at = (iso: string) => new Date(iso)
export const T0 = at("2030-03-01T09:00:00.000Z")
export const minutes = (date: Date, n: number) => new Date(date.getTime() + n * 60_000)

export const newPodId = (label = "pod") => `${label}-${randomUUID().slice(0, 8)}` as PodId

export const makePod = (
  options: {
    readonly id?: PodId
    readonly rate?: number
    readonly mode?: "static" | "lock-provider"
    readonly deviceId?: string
  } = {}
): Pod =>
  new Pod({
    id: options.id ?? newPodId(),
    name: "Quiet Pod",
    address: "1 Test Street, London",
    rate: Schema.decodeSync(RatePerMinute)(options.rate ?? 5000),
    lockDeviceId: Option.fromNullable(options.deviceId),
    accessMode: options.mode ?? "static"
  })

export const makeSession = (
  podId: PodId,
  options: { readonly setupIntentId?: string; readonly startedAt?: Date; readonly state?: SessionState } = {}
): Session => {
  const startedAt = options.startedAt ?? T0
  return new Session({
    id: randomUUID() as SessionId,
    podId,
    provisioningId: randomUUID() as ProvisioningId,
    setupIntentId: (options.setupIntentId ?? `seti_${randomUUID().replaceAll("-", "")}`) as SetupIntentId,
    card: new CardOnFile({ customerId: "cus_test", paymentMethodId: "pm_test", email: "ada@example.com" }),
    rate: Schema.decodeSync(RatePerMinute)(5000),
    startedAt,
    accessUntil: minutes(startedAt, 180),
    access: Option.none(),
    accessRevokedAt: Option.none(),
    state: options.state ?? new Provisioning(),
    version: 0,
    updatedAt: startedAt
  })
}

/** The next version of `session` with some fields replaced, as the lifecycle would make it. */
export const next = (session: Session, patch: Partial<Omit<Session, "id" | "version">>, updatedAt: Date): Session =>
  new Session({ ...session, ...patch, version: session.version + 1, updatedAt })

export const grant = (mode: "static" | "lock-provider" = "static") =>
  new AccessGrant({
    ref: mode === "static" ? "Q-tqrXZEigF8SNeznfVpYtoXTdEDLvQsOtdeWusyOo_4" : randomUUID(),
    sealedCode: "Q-tqrXZEigF8SNeznfVpYtoXTdEDLvQsOtdeWusyOo_4",
    mode
  })

export const activate = (session: Session, when: Date) =>
  next(session, { state: new Active({ activatedAt: when }), access: Option.some(grant()) }, when)

export const quoteFor = (chargePence: number) =>
  new Quote({
    billableSeconds: 1200,
    grossPence: chargePence,
    chargePence,
    reason: chargePence === 0 ? "below_minimum" : "charge"
  })

const customer: Actor = { _tag: "Customer" }

export const beginEnd = (
  session: Session,
  when: Date,
  chargePence = 1000,
  waiver: Option.Option<{ readonly reason: string; readonly by: string }> = Option.none()
) => next(session, { state: new Ending({ endedAt: when, quote: quoteFor(chargePence), waiver, by: customer }) }, when)

export const close = (session: Session, outcome: Outcome, when: Date) => {
  const state = session.state
  if (state._tag !== "Ending" && state._tag !== "Ended") throw new Error(`cannot close from ${state._tag}`)
  return next(
    session,
    { state: new Ended({ endedAt: state.endedAt, quote: state.quote, outcome, closedAt: when, by: state.by }) },
    when
  )
}

export const failProvisioning = (session: Session, when: Date) =>
  next(session, { state: new ProvisioningFailed({ failedAt: when, reason: "lock offline" }) }, when)

export const workFor = (sessionId: SessionId, kind: WorkOrder["kind"], runAt: Date, key?: string) =>
  new WorkOrder({ key: key ?? `${kind}:${sessionId}`, kind, sessionId, runAt, message: Option.none() })

export const mailFor = (sessionId: SessionId, runAt: Date, podId = "pod") =>
  sendMail(new StaffAlert({ topic: "overdue", sessionId, podId, detail: "still there" }), runAt)

/** A value in its encoded (JSON) form, for exact comparisons. */
export const encoded = <A, I>(schema: Schema.Schema<A, I>, value: A): I => Schema.encodeSync(schema)(value)

/** A session's collection: nothing collected (`noCollection`) with some parts replaced. */
export const collectionWith = (patch: Partial<Pick<Collection, "hold" | "dunning" | "refunds">>) =>
  new Collection({ ...noCollection, ...patch })

/** A card check hold on the booking's card, `held` unless told. */
export const cardHold = (
  options: { readonly amountPence?: number; readonly status?: CardHold["status"]; readonly capturedPence?: number } = {}
) =>
  new CardHold({
    paymentIntentId: `pi_hold_${randomUUID().slice(0, 8)}`,
    amountPence: pence(options.amountPence ?? 1500),
    status: options.status ?? "held",
    capturedPence: pence(options.capturedPence ?? 0)
  })

/** Dunning attempt `n` of a session, for `amountPence`, in `status`. */
export const collectionAttempt = (
  sessionId: SessionId,
  n: number,
  status: CollectionAttempt["status"],
  at: Date,
  amountPence = 1000
) =>
  new CollectionAttempt({
    attempt: n,
    idempotencyKey: `qwip-session-charge-${sessionId}-collect-${n}`,
    amountPence: pence(amountPence),
    status,
    paymentIntentId: status === "pending" ? Option.none() : Option.some(`pi_collect_${n}`),
    declineCode: status === "declined" ? Option.some("insufficient_funds") : Option.none(),
    at
  })

export const dunning = (
  status: Dunning["status"],
  nextAttemptAt: Option.Option<Date>,
  attempts: ReadonlyArray<CollectionAttempt> = []
) => new Dunning({ status, nextAttemptAt, attempts })

/** A refund of `amountPence` against `paymentIntentId`, made by staff unless told. */
export const refund = (
  paymentIntentId: string,
  amountPence: number,
  status: Refund["status"],
  at: Date,
  key = `qwip-refund-${randomUUID().slice(0, 8)}`
) =>
  new Refund({
    key,
    refundId: status === "pending" ? Option.none() : Option.some(`re_${randomUUID().slice(0, 8)}`),
    paymentIntentId,
    amountPence: pence(amountPence),
    status,
    reason: "door jammed",
    by: "sam",
    at
  })
