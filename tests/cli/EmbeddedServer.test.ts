/**
 * The embedded store served to the CLI over the Postgres wire protocol, in process: the
 * service's own queries and several clients' requests never interleave, transactions are
 * kept whole, a client that leaves a transaction open is rolled back, and only a client
 * with the port file's password gets in.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { EmbeddedStoreBusy, findEmbeddedService, serveEmbedded } from "@qwip/adapters/store/EmbeddedServer"
import { latestVersion } from "@qwip/adapters/store/Migrator"
import { backendFor, openPglite } from "@qwip/adapters/store/Pglite"
import { Effect, Exit, Option, Scope } from "effect"
import pg from "pg"

/** The schema version this build migrates to (the newest migration's number). */
const latest = await Effect.runPromise(Effect.orDie(latestVersion))

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** An embedded store on disk, served; closed with the returned `close`. */
const served = async (idleInTransactionMs = 30_000) => {
  const dir = mkdtempSync(join(tmpdir(), "qwip-served-"))
  dirs.push(dir)
  const scope = Effect.runSync(Scope.make())
  const { db, backend, endpoint } = await Effect.runPromise(
    Effect.gen(function* () {
      const db = yield* openPglite({ dataDir: dir })
      const backend = yield* backendFor(db)
      const endpoint = yield* serveEmbedded(db, dir, { idleInTransactionMs })
      return { db, backend, endpoint }
    }).pipe(Scope.extend(scope))
  )
  return { dir, db, backend, endpoint, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

// Each test opens a PGlite store, which takes seconds of CPU: generous on a loaded machine.
describe("embedded store served to the CLI", { timeout: 120_000 }, () => {
  it("answers Postgres clients with the password, refuses others, and is found through the lock and port files", async () => {
    const store = await served()
    try {
      const found = await Effect.runPromise(findEmbeddedService(store.dir))
      // This process holds the lock: another process would find the endpoint; this one opens nothing.
      expect(Option.isNone(found)).toBe(true)
      const client = new pg.Client({ connectionString: store.endpoint.url })
      await client.connect()
      const rows = await client.query("select qwip_schema_version() as v, $1::text as echo", ["hello"])
      expect(rows.rows[0]).toEqual({ v: latest, echo: "hello" })
      await client.end()
      const wrong = new pg.Client({ connectionString: store.endpoint.url.replace(/:[^:@/]+@/, ":wrong@") })
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/)
    } finally {
      await store.close()
    }
    // The port file goes with the server.
    writeFileSync(join(store.dir, "pglite.lock"), `${process.ppid}\n`)
    const busy = await Effect.runPromise(Effect.flip(findEmbeddedService(store.dir)))
    expect(busy).toBeInstanceOf(EmbeddedStoreBusy)
    expect(busy.message).toContain("does not serve it to the CLI")
  })

  it("keeps requests whole: clients and the service's own queries never interleave", async () => {
    const store = await served()
    const pool = new pg.Pool({ connectionString: store.endpoint.url, max: 4 })
    try {
      const viaSocket = Array.from({ length: 40 }, (_, i) =>
        pool.query("select $1::int * 2 as doubled, pg_sleep(0) as z", [i]).then((r) => r.rows[0]?.doubled)
      )
      const inProcess = Array.from({ length: 40 }, (_, i) =>
        store.db.query<{ n: number }>("select $1::int + 1000 as n", [i]).then((r) => r.rows[0]?.n)
      )
      const viaBackend = Array.from({ length: 10 }, () =>
        Effect.runPromise(store.backend.call("qwip_schema_version", {}))
      )
      expect(await Promise.all(viaSocket)).toEqual(Array.from({ length: 40 }, (_, i) => i * 2))
      expect(await Promise.all(inProcess)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1000))
      expect(await Promise.all(viaBackend)).toEqual(Array.from({ length: 10 }, () => latest))
    } finally {
      await pool.end()
      await store.close()
    }
  })

  it("holds a client's transaction whole; one left open is rolled back when it goes idle", async () => {
    const store = await served(300)
    try {
      await store.db.exec("create table t (n int)")
      const a = new pg.Client({ connectionString: store.endpoint.url })
      await a.connect()
      await a.query("begin")
      await a.query("insert into t values (1)")
      // The service's query waits for the client's transaction instead of joining it.
      let seen: number | undefined
      const service = store.db.query<{ c: number }>("select count(*)::int as c from t").then((r) => {
        seen = r.rows[0]?.c
      })
      await new Promise((r) => setTimeout(r, 100))
      expect(seen).toBeUndefined()
      await a.query("insert into t values (2)")
      await a.query("commit")
      await service
      expect(seen).toBe(2)

      const b = new pg.Client({ connectionString: store.endpoint.url })
      b.on("error", () => undefined)
      await b.connect()
      await b.query("begin")
      await b.query("insert into t values (3)")
      // b goes quiet inside its transaction: after the idle limit it is rolled back and cut off.
      const after = await store.db.query<{ c: number }>("select count(*)::int as c from t")
      expect(after.rows[0]?.c).toBe(2)
      expect(store.db.isInTransaction()).toBe(false)
      await a.end()
    } finally {
      await store.close()
    }
  })
})
