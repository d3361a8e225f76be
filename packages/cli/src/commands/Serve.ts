/**
 * `qwip serve` (what `npm start` runs): the HTTP service and its background worker on the
 * platform the environment describes. An embedded store is also served to the CLI.
 */
import { Command } from "@effect/cli"
import { Data, Effect, Layer } from "effect"
import { access, adapters, dataDir, withDataDir } from "../Common.js"

export class AlreadyServed extends Data.TaggedError("AlreadyServed")<{ readonly message: string }> {}

/** Set while the service runs: a signal then means a normal stop (exit code 0). */
export const serving = { active: false }

export const serve = Command.make("serve", { dataDir }, (o) =>
  Effect.gen(function* () {
    const where = yield* access(o.dataDir)
    if (where._tag === "EmbeddedServed") {
      return yield* new AlreadyServed({
        message: `a service (process ${where.endpoint.pid}) already serves ${where.dataDir}: stop it first, or use another --data-dir`
      })
    }
    serving.active = true
    // Loaded only here: the other commands start faster without the HTTP service's modules.
    const http = yield* Effect.promise(() => import("@qwip/http"))
    const { EmbeddedServer, layerFromEnv, withCrashPoints } = yield* adapters
    // The embedded store (when there is one) is served to the CLI for as long as the service runs.
    // `withCrashPoints` is inert unless the crash tests set QWIP_TEST_CRASH_AT.
    yield* http.serve(Layer.provideMerge(EmbeddedServer.layer, withCrashPoints(layerFromEnv)))
  }).pipe(withDataDir(o.dataDir))
).pipe(
  Command.withDescription(
    "run the HTTP service customers book through, with its background worker (door codes, charges, emails), on PORT (default 8000); what npm start runs"
  )
)
