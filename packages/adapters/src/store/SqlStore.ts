/**
 * The session store over SQL: one implementation of `SessionStore` for PGlite, Postgres and
 * Supabase. Each method is one call of one SQL function (0004_functions.sql; lease renewal in
 * 0006_work_leases.sql; opens, commits and live sessions in 0008_rules_in_core.sql, with the
 * session's collection document and the charge row's dunning and refunds in 0009_collection.sql),
 * so each is one statement, atomic in the database; sessions and work cross as `Schema.encode`d JSON.
 * What is written beside a session (its charge, whether it holds its pod...) comes from
 * core's `recordsOf`; rows the previous service wrote are read through core's `Legacy`.
 */
import {
  Charge,
  FailedPayment,
  isPastWindow,
  Legacy,
  Pod,
  PodInUse,
  PodNotFound,
  PodStatus,
  recordsOf,
  SessionStore,
  type SessionStoreShape,
  StaleSession,
  WorkItem,
  WorkOrder
} from "@qwip/core"
import { Context, Duration, Effect, Layer, Option, Schema } from "effect"
import { callAs, callOptionalAs, StoreBackend, type StoreBackendShape } from "./Backend.js"
import * as Records from "./Records.js"

/** Sessions as the SQL functions return them: with a state, or a legacy row's facts. */
export const StoredSession = Legacy.StoredSession
const Sessions = Schema.Array(StoredSession)
const WorkItems = Schema.Array(WorkItem)
const WorkOrders = Schema.Array(WorkOrder)
const Keys = Schema.Array(Schema.String)
const SessionWithPod = Schema.Struct({ session: StoredSession, pod: Pod })
const PodStatuses = Schema.Array(PodStatus)

const Opened = Schema.Union(
  Schema.Struct({ session: StoredSession }),
  Schema.Struct({ error: Schema.Literal("PodInUse", "PodNotFound") })
)
const Committed = Schema.Union(
  Schema.Struct({ session: StoredSession }),
  Schema.Struct({ error: Schema.Literal("StaleSession") })
)

/** What `recordsOf` computed, as the functions take it. */
const SessionRecordsDoc = Schema.Struct({
  holdsPod: Schema.Boolean,
  endedAt: Schema.OptionFromNullOr(Schema.Date),
  charge: Schema.OptionFromNullOr(Charge),
  failedPayment: Schema.OptionFromNullOr(FailedPayment),
  provisioning: Schema.OptionFromNullOr(Schema.Struct({ status: Schema.Literal("ready", "failed"), at: Schema.Date }))
})

/** A session as the SQL functions take it (always with its state). */
const SessionDoc = Legacy.StoredSession.members[0]

const encode = <A, I>(schema: Schema.Schema<A, I>, value: A): Effect.Effect<I> =>
  Schema.encode(schema)(value).pipe(Effect.orDie)

export const make = (backend: StoreBackendShape): SessionStoreShape => {
  const call = callAs(backend)
  const find = callOptionalAs(backend)
  const span =
    (name: string) =>
    <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.withSpan(self, `SessionStore.${name}`, { attributes: { store: backend.kind } })

  const podStatus = (id: string) => find("qwip_pod_status", { p_pod_id: id }, PodStatus)

  return {
    pod: (id) => podStatus(id).pipe(Effect.map(Option.map((s) => s.pod)), span("pod")),
    pods: call("qwip_pods", {}, PodStatuses).pipe(span("pods")),
    podStatus: (id) => podStatus(id).pipe(span("podStatus")),
    session: (id) => find("qwip_session", { p_session_id: id }, StoredSession).pipe(span("session")),
    sessionWithPod: (id) =>
      find("qwip_session_with_pod", { p_session_id: id }, SessionWithPod).pipe(span("sessionWithPod")),
    sessionForSetupIntent: (id) =>
      find("qwip_session_for_setup_intent", { p_setup_intent_id: id }, StoredSession).pipe(
        span("sessionForSetupIntent")
      ),
    liveSessionsOnPod: (id) =>
      call("qwip_live_sessions_on_pod", { p_pod_id: id }, Sessions).pipe(span("liveSessionsOnPod")),
    liveSessionsPastWindow: (before) =>
      call("qwip_live_sessions", {}, Sessions).pipe(
        Effect.map((live) => live.filter((s) => isPastWindow(s, before))),
        span("liveSessionsPastWindow")
      ),

    openSession: (session, work) =>
      Effect.gen(function* () {
        const result = yield* call(
          "qwip_open_session",
          {
            p_session: yield* encode(SessionDoc, session),
            p_records: yield* encode(SessionRecordsDoc, recordsOf({ before: session, after: session })),
            p_work: yield* encode(WorkOrders, work)
          },
          Opened
        )
        if ("session" in result) return result.session
        return yield* result.error === "PodInUse"
          ? Effect.fail(new PodInUse({ podId: session.podId }))
          : Effect.fail(new PodNotFound({ podId: session.podId }))
      }).pipe(span("openSession")),

    commit: ({ before, after, releasePod, codeHold, work }) =>
      Effect.gen(function* () {
        const result = yield* call(
          "qwip_commit_session",
          {
            p_before_version: before.version,
            p_after: yield* encode(SessionDoc, after),
            p_records: yield* encode(SessionRecordsDoc, recordsOf({ before, after })),
            p_release_pod: releasePod,
            p_code_hold: codeHold ?? null,
            p_work: yield* encode(WorkOrders, work)
          },
          Committed
        )
        if ("session" in result) return result.session
        return yield* new StaleSession({ sessionId: before.id, expectedVersion: before.version })
      }).pipe(span("commit")),

    enqueue: (work) =>
      Effect.gen(function* () {
        if (work.length === 0) return []
        return yield* call("qwip_enqueue", { p_work: yield* encode(WorkOrders, work) }, Keys)
      }).pipe(span("enqueue")),

    claimWork: ({ worker, now, leaseFor, limit }) =>
      call(
        "qwip_claim_work",
        {
          p_worker: worker,
          p_now: now.toISOString(),
          p_lease_ms: Math.max(0, Math.round(Duration.toMillis(leaseFor))),
          p_limit: limit
        },
        WorkItems
      ).pipe(span("claimWork")),

    finishWork: (item) =>
      call("qwip_finish_work", { p_id: item.id, p_worker: item.leasedBy }, Schema.Boolean).pipe(
        Effect.asVoid,
        span("finishWork")
      ),
    parkWork: (item, error) =>
      call("qwip_park_work", { p_id: item.id, p_worker: item.leasedBy, p_error: error }, Schema.Boolean).pipe(
        Effect.asVoid,
        span("parkWork")
      ),
    renewLease: (item, until) =>
      call(
        "qwip_renew_lease",
        { p_id: item.id, p_worker: item.leasedBy, p_until: until.toISOString() },
        Schema.Boolean
      ).pipe(span("renewLease")),
    deferWork: (item, runAt, error) =>
      call(
        "qwip_defer_work",
        { p_id: item.id, p_worker: item.leasedBy, p_run_at: runAt.toISOString(), p_error: error },
        Schema.Boolean
      ).pipe(Effect.asVoid, span("deferWork")),
    releaseLeases: (worker) =>
      call("qwip_release_leases", { p_worker: worker }, Schema.Number).pipe(Effect.asVoid, span("releaseLeases"))
  }
}

/** `SessionStore` over whichever backend is provided. */
export const layer: Layer.Layer<SessionStore, never, StoreBackend> = Layer.effect(
  SessionStore,
  Effect.map(StoreBackend, make)
)

/** Every store service over one backend: `StoreBackend`, `SessionStore` and `StoreRecords`. */
export const servicesFor = (
  backend: StoreBackendShape
): Context.Context<StoreBackend | SessionStore | Records.StoreRecords> =>
  Context.make(StoreBackend, backend).pipe(
    Context.add(SessionStore, make(backend)),
    Context.add(Records.StoreRecords, Records.make(backend))
  )
