/**
 * Seeds a bench store: the read pod `bench-pod` and `count` lifecycle pods `life-<n>`, each on
 * static codes. Runs in its own process so the runner never holds a PGlite database open (only
 * one process may) and its memory never counts against the runner.
 *
 *   node bench/seed.mjs postgres <url> <schema> <count>
 *   node bench/seed.mjs pglite <dataDir> <count>
 */
import { Store, StoreRecords } from "@qwip/adapters"
import { AccessCode, Pod, rate } from "@qwip/core"
import { Effect, Layer, Option, Schema } from "effect"

const [kind, ...rest] = process.argv.slice(2)
const store =
  kind === "postgres" ? Store.layerPostgres({ url: rest[0], schema: rest[1] }) : Store.layerPglite({ dataDir: rest[0] })
const count = Number(kind === "postgres" ? rest[2] : rest[1])

const pod = (id, name) =>
  new Pod({ id, name, address: "1 Bench Street", rate: rate("0.5"), lockDeviceId: Option.none(), accessMode: "static" })
const codes = ["04726", "13579", "24680", "97531"].map((c) => Schema.decodeSync(AccessCode)(c))

await Effect.runPromise(
  Effect.gen(function* () {
    const records = yield* StoreRecords
    const ids = ["bench-pod", ...Array.from({ length: count }, (_, i) => `life-${i}`)]
    for (const id of ids) {
      yield* records.upsertPod(pod(id, id === "bench-pod" ? "Bench Pod" : `Lifecycle Pod ${id}`))
      yield* records.setCodes(id, codes)
    }
  }).pipe(Effect.provide(Layer.orDie(store)))
)
