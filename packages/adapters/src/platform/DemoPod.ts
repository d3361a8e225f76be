/**
 * The embedded default's first run: an empty store gets one demo pod with a few static
 * codes, so `npm start` is bookable at once.
 */
import { randomInt } from "node:crypto"
import { AccessCode, Pod, type PodId, rate, SessionStore } from "@qwip/core"
import { Effect, Option, Schema } from "effect"
import { StoreRecords } from "../store/Records.js"

export const DEMO_POD_ID = "demo-pod" as PodId

export const demoPod = new Pod({
  id: DEMO_POD_ID,
  name: "Qwip Demo Pod",
  address: "1 Example Street, London",
  rate: rate("0.5"),
  lockDeviceId: Option.none(),
  accessMode: "static"
})

/** Seeds the demo pod when the store has no pods at all; does nothing otherwise. */
export const seedDemoPod = Effect.gen(function* () {
  const store = yield* SessionStore
  const records = yield* StoreRecords
  if ((yield* store.pods).length > 0) return
  yield* records.upsertPod(demoPod)
  const codes = new Set<string>()
  while (codes.size < 5) codes.add(randomInt(0, 100_000).toString().padStart(5, "0"))
  yield* records.setCodes(
    DEMO_POD_ID,
    [...codes].map((c) => Schema.decodeSync(AccessCode)(c))
  )
  yield* Effect.logInfo(`seeded the demo pod ${DEMO_POD_ID} with ${codes.size} static codes`)
}).pipe(Effect.withSpan("Platform.seedDemoPod"))
