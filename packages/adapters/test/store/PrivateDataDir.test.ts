/**
 * The embedded store's data directory is private to the service's user: door codes sit in
 * PGlite's write-ahead log, and PGlite writes its files 0666 whatever the umask.
 */
import { lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadLocalSecrets } from "../../src/platform/LocalSecrets.js"
import { openPglite } from "../../src/store/Pglite.js"

const tempParent = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "qwip-modes-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

const modeOf = async (path: string) => (await lstat(path)).mode & 0o777

/** Every path below `dir` whose mode gives group or other users any access. */
const opened = async (dir: string) => {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const found: Array<string> = []
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name)
    if ((await modeOf(path)) & 0o077) found.push(`${path} ${((await modeOf(path)) & 0o777).toString(8)}`)
  }
  return found
}

/** Runs with a permissive umask, as on a host where the default is 0000. */
const withUmask = <A, E, R>(mask: number, self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => process.umask(mask)),
    () => self,
    (previous) => Effect.sync(() => process.umask(previous))
  )

describe("the embedded store's data directory", () => {
  it.scoped("is created 0700, and nothing in it is open to other users, whatever the umask", () =>
    Effect.gen(function* () {
      const parent = yield* tempParent
      const dataDir = join(parent, "data")
      yield* withUmask(
        0,
        Effect.gen(function* () {
          yield* loadLocalSecrets(dataDir)
          const db = yield* openPglite({ dataDir })
          yield* Effect.promise(() => db.exec("create table t (code text); insert into t values ('4726')"))
        }).pipe(Effect.scoped)
      )
      expect((yield* Effect.promise(() => modeOf(dataDir))).toString(8)).toBe("700")
      expect((yield* Effect.promise(() => modeOf(join(dataDir, "pglite")))).toString(8)).toBe("700")
      expect(
        (yield* Effect.promise(() => readdir(join(dataDir, "pglite"), { recursive: true }))).length
      ).toBeGreaterThan(100)
      expect(yield* Effect.promise(() => opened(join(dataDir, "pglite")))).toEqual([])
      expect((yield* Effect.promise(() => modeOf(join(dataDir, "secrets.json")))).toString(8)).toBe("600")
    })
  )

  it.scoped("the lock file of an open store is the owner's only", () =>
    Effect.gen(function* () {
      const dataDir = join(yield* tempParent, "data")
      yield* withUmask(
        0,
        Effect.gen(function* () {
          yield* openPglite({ dataDir })
          expect(yield* Effect.promise(() => opened(dataDir))).toEqual([])
        }).pipe(Effect.scoped)
      )
    })
  )

  it.scoped("an existing open directory is tightened on start, files included", () =>
    Effect.gen(function* () {
      const parent = yield* tempParent
      const dataDir = join(parent, "data")
      yield* withUmask(
        0,
        Effect.gen(function* () {
          yield* Effect.promise(async () => {
            await mkdir(join(dataDir, "pglite"), { recursive: true, mode: 0o777 })
            // What an earlier build left: the directory and a WAL-like file open to everyone.
            await writeFile(join(dataDir, "pglite", "leftover"), "x", { mode: 0o666 })
          })
          yield* openPglite({ dataDir }).pipe(Effect.scoped)
        })
      )
      expect((yield* Effect.promise(() => modeOf(dataDir))).toString(8)).toBe("700")
      expect((yield* Effect.promise(() => modeOf(join(dataDir, "pglite", "leftover")))).toString(8)).toBe("600")
      expect(yield* Effect.promise(() => opened(dataDir))).toEqual([])
      expect((yield* Effect.promise(() => stat(dataDir))).isDirectory()).toBe(true)
    })
  )
})
