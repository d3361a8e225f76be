/**
 * The sandbox payment provider's objects in the store (`sandbox_payments`).
 */
import { Effect, Layer, Option } from "effect"
import { LEDGER_SCAN_LIMIT, SandboxLedger, type SandboxRecord } from "../sandbox/SandboxLedger.js"
import { type SandboxObject, StoreRecords } from "../store/Records.js"

const toRecord = (o: SandboxObject): SandboxRecord => ({
  id: o.id,
  object: o.object,
  idempotencyKey: o.idempotencyKey,
  status: o.status,
  amountPence: o.amountPence,
  data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, String(v)])),
  createdAt: o.createdAt
})

export const layerSandboxLedger = Layer.effect(
  SandboxLedger,
  Effect.map(StoreRecords, (records) => ({
    insert: (record: SandboxRecord) =>
      Effect.map(
        records.createSandboxObject({
          id: record.id,
          object: record.object,
          idempotencyKey: record.idempotencyKey ?? undefined,
          status: record.status,
          amountPence: record.amountPence ?? undefined,
          data: record.data
        }),
        toRecord
      ),
    get: (id: string) => Effect.map(records.sandboxObject(id), Option.map(toRecord)),
    update: (id: string, status: string, data: Readonly<Record<string, string>>) =>
      Effect.asVoid(records.updateSandboxObject(id, status, data)),
    findBy: (object: SandboxRecord["object"], field: string, value: string) =>
      Effect.map(records.findSandboxObject(object, field, value), Option.map(toRecord)),
    list: Effect.map(records.listSandboxObjects(200), (all) => all.map(toRecord)),
    // No query by kind in the store's functions: read the newest objects and keep this kind's.
    allOf: (object: SandboxRecord["object"]) =>
      Effect.map(records.listSandboxObjects(LEDGER_SCAN_LIMIT), (all) =>
        all.filter((o) => o.object === object).map(toRecord)
      )
  }))
)
