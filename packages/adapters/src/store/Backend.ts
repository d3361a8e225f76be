/**
 * The one thing the SQL stores need from a database: call one of the migrations' SQL
 * functions with named arguments and get its JSON result back. PGlite and Postgres run
 * `select qwip_x(p_a => $1::jsonb, ...)`; Supabase posts the same arguments to PostgREST's
 * `/rpc/qwip_x`. Everything above this (the session store, the platform records) is one
 * implementation shared by all three.
 */
import { Context, Data, Effect, type Option, Schema } from "effect"

export type StoreKind = "pglite" | "postgres" | "supabase"

/** SQL types the functions' parameters use; values are passed JSON-ready (dates as ISO text). */
export type SqlType = "text" | "jsonb" | "timestamptz" | "integer" | "bigint" | "boolean"

/** Every SQL function the stores call, with its parameters in order. */
export const sqlFunctions = {
  qwip_schema_version: [],
  qwip_pod_status: [["p_pod_id", "text"]],
  qwip_pods: [],
  qwip_session: [["p_session_id", "text"]],
  qwip_session_with_pod: [["p_session_id", "text"]],
  qwip_session_for_setup_intent: [["p_setup_intent_id", "text"]],
  qwip_live_sessions_on_pod: [["p_pod_id", "text"]],
  qwip_live_sessions: [],
  qwip_work_waiting: [],
  qwip_open_session: [
    ["p_session", "jsonb"],
    ["p_records", "jsonb"],
    ["p_work", "jsonb"]
  ],
  qwip_commit_session: [
    ["p_before_version", "integer"],
    ["p_after", "jsonb"],
    ["p_records", "jsonb"],
    ["p_release_pod", "boolean"],
    ["p_code_hold", "text"],
    ["p_work", "jsonb"]
  ],
  qwip_enqueue: [["p_work", "jsonb"]],
  qwip_claim_work: [
    ["p_worker", "text"],
    ["p_now", "timestamptz"],
    ["p_lease_ms", "bigint"],
    ["p_limit", "integer"]
  ],
  qwip_finish_work: [
    ["p_id", "text"],
    ["p_worker", "text"]
  ],
  qwip_park_work: [
    ["p_id", "text"],
    ["p_worker", "text"],
    ["p_error", "text"]
  ],
  qwip_defer_work: [
    ["p_id", "text"],
    ["p_worker", "text"],
    ["p_run_at", "timestamptz"],
    ["p_error", "text"]
  ],
  qwip_release_leases: [["p_worker", "text"]],
  qwip_renew_lease: [
    ["p_id", "text"],
    ["p_worker", "text"],
    ["p_until", "timestamptz"]
  ],
  qwip_upsert_pod: [["p_pod", "jsonb"]],
  qwip_static_codes: [["p_pod_id", "text"]],
  qwip_set_static_codes: [
    ["p_pod_id", "text"],
    ["p_codes", "jsonb"]
  ],
  qwip_session_charge: [["p_session_id", "text"]],
  qwip_charges: [["p_limit", "integer"]],
  qwip_payment_attempts: [["p_session_id", "text"]],
  qwip_work_for_session: [["p_session_id", "text"]],
  qwip_record_webhook_event: [
    ["p_event_id", "text"],
    ["p_type", "text"],
    ["p_payload", "jsonb"]
  ],
  qwip_finish_webhook_event: [
    ["p_event_id", "text"],
    ["p_status", "text"],
    ["p_error", "text"]
  ],
  qwip_append_audit: [
    ["p_actor", "text"],
    ["p_action", "text"],
    ["p_subject", "text"],
    ["p_before", "jsonb"],
    ["p_after", "jsonb"]
  ],
  qwip_list_audit: [
    ["p_subject", "text"],
    ["p_limit", "integer"]
  ],
  qwip_outbox_add: [
    ["p_key", "text"],
    ["p_recipient", "text"],
    ["p_kind", "text"],
    ["p_message", "jsonb"],
    ["p_rendered", "jsonb"]
  ],
  qwip_outbox_list: [["p_limit", "integer"]],
  qwip_outbox_get: [["p_id", "text"]],
  qwip_sandbox_create: [
    ["p_id", "text"],
    ["p_object", "text"],
    ["p_idempotency_key", "text"],
    ["p_status", "text"],
    ["p_amount_pence", "integer"],
    ["p_data", "jsonb"]
  ],
  qwip_sandbox_update: [
    ["p_id", "text"],
    ["p_status", "text"],
    ["p_data", "jsonb"]
  ],
  qwip_sandbox_get: [["p_id", "text"]],
  qwip_sandbox_find: [
    ["p_object", "text"],
    ["p_field", "text"],
    ["p_value", "text"]
  ],
  qwip_sandbox_list: [["p_limit", "integer"]],
  qwip_staff_sessions_page: [
    ["p_pod_id", "text"],
    ["p_live_only", "boolean"],
    ["p_after_id", "text"],
    ["p_limit", "integer"]
  ],
  qwip_staff_create_pod: [["p_pod", "jsonb"]],
  qwip_staff_release_pod: [
    ["p_pod_id", "text"],
    ["p_code_hold", "text"]
  ],
  qwip_staff_sealed_sessions: [
    ["p_after", "text"],
    ["p_limit", "integer"]
  ],
  qwip_staff_count_sealed: [],
  qwip_staff_replace_sealed_code: [
    ["p_session_id", "text"],
    ["p_version", "integer"],
    ["p_ref", "text"],
    ["p_sealed", "text"],
    ["p_at", "timestamptz"]
  ],
  qwip_staff_charge_attempts: [["p_session_id", "text"]],
  qwip_staff_begin_charge_attempt: [
    ["p_session_id", "text"],
    ["p_by", "text"],
    ["p_attempt", "integer"],
    ["p_idempotency_key", "text"]
  ],
  qwip_staff_finish_charge_attempt: [
    ["p_session_id", "text"],
    ["p_attempt", "integer"],
    ["p_status", "text"],
    ["p_payment_intent_id", "text"]
  ],
  qwip_staff_charges: [
    ["p_statuses", "jsonb"],
    ["p_limit", "integer"]
  ],
  qwip_staff_outbox_for_session: [["p_session_id", "text"]]
} as const satisfies Record<string, ReadonlyArray<readonly [string, SqlType]>>

export type SqlFunctionName = keyof typeof sqlFunctions

/** The named arguments of a function: JSON-ready values (ISO text for dates, objects for jsonb). */
export type SqlArgs<F extends SqlFunctionName> = {
  readonly [K in (typeof sqlFunctions)[F][number][0]]: unknown
}

export interface StoreBackendShape {
  readonly kind: StoreKind
  /** Calls a function; a database fault is a defect (`StoreFault`), never a silent success. */
  readonly call: <F extends SqlFunctionName>(fn: F, args: SqlArgs<F>) => Effect.Effect<unknown>
}

export class StoreBackend extends Context.Tag("@qwip/adapters/StoreBackend")<StoreBackend, StoreBackendShape>() {}

/** Calls `fn` and decodes its result with `schema`; a malformed result is a defect. */
export const callAs =
  (backend: StoreBackendShape) =>
  <F extends SqlFunctionName, A, I>(fn: F, args: SqlArgs<F>, schema: Schema.Schema<A, I>): Effect.Effect<A> =>
    backend.call(fn, args).pipe(Effect.flatMap(Schema.decodeUnknown(schema)), Effect.orDie)

/**
 * Calls `fn`, whose SQL null means "nothing found": `None`, else the result decoded with
 * `schema`. Pass the schema of what is found, not `Schema.NullOr(...)`: a schema built per call
 * would have its decoder built anew on every read.
 */
export const callOptionalAs =
  (backend: StoreBackendShape) =>
  <F extends SqlFunctionName, A, I>(
    fn: F,
    args: SqlArgs<F>,
    schema: Schema.Schema<A, I>
  ): Effect.Effect<Option.Option<A>> =>
    backend.call(fn, args).pipe(
      Effect.flatMap((result) =>
        result === null ? Effect.succeedNone : Effect.asSome(Schema.decodeUnknown(schema)(result))
      ),
      Effect.orDie
    )

/** A store operation failed for a reason no caller can handle (connection lost, SQL error). */
export class StoreFault extends Data.TaggedError("StoreFault")<{
  readonly store: StoreKind
  readonly operation: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return `${this.store} store: ${this.operation} failed: ${this.reason}`
  }
}

/** The store could not start; `setting` names the configuration to fix. */
export class StoreStartupError extends Schema.TaggedError<StoreStartupError>()("StoreStartupError", {
  setting: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.setting}: ${this.reason}`
  }
}

/** `"schema"` quoted as an SQL identifier. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** Schema names the stores accept: plain lower-case identifiers. */
export const checkSchemaName = (setting: string, schema: string): Effect.Effect<string, StoreStartupError> =>
  SCHEMA_NAME.test(schema)
    ? Effect.succeed(schema)
    : Effect.fail(new StoreStartupError({ setting, reason: `schema "${schema}" must be a lower-case SQL identifier` }))

/**
 * The statement PGlite and Postgres run for a call, with its parameters:
 * `select "public".qwip_commit_session(p_before_version => $1::integer, ...) as result`.
 */
export const callStatement = <F extends SqlFunctionName>(
  schema: string,
  fn: F,
  args: SqlArgs<F>
): { readonly text: string; readonly params: Array<string | number | boolean | null> } => {
  const signature: ReadonlyArray<readonly [string, SqlType]> = sqlFunctions[fn]
  const values = args as Record<string, unknown>
  const params: Array<string | number | boolean | null> = []
  const named = signature.map(([name, type], i) => {
    const value = values[name]
    params.push(
      value === undefined || value === null
        ? null
        : type === "jsonb"
          ? JSON.stringify(value)
          : value instanceof Date
            ? value.toISOString()
            : (value as string | number | boolean)
    )
    return `${name} => $${i + 1}::${type}`
  })
  return { text: `select ${quoteIdent(schema)}.${fn}(${named.join(", ")}) as result`, params }
}

/** A database client that runs one parameterised statement: a PGlite database, a node-postgres pool. */
export interface StatementRunner {
  readonly query: (
    text: string,
    params: Array<string | number | boolean | null>
  ) => Promise<{
    readonly rows: ReadonlyArray<{ readonly result?: unknown }>
  }>
}

/**
 * The backend PGlite and Postgres share: each call is `callStatement` run on `db`; a
 * database fault is a `StoreFault` defect.
 */
export const statementBackend = (
  kind: "pglite" | "postgres",
  schema: string,
  db: StatementRunner
): StoreBackendShape => ({
  kind,
  call: (fn, args) => {
    const { text, params } = callStatement(schema, fn, args)
    return Effect.tryPromise({
      try: () => db.query(text, params),
      catch: (cause) => new StoreFault({ store: kind, operation: fn, reason: describeCause(cause), cause })
    }).pipe(
      Effect.map((result) => result.rows[0]?.result ?? null),
      Effect.orDie,
      Effect.withSpan("StoreBackend.call", { attributes: { store: kind, fn } })
    )
  }
})

/** The message of an unknown failure, for one-line reports. */
export const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause
    const base = cause.message.length > 0 ? cause.message : cause.name
    return inner instanceof Error && inner.message.length > 0 && inner.message !== base
      ? `${base} (${inner.message})`
      : base
  }
  if (typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string") {
    return cause.message
  }
  return String(cause)
}
