/**
 * Where the sandbox payment provider keeps its objects (the `sandbox_payments` table in
 * the embedded store), so set-ups and charges survive restarts and staff can list them.
 */
import { Context, Effect, Layer, Option } from "effect"

export interface SandboxRecord {
  readonly id: string
  readonly object: "customer" | "setup_intent" | "payment_intent"
  readonly idempotencyKey: string | null
  readonly status: string
  readonly amountPence: number | null
  readonly data: Readonly<Record<string, string>>
  readonly createdAt: Date
}

export interface SandboxLedgerShape {
  /** Inserts; when a record with the same idempotency key exists, returns that one instead. */
  readonly insert: (record: SandboxRecord) => Effect.Effect<SandboxRecord>
  readonly get: (id: string) => Effect.Effect<Option.Option<SandboxRecord>>
  /** Sets the status and merges `data` into the record's (keys not given are kept), as the store does. */
  readonly update: (id: string, status: string, data: Readonly<Record<string, string>>) => Effect.Effect<void>
  /** The newest record of a kind whose `data[field]` equals `value`. */
  readonly findBy: (
    object: SandboxRecord["object"],
    field: string,
    value: string
  ) => Effect.Effect<Option.Option<SandboxRecord>>
  /** Every record, newest first (the latest few hundred on a store: for people to look at). */
  readonly list: Effect.Effect<ReadonlyArray<SandboxRecord>>
  /** Every record of a kind, newest first (on a store, up to `LEDGER_SCAN_LIMIT`). */
  readonly allOf: (object: SandboxRecord["object"]) => Effect.Effect<ReadonlyArray<SandboxRecord>>
}

/**
 * How many objects a scan of the stored ledger reads (`allOf`): the sandbox is for trying
 * Qwip and for tests, far below this; reconciling a window older than the newest this many
 * objects would miss some.
 */
export const LEDGER_SCAN_LIMIT = 10_000

export class SandboxLedger extends Context.Tag("@qwip/adapters/SandboxLedger")<SandboxLedger, SandboxLedgerShape>() {}

/** A ledger in memory, for tests of the sandbox itself. */
export const makeMemoryLedger = (): SandboxLedgerShape => {
  const records = new Map<string, SandboxRecord>()
  const newestFirst = () => [...records.values()].reverse()
  return {
    insert: (record) =>
      Effect.sync(() => {
        const existing =
          record.idempotencyKey === null
            ? undefined
            : [...records.values()].find((r) => r.idempotencyKey === record.idempotencyKey)
        if (existing !== undefined) return existing
        records.set(record.id, record)
        return record
      }),
    get: (id) => Effect.sync(() => Option.fromNullable(records.get(id))),
    update: (id, status, data) =>
      Effect.sync(() => {
        const r = records.get(id)
        if (r !== undefined) records.set(id, { ...r, status, data: { ...r.data, ...data } })
      }),
    findBy: (object, field, value) =>
      Effect.sync(() => Option.fromNullable(newestFirst().find((r) => r.object === object && r.data[field] === value))),
    list: Effect.sync(newestFirst),
    allOf: (object) => Effect.sync(() => newestFirst().filter((r) => r.object === object))
  }
}

export const layerMemoryLedger = Layer.sync(SandboxLedger, makeMemoryLedger)
