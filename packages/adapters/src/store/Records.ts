/**
 * The platform's other tables, behind small typed functions, for the adapters built on them:
 * pods' settings and static code lists, the charge and failed-payment records of a session,
 * its background work, Stripe webhook events, the staff audit log, the embedded outbox of
 * emails and the sandbox payment provider's objects. Same SQL functions on every store.
 */
import { AccessCode, ChargeStatus, Dunning, Pod, PodStatus } from "@qwip/core"
import { Context, Effect, Layer, type Option, Schema } from "effect"
import { callAs, callOptionalAs, StoreBackend, type StoreBackendShape } from "./Backend.js"

/** The one charge row of an ended session (`session_charges`), as core's `chargeOf` derives it. */
export class ChargeRecord extends Schema.Class<ChargeRecord>("ChargeRecord")({
  sessionId: Schema.String,
  idempotencyKey: Schema.String,
  amountPence: Schema.Int,
  currency: Schema.String,
  paymentIntentId: Schema.NullOr(Schema.String),
  status: ChargeStatus,
  detail: Schema.NullOr(Schema.String),
  /** Refunded so far (ours and the provider dashboard's); 0 for rows before refunds existed. */
  refundedPence: Schema.Int,
  /** Where dunning stands (`Dunning.status`); null when it never started. */
  collection: Schema.NullOr(Dunning.fields.status),
  /** When dunning next tries the card, while it is `scheduled`. */
  nextAttemptAt: Schema.NullOr(Schema.Date),
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}

/** A row of today's `invalid_payment_attempts`. */
export class PaymentAttempt extends Schema.Class<PaymentAttempt>("PaymentAttempt")({
  sessionId: Schema.String,
  sessionCost: Schema.NullOr(Schema.Int),
  paymentIntentId: Schema.NullOr(Schema.String),
  declineCode: Schema.NullOr(Schema.String),
  createdAt: Schema.NullOr(Schema.Date)
}) {}

/** Background work as staff see it, with its status. */
export class WorkRecord extends Schema.Class<WorkRecord>("WorkRecord")({
  id: Schema.String,
  key: Schema.String,
  kind: Schema.String,
  sessionId: Schema.String,
  runAt: Schema.Date,
  attempts: Schema.Int,
  leasedBy: Schema.String,
  lastError: Schema.NullOr(Schema.String),
  status: Schema.Literal("pending", "done", "parked"),
  createdAt: Schema.Date,
  finishedAt: Schema.NullOr(Schema.Date)
}) {}

/** What recording a webhook delivery found: `isNew` only for an event id's first delivery. */
export class WebhookDelivery extends Schema.Class<WebhookDelivery>("WebhookDelivery")({
  eventId: Schema.String,
  isNew: Schema.Boolean,
  status: Schema.Literal("received", "processed", "failed"),
  deliveries: Schema.Int,
  error: Schema.NullOr(Schema.String)
}) {}

export class AuditEntry extends Schema.Class<AuditEntry>("AuditEntry")({
  id: Schema.Number,
  actor: Schema.String,
  action: Schema.String,
  subject: Schema.NullOr(Schema.String),
  before: Schema.Unknown,
  after: Schema.Unknown,
  at: Schema.Date
}) {}

export class OutboxEntry extends Schema.Class<OutboxEntry>("OutboxEntry")({
  id: Schema.String,
  messageKey: Schema.String,
  recipient: Schema.String,
  kind: Schema.String,
  message: Schema.Unknown,
  rendered: Schema.Unknown,
  createdAt: Schema.Date
}) {}

export const SandboxObjectKind = Schema.Literal("customer", "setup_intent", "payment_intent")
export type SandboxObjectKind = typeof SandboxObjectKind.Type

export class SandboxObject extends Schema.Class<SandboxObject>("SandboxObject")({
  id: Schema.String,
  object: SandboxObjectKind,
  idempotencyKey: Schema.NullOr(Schema.String),
  status: Schema.String,
  amountPence: Schema.NullOr(Schema.Int),
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}

export interface StoreRecordsShape {
  /** Creates or updates a pod's settings (name, address, rate, lock device, access mode); never its in-use flag. */
  readonly upsertPod: (pod: Pod) => Effect.Effect<PodStatus>
  /** A static-mode pod's codes (empty when it has none). */
  readonly codesFor: (podId: string) => Effect.Effect<ReadonlyArray<AccessCode>>
  /** Replaces a pod's code list; false if the pod does not exist. */
  readonly setCodes: (podId: string, codes: ReadonlyArray<AccessCode>) => Effect.Effect<boolean>
  readonly chargeFor: (sessionId: string) => Effect.Effect<Option.Option<ChargeRecord>>
  /** The most recently updated charges first. */
  readonly listCharges: (limit?: number) => Effect.Effect<ReadonlyArray<ChargeRecord>>
  readonly paymentAttemptsFor: (sessionId: string) => Effect.Effect<ReadonlyArray<PaymentAttempt>>
  readonly workFor: (sessionId: string) => Effect.Effect<ReadonlyArray<WorkRecord>>
  /** Records a Stripe event delivery (payload kept); repeated deliveries are counted. */
  readonly recordWebhookEvent: (event: {
    readonly eventId: string
    readonly type: string
    readonly payload: unknown
  }) => Effect.Effect<WebhookDelivery>
  readonly finishWebhookEvent: (
    eventId: string,
    result:
      | { readonly status: "processed"; readonly note?: string | undefined }
      | { readonly status: "failed"; readonly error: string }
  ) => Effect.Effect<boolean>
  readonly appendAudit: (entry: {
    readonly actor: string
    readonly action: string
    readonly subject?: string | undefined
    readonly before?: unknown
    readonly after?: unknown
  }) => Effect.Effect<void>
  /** Newest first. */
  readonly listAudit: (options?: {
    readonly subject?: string | undefined
    readonly limit?: number | undefined
  }) => Effect.Effect<ReadonlyArray<AuditEntry>>
  /** Adds an email to the outbox once per message key; false if the key was already there. */
  readonly addToOutbox: (entry: {
    readonly messageKey: string
    readonly recipient: string
    readonly kind: string
    readonly message: unknown
    readonly rendered?: unknown
  }) => Effect.Effect<boolean>
  /** Newest first. */
  readonly listOutbox: (limit?: number) => Effect.Effect<ReadonlyArray<OutboxEntry>>
  readonly outboxEntry: (id: string) => Effect.Effect<Option.Option<OutboxEntry>>
  /** Creates a sandbox object; a repeated idempotency key returns the object made first. */
  readonly createSandboxObject: (object: {
    readonly id: string
    readonly object: SandboxObjectKind
    readonly idempotencyKey?: string | undefined
    readonly status: string
    readonly amountPence?: number | undefined
    readonly data?: Readonly<Record<string, unknown>> | undefined
  }) => Effect.Effect<SandboxObject>
  /** Sets the status and merges `data` into the object's data. */
  readonly updateSandboxObject: (
    id: string,
    status: string,
    data?: Readonly<Record<string, unknown>>
  ) => Effect.Effect<Option.Option<SandboxObject>>
  readonly sandboxObject: (id: string) => Effect.Effect<Option.Option<SandboxObject>>
  /** The newest object of a kind whose `data[field]` is `value`. */
  readonly findSandboxObject: (
    object: SandboxObjectKind,
    field: string,
    value: string
  ) => Effect.Effect<Option.Option<SandboxObject>>
  /** Newest first. */
  readonly listSandboxObjects: (limit?: number) => Effect.Effect<ReadonlyArray<SandboxObject>>
}

// Result schemas are built once: a schema made per call would make its decoder anew on every read.
const AccessCodes = Schema.Array(AccessCode)
const ChargeRecords = Schema.Array(ChargeRecord)
const PaymentAttempts = Schema.Array(PaymentAttempt)
const WorkRecords = Schema.Array(WorkRecord)
const AuditEntries = Schema.Array(AuditEntry)
export const OutboxEntries = Schema.Array(OutboxEntry)
const SandboxObjects = Schema.Array(SandboxObject)

export class StoreRecords extends Context.Tag("@qwip/adapters/StoreRecords")<StoreRecords, StoreRecordsShape>() {}

export const make = (backend: StoreBackendShape): StoreRecordsShape => {
  const call = callAs(backend)
  const find = callOptionalAs(backend)
  const span =
    (name: string) =>
    <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.withSpan(self, `StoreRecords.${name}`, { attributes: { store: backend.kind } })
  return {
    upsertPod: (pod) =>
      Effect.gen(function* () {
        const encoded = yield* Schema.encode(Pod)(pod).pipe(Effect.orDie)
        return yield* call("qwip_upsert_pod", { p_pod: encoded }, PodStatus)
      }).pipe(span("upsertPod")),
    codesFor: (podId) => call("qwip_static_codes", { p_pod_id: podId }, AccessCodes).pipe(span("codesFor")),
    setCodes: (podId, codes) =>
      call("qwip_set_static_codes", { p_pod_id: podId, p_codes: codes }, Schema.Boolean).pipe(span("setCodes")),
    chargeFor: (sessionId) =>
      find("qwip_session_charge", { p_session_id: sessionId }, ChargeRecord).pipe(span("chargeFor")),
    listCharges: (limit = 100) => call("qwip_charges", { p_limit: limit }, ChargeRecords).pipe(span("listCharges")),
    paymentAttemptsFor: (sessionId) =>
      call("qwip_payment_attempts", { p_session_id: sessionId }, PaymentAttempts).pipe(span("paymentAttemptsFor")),
    workFor: (sessionId) =>
      call("qwip_work_for_session", { p_session_id: sessionId }, WorkRecords).pipe(span("workFor")),
    recordWebhookEvent: ({ eventId, type, payload }) =>
      call(
        "qwip_record_webhook_event",
        { p_event_id: eventId, p_type: type, p_payload: payload ?? null },
        WebhookDelivery
      ).pipe(span("recordWebhookEvent")),
    finishWebhookEvent: (eventId, result) =>
      call(
        "qwip_finish_webhook_event",
        {
          p_event_id: eventId,
          p_status: result.status,
          // One column for both: why it failed, or why processing it changed nothing.
          p_error: result.status === "failed" ? result.error : (result.note ?? null)
        },
        Schema.Boolean
      ).pipe(span("finishWebhookEvent")),
    appendAudit: ({ actor, action, subject, before, after }) =>
      call(
        "qwip_append_audit",
        {
          p_actor: actor,
          p_action: action,
          p_subject: subject ?? null,
          p_before: before ?? null,
          p_after: after ?? null
        },
        Schema.Unknown
      ).pipe(Effect.asVoid, span("appendAudit")),
    listAudit: (options = {}) =>
      call("qwip_list_audit", { p_subject: options.subject ?? null, p_limit: options.limit ?? 100 }, AuditEntries).pipe(
        span("listAudit")
      ),
    addToOutbox: ({ messageKey, recipient, kind, message, rendered }) =>
      call(
        "qwip_outbox_add",
        { p_key: messageKey, p_recipient: recipient, p_kind: kind, p_message: message, p_rendered: rendered ?? null },
        Schema.Boolean
      ).pipe(span("addToOutbox")),
    listOutbox: (limit = 100) => call("qwip_outbox_list", { p_limit: limit }, OutboxEntries).pipe(span("listOutbox")),
    outboxEntry: (id) => find("qwip_outbox_get", { p_id: id }, OutboxEntry).pipe(span("outboxEntry")),
    createSandboxObject: (object) =>
      call(
        "qwip_sandbox_create",
        {
          p_id: object.id,
          p_object: object.object,
          p_idempotency_key: object.idempotencyKey ?? null,
          p_status: object.status,
          p_amount_pence: object.amountPence ?? null,
          p_data: object.data ?? {}
        },
        SandboxObject
      ).pipe(span("createSandboxObject")),
    updateSandboxObject: (id, status, data) =>
      find("qwip_sandbox_update", { p_id: id, p_status: status, p_data: data ?? {} }, SandboxObject).pipe(
        span("updateSandboxObject")
      ),
    sandboxObject: (id) => find("qwip_sandbox_get", { p_id: id }, SandboxObject).pipe(span("sandboxObject")),
    findSandboxObject: (object, field, value) =>
      find("qwip_sandbox_find", { p_object: object, p_field: field, p_value: value }, SandboxObject).pipe(
        span("findSandboxObject")
      ),
    listSandboxObjects: (limit = 100) =>
      call("qwip_sandbox_list", { p_limit: limit }, SandboxObjects).pipe(span("listSandboxObjects"))
  }
}

export const layer: Layer.Layer<StoreRecords, never, StoreBackend> = Layer.effect(
  StoreRecords,
  Effect.map(StoreBackend, make)
)
