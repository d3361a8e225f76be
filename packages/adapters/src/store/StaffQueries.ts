/**
 * Core's `StaffStore` over the SQL functions of `migrations/0005_staff.sql` (and a few of
 * 0004's, 0007's and 0008's), for PGlite, Postgres and Supabase alike, plus the read-only
 * queries the `qwip` CLI shows staff (charges, a session's emails). Which sessions a listing
 * shows is core's `listingIncludes`: the SQL only pages through them.
 */
import {
  ChargeAttempt,
  listingIncludes,
  listsOnlyLive,
  PodAlreadyExists,
  Pod as PodSchema,
  PodStatus,
  type Session,
  StaffStore,
  type StaffStoreShape,
  StaleSession,
  unsettledChargeStatuses
} from "@qwip/core"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { callAs, callOptionalAs, StoreBackend, type StoreBackendShape } from "./Backend.js"
import * as Records from "./Records.js"
import { ChargeRecord, OutboxEntries, type OutboxEntry } from "./Records.js"
import { StoredSession } from "./SqlStore.js"

const Sessions = Schema.Array(StoredSession)
const Attempts = Schema.Array(ChargeAttempt)
const Created = Schema.Union(
  Schema.Struct({ pod: PodStatus }),
  Schema.Struct({ error: Schema.Literal("PodAlreadyExists") })
)
const Replaced = Schema.Union(
  Schema.Struct({ session: StoredSession }),
  Schema.Struct({ error: Schema.Literal("StaleSession") })
)

/** A session's charge with staff's retries of it: how many, and the last one's key. */
export class StaffCharge extends ChargeRecord.extend<StaffCharge>("StaffCharge")({
  retries: Schema.Int,
  lastRetryKey: Schema.NullOr(Schema.String)
}) {}

/** Read-only views for staff that no use case needs. */
export interface StaffViewsShape {
  /** Charges newest first; `failed` keeps those that failed, need the customer or are unknown. */
  readonly charges: (options: {
    readonly failed: boolean
    readonly limit: number
  }) => Effect.Effect<ReadonlyArray<StaffCharge>>
  /** The emails of one session, oldest first. */
  readonly emailsFor: (sessionId: string) => Effect.Effect<ReadonlyArray<OutboxEntry>>
}

// Result schemas are built once: a schema made per call would make its decoder anew on every read.
const Freed = Schema.Struct({ freed: Schema.Boolean })
const StaffCharges = Schema.Array(StaffCharge)
/** Sessions read per page while filling a listing. */
const PAGE = 200

export class StaffViews extends Context.Tag("@qwip/adapters/StaffViews")<StaffViews, StaffViewsShape>() {}

export const make = (backend: StoreBackendShape): StaffStoreShape => {
  const call = callAs(backend)
  const find = callOptionalAs(backend)
  const records = Records.make(backend)
  const span =
    (name: string) =>
    <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.withSpan(self, `StaffStore.${name}`, { attributes: { store: backend.kind } })
  const encodePod = (pod: PodSchema) => Schema.encode(PodSchema)(pod).pipe(Effect.orDie)
  return {
    sessions: (listing) =>
      Effect.gen(function* () {
        const shown: Array<Session> = []
        let after: Session | undefined
        while (shown.length < listing.limit) {
          const page = yield* call(
            "qwip_staff_sessions_page",
            {
              p_pod_id: listing.podId ?? null,
              p_live_only: listsOnlyLive(listing),
              p_after_id: after?.id ?? null,
              p_limit: PAGE
            },
            Sessions
          )
          for (const s of page) if (shown.length < listing.limit && listingIncludes(listing, s)) shown.push(s)
          if (page.length < PAGE) break
          after = page[page.length - 1]
        }
        return shown
      }).pipe(span("sessions")),
    createPod: (pod) =>
      Effect.gen(function* () {
        const result = yield* call("qwip_staff_create_pod", { p_pod: yield* encodePod(pod) }, Created)
        if ("pod" in result) return result.pod
        return yield* new PodAlreadyExists({ podId: pod.id })
      }).pipe(span("createPod")),
    savePod: (pod) => records.upsertPod(pod).pipe(span("savePod")),
    freePod: (podId, codeHold) =>
      find("qwip_staff_release_pod", { p_pod_id: podId, p_code_hold: Option.getOrNull(codeHold) }, Freed).pipe(
        span("freePod")
      ),
    podCodes: (podId) => records.codesFor(podId).pipe(span("podCodes")),
    setPodCodes: (podId, codes) => records.setCodes(podId, codes).pipe(span("setPodCodes")),
    sealedCodeSessions: (after, limit) =>
      call("qwip_staff_sealed_sessions", { p_after: Option.getOrNull(after), p_limit: limit }, Sessions).pipe(
        span("sealedCodeSessions")
      ),
    countSealedCodeSessions: call("qwip_staff_count_sealed", {}, Schema.Number).pipe(span("countSealedCodeSessions")),
    replaceSealedCode: (session, grant, at) =>
      Effect.gen(function* () {
        const result = yield* call(
          "qwip_staff_replace_sealed_code",
          {
            p_session_id: session.id,
            p_version: session.version,
            p_ref: grant.ref,
            p_sealed: grant.sealedCode,
            p_at: at.toISOString()
          },
          Replaced
        )
        if ("session" in result) return result.session
        return yield* new StaleSession({ sessionId: session.id, expectedVersion: session.version })
      }).pipe(span("replaceSealedCode")),
    chargeAttempts: (sessionId) =>
      call("qwip_staff_charge_attempts", { p_session_id: sessionId }, Attempts).pipe(span("chargeAttempts")),
    beginChargeAttempt: ({ sessionId, by, attempt, idempotencyKey }) =>
      find(
        "qwip_staff_begin_charge_attempt",
        { p_session_id: sessionId, p_by: by, p_attempt: attempt, p_idempotency_key: idempotencyKey },
        ChargeAttempt
      ).pipe(span("beginChargeAttempt")),
    finishChargeAttempt: (attempt, result) =>
      call(
        "qwip_staff_finish_charge_attempt",
        {
          p_session_id: attempt.sessionId,
          p_attempt: attempt.attempt,
          p_status: result.status,
          p_payment_intent_id: Option.getOrNull(result.paymentIntentId)
        },
        Schema.Boolean
      ).pipe(Effect.asVoid, span("finishChargeAttempt")),
    appendAudit: records.appendAudit
  }
}

export const makeViews = (backend: StoreBackendShape): StaffViewsShape => {
  const call = callAs(backend)
  return {
    charges: ({ failed, limit }) =>
      call(
        "qwip_staff_charges",
        { p_statuses: failed ? unsettledChargeStatuses : null, p_limit: limit },
        StaffCharges
      ).pipe(Effect.withSpan("StaffViews.charges")),
    emailsFor: (sessionId) =>
      call("qwip_staff_outbox_for_session", { p_session_id: sessionId }, OutboxEntries).pipe(
        Effect.withSpan("StaffViews.emailsFor")
      )
  }
}

/** `StaffStore` and `StaffViews` over whichever store backend is provided. */
export const layer: Layer.Layer<StaffStore | StaffViews, never, StoreBackend> = Layer.effectContext(
  Effect.map(StoreBackend, (backend) =>
    Context.make(StaffStore, make(backend)).pipe(Context.add(StaffViews, makeViews(backend)))
  )
)
