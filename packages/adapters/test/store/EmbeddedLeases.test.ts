/**
 * The embedded store is one process's at a time, so a work lease found when it opens belongs
 * to a process that died: it is given back at once, and the restarted service takes the work
 * without waiting the lease out (a customer's door code would wait with it).
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { type SessionId, SessionStore, StaffAlert, sendMail } from "@qwip/core"
import { Duration, Effect, Layer } from "effect"
import { layerPglite } from "../../src/store/Pglite.js"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "qwip-leases-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

const withStore = <A, E>(dataDir: string, use: Effect.Effect<A, E, SessionStore>) =>
  use.pipe(Effect.provide(Layer.orDie(layerPglite({ dataDir }))))

describe("the embedded store at open", () => {
  it.scoped("gives back the leases of the process that held it before", () =>
    Effect.gen(function* () {
      const dataDir = yield* tempDir
      const now = new Date("2026-11-30T12:00:00Z")
      const alert = new StaffAlert({
        topic: "overdue",
        sessionId: "10000000-0000-4000-8000-00000000000a" as SessionId,
        podId: "pod-1",
        detail: "test"
      })
      const claim = (worker: string) =>
        Effect.flatMap(SessionStore, (store) =>
          store.claimWork({ worker, now, leaseFor: Duration.minutes(2), limit: 10 })
        )

      // The first process claims the work for two minutes, then dies (its scope just closes).
      const first = yield* withStore(
        dataDir,
        Effect.gen(function* () {
          yield* Effect.flatMap(SessionStore, (store) => store.enqueue([sendMail(alert, now)]))
          return yield* claim("host-111-aaaaaa")
        })
      )
      expect(first).toHaveLength(1)

      // The next process, at the same moment: the lease is not waited out.
      const second = yield* withStore(dataDir, claim("host-222-bbbbbb"))
      expect(second.map((w) => w.key)).toEqual(first.map((w) => w.key))
    })
  )
})
