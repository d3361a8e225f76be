/**
 * The embedded store: PGlite (Postgres compiled to WebAssembly) in this process, persisted
 * under `QWIP_DATA_DIR` (default `.qwip/`, the database in `<dir>/pglite`), or in memory.
 * Zero set-up: the migrations run at start.
 *
 * Only one process may open a PGlite directory. A lock file (`<dir>/pglite.lock`, holding the
 * pid) makes a second process fail at start with one line instead of corrupting the files.
 * Another process (the CLI) reaches a running embedded store through the service, or by the
 * service serving its PGlite over the Postgres wire protocol (`EmbeddedServer.ts`).
 * The directory is private to the service's user (`PrivateDirectory.ts`).
 */
import { open, readFile, unlink } from "node:fs/promises"
import { join, resolve } from "node:path"
import { PGlite, type PGliteInterface, type PGliteOptions } from "@electric-sql/pglite"
import type { SessionStore } from "@qwip/core"
import { Effect, Layer, Option, type Scope } from "effect"
import { makePrivateDirectory, makePrivateTree } from "../platform/PrivateDirectory.js"
import {
  describeCause,
  type StoreBackend,
  type StoreBackendShape,
  StoreStartupError,
  statementBackend
} from "./Backend.js"
import { type MigrationTarget, migrate, queryWith } from "./Migrator.js"
import type * as Records from "./Records.js"
import * as SqlStore from "./SqlStore.js"

export interface PgliteOptions {
  /** Directory to persist under (the database goes in `<dataDir>/pglite`); in memory when absent. */
  readonly dataDir?: string | undefined
  /** The setting named in start-up errors. */
  readonly setting?: string | undefined
}

/** The lock file in a data directory, holding the pid of the process that has the store open. */
export const LOCK_FILE = "pglite.lock"

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The live process a lock file's text names; none when it names no process, or one that is gone. */
export const liveLockHolder = (text: string): Option.Option<number> => {
  const pid = Number.parseInt(text.trim(), 10)
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? Option.some(pid) : Option.none()
}

/** Takes `<dir>/pglite.lock` for this process, or fails naming the process that holds it. */
const lockDirectory = (dir: string, setting: string): Effect.Effect<void, StoreStartupError, Scope.Scope> => {
  const path = join(dir, LOCK_FILE)
  const take = Effect.tryPromise({
    try: async () => {
      await makePrivateDirectory(dir)
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const handle = await open(path, "wx", 0o600)
          await handle.writeFile(`${process.pid}\n`)
          await handle.close()
          return
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
          const holder = liveLockHolder(await readFile(path, "utf8").catch(() => ""))
          if (Option.isSome(holder)) {
            throw new Error(
              `${dir} is in use by process ${holder.value}${holder.value === process.pid ? " (this one)" : ""}; only one process can open an embedded store`
            )
          }
          await unlink(path).catch(() => undefined) // left by a process that is gone
        }
      }
      throw new Error(`cannot take the lock ${path}`)
    },
    catch: (cause) => new StoreStartupError({ setting, reason: describeCause(cause) })
  })
  return Effect.acquireRelease(take, () => Effect.promise(() => unlink(path).catch(() => undefined)))
}

/**
 * PGlite's settings: its own defaults (which already run single-user, without fsync: see
 * `PGlite.defaultStartParams`) with a smaller buffer cache. Postgres' default 128 MB of
 * `shared_buffers` is touched as soon as it is used and never given back by WebAssembly,
 * which made most of the embedded service's memory; Qwip's data is a few MB, so 16 MB holds
 * all of it. Only the cache shrinks: what is written, and when, is unchanged.
 */
export const pgliteOptions: PGliteOptions = {
  startParams: [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"]
}

/** Opens (and closes with the scope) a PGlite database, locked to this process when on disk. */
export const openPglite = (options: PgliteOptions = {}): Effect.Effect<PGlite, StoreStartupError, Scope.Scope> =>
  Effect.gen(function* () {
    const setting = options.setting ?? "QWIP_DATA_DIR"
    const dir = options.dataDir === undefined ? undefined : resolve(options.dataDir)
    if (dir !== undefined) yield* lockDirectory(dir, setting)
    return yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          if (dir === undefined) return PGlite.create(pgliteOptions)
          const db = await PGlite.create(join(dir, "pglite"), pgliteOptions)
          // After create: PGlite has just written its files 0666. (The data directory itself was
          // made private by the lock; its other files are the service's own, created 0600.)
          await makePrivateTree(join(dir, "pglite"))
          return db
        },
        catch: (cause) =>
          new StoreStartupError({
            setting,
            reason: `cannot open the embedded database${dir === undefined ? "" : ` in ${dir}`}: ${describeCause(cause)}`
          })
      }),
      (db) => Effect.promise(() => db.close().catch(() => undefined))
    )
  })

export const migrationTarget = (db: PGliteInterface): MigrationTarget => {
  const target: MigrationTarget = {
    query: queryWith(db),
    runScript: (script) =>
      Effect.tryPromise({
        try: () => db.transaction((tx) => tx.exec(script)),
        catch: (cause) => cause
      }).pipe(Effect.asVoid),
    // PGlite is one connection.
    onOneConnection: (use) => use(target)
  }
  return target
}

/** Calls the store's SQL functions in a PGlite database (which runs one statement at a time). */
export const makeBackend = (db: PGliteInterface): StoreBackendShape => statementBackend("pglite", "public", db)

/** The database behind each embedded backend, so the service can serve it to the CLI (EmbeddedServer.ts). */
const databases = new WeakMap<StoreBackendShape, PGlite>()

/** The PGlite database an embedded store's backend runs on; undefined for other stores. */
export const pgliteBehind = (backend: StoreBackendShape): PGlite | undefined => databases.get(backend)

/**
 * Only one process opens an embedded store (the lock file), so any work lease found at open
 * was held by a process that is gone: give it back at once, rather than leave a customer's
 * door code waiting out the lease after a crash and restart.
 */
const releaseStaleLeases = (db: PGlite) =>
  Effect.tryPromise(() =>
    db.query(
      "update background_work set leased_by = null, lease_until = null, updated_at = now() where status = 'pending' and leased_by is not null"
    )
  )

/** The backend of an open database, migrated to this build's schema, with no stale leases. */
export const backendFor = (
  db: PGlite,
  setting = "QWIP_DATA_DIR"
): Effect.Effect<StoreBackendShape, StoreStartupError> =>
  migrate(migrationTarget(db), { schema: "public" }).pipe(
    Effect.zipRight(releaseStaleLeases(db)),
    Effect.mapError((e) => new StoreStartupError({ setting, reason: describeCause(e) })),
    Effect.map(() => {
      const backend = makeBackend(db)
      databases.set(backend, db)
      return backend
    })
  )

/** The embedded store: `SessionStore`, `StoreRecords` and the raw `StoreBackend`. */
export const layerPglite = (
  options: PgliteOptions = {}
): Layer.Layer<SessionStore | Records.StoreRecords | StoreBackend, StoreStartupError> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const db = yield* openPglite(options)
      return SqlStore.servicesFor(yield* backendFor(db, options.setting ?? "QWIP_DATA_DIR"))
    })
  )
