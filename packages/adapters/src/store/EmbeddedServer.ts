/**
 * Reaching the embedded store while the service holds it. Only one process can open a PGlite
 * directory, so the service serves its database over the Postgres wire protocol on
 * 127.0.0.1 (a random port, written with a one-time password to `<dataDir>/pglite.port`,
 * readable by the owner only) and the `qwip` CLI, finding the directory locked and the port
 * file present, connects to it as to any Postgres.
 *
 * Why not `@electric-sql/pglite-socket`'s `PGLiteSocketServer`: it queues each protocol
 * *message* on PGlite's query lock, not each request, so (1) the service's own queries can
 * run between a client's Parse and its Sync, replacing the client's unnamed statement, or
 * inside a client's open transaction (BEGIN … COMMIT over several round trips); (2) with
 * more than one connection, two clients' extended-protocol messages interleave (it only
 * keeps a client's turn inside an explicit transaction block); (3) it allows one connection
 * by default and turns others away with plain text, not a protocol error; (4) anyone on the
 * machine may connect. This server instead takes PGlite's transaction lock and query lock
 * (the order PGlite's own `query` takes them) for a client's whole request (up to Sync or a
 * simple Query), keeps them while the client has a transaction open or an extended query
 * half done (at most `idleInTransaction`; then it rolls back and disconnects), and asks for
 * the password from the port file. Requests from the CLI and the service are so serialised:
 * a long CLI transaction (a migration) makes the service wait. Not supported: query
 * cancellation (a cancel request is dropped), COPY, LISTEN/NOTIFY across connections, SSL.
 */
import { randomBytes, timingSafeEqual } from "node:crypto"
import { chmod, readFile, rm, writeFile } from "node:fs/promises"
import { createServer, type Server, type Socket } from "node:net"
import { dirname, join, resolve } from "node:path"
import type { PGlite } from "@electric-sql/pglite"
import { Config, Effect, Layer, Option, Schema } from "effect"
import { PlatformInfo } from "../platform/Services.js"
import { StoreBackend } from "./Backend.js"
import { LOCK_FILE, liveLockHolder, pgliteBehind } from "./Pglite.js"

export const PORT_FILE = "pglite.port"

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608
const SYNC = Buffer.from([0x53, 0, 0, 0, 4])

/** What `<dataDir>/pglite.port` holds while the service serves its embedded store. */
const PortFile = Schema.parseJson(
  Schema.Struct({ port: Schema.Int, pid: Schema.Int, password: Schema.String, host: Schema.String })
)

// ---- messages ------------------------------------------------------------------------------

const message = (type: string, body: Buffer) => {
  const head = Buffer.alloc(5)
  head.write(type, 0, "latin1")
  head.writeInt32BE(4 + body.length, 1)
  return Buffer.concat([head, body])
}

const cstring = (text: string) => Buffer.concat([Buffer.from(text, "utf8"), Buffer.from([0])])

const errorResponse = (code: string, text: string) =>
  message(
    "E",
    Buffer.concat([cstring("SFATAL"), cstring("VFATAL"), cstring(`C${code}`), cstring(`M${text}`), Buffer.from([0])])
  )

const askForPassword = () => {
  const body = Buffer.alloc(4)
  body.writeInt32BE(3, 0) // AuthenticationCleartextPassword
  return message("R", body)
}

const simpleQuery = (sql: string) => message("Q", cstring(sql))

const sameSecret = (given: Buffer, expected: string) => {
  const want = Buffer.from(expected, "utf8")
  return given.length === want.length && timingSafeEqual(given, want)
}

// ---- the lock a request holds --------------------------------------------------------------

/** Takes PGlite's transaction and query locks, in the order its own `query` takes them. */
const acquire = (db: PGlite): Promise<() => void> =>
  new Promise((granted, failed) => {
    db._runExclusiveTransaction(() => db.runExclusive(() => new Promise<void>((release) => granted(release)))).catch(
      failed
    )
  })

// ---- one client connection -----------------------------------------------------------------

class Connection {
  private buffer: Buffer = Buffer.alloc(0)
  private phase: "startup" | "password" | "ready" | "closed" = "startup"
  private startup: Buffer | undefined
  private pending: Array<Buffer> = []
  private chain: Promise<void> = Promise.resolve()
  private release: (() => void) | undefined
  /** An extended query was flushed but not yet synced: the next messages belong to it. */
  private midQuery = false
  private idle: NodeJS.Timeout | undefined

  constructor(
    private readonly db: PGlite,
    private readonly socket: Socket,
    private readonly password: string,
    private readonly idleInTransactionMs: number,
    private readonly onClosed: (c: Connection) => void
  ) {
    socket.setNoDelay(true)
    socket.on("data", (chunk: Buffer) => this.receive(chunk))
    socket.on("error", () => void this.close())
    socket.on("close", () => void this.close())
  }

  private receive(chunk: Buffer) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    for (;;) {
      if (this.phase === "closed") return
      if (this.phase === "startup") {
        if (this.buffer.length < 8) return
        const length = this.buffer.readInt32BE(0)
        if (length < 8 || length > 10_000) return this.refuse("08P01", "invalid startup packet")
        if (this.buffer.length < length) return
        const packet = Buffer.from(this.buffer.subarray(0, length))
        this.buffer = this.buffer.subarray(length)
        const code = packet.readInt32BE(4)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write("N")
          continue
        }
        // PGlite has no backend to signal: a cancel request is dropped.
        if (code === CANCEL_REQUEST) return void this.close()
        if (code !== PROTOCOL_3) return this.refuse("0A000", "unsupported frontend protocol")
        this.startup = packet
        this.phase = "password"
        this.socket.write(askForPassword())
        continue
      }
      if (this.buffer.length < 5) return
      const length = this.buffer.readInt32BE(1)
      if (length < 4) return this.refuse("08P01", "invalid message length")
      if (this.buffer.length < 1 + length) return
      const next = Buffer.from(this.buffer.subarray(0, 1 + length))
      this.buffer = this.buffer.subarray(1 + length)
      const type = String.fromCharCode(next[0] ?? 0)
      if (this.phase === "password") {
        if (type !== "p" || !sameSecret(next.subarray(5, next.length - 1), this.password)) {
          return this.refuse("28P01", "password authentication failed (the password is in <dataDir>/pglite.port)")
        }
        this.phase = "ready"
        // PGlite answers the startup packet: AuthenticationOk, parameters, ReadyForQuery.
        this.submit([this.startup ?? Buffer.alloc(0)])
        continue
      }
      if (type === "X") return void this.close()
      this.pending.push(next)
      if (type === "S" || type === "Q" || type === "H") {
        const request = this.pending
        this.pending = []
        this.submit(request)
      }
    }
  }

  private submit(request: ReadonlyArray<Buffer>) {
    this.chain = this.chain.then(() => this.run(request)).catch(() => void this.close())
  }

  private async run(request: ReadonlyArray<Buffer>) {
    if (this.phase === "closed") return
    if (this.idle !== undefined) clearTimeout(this.idle)
    if (this.release === undefined) this.release = await acquire(this.db)
    if (this.closed()) return this.cleanUp()
    let active = true
    const write = (data: Uint8Array) => {
      if (active && this.socket.writable) this.socket.write(Buffer.from(data))
    }
    try {
      for (const m of request) await this.db.execProtocolRawStream(m, { syncToFs: false, onRawData: write })
    } finally {
      // PGlite keeps the last output callback; a stale one must never reach this socket.
      active = false
    }
    const last = request[request.length - 1]?.[0]
    if (last === 0x48) this.midQuery = true
    else if (last === 0x53 || last === 0x51) this.midQuery = false
    if (!this.midQuery && !this.db.isInTransaction()) {
      await this.db.syncToFs()
      this.letGo()
    } else {
      this.idle = setTimeout(() => void this.close(), this.idleInTransactionMs)
    }
  }

  /** Read after an await: another callback may have closed the connection meanwhile. */
  private closed(): boolean {
    return this.phase === "closed"
  }

  private letGo() {
    const release = this.release
    this.release = undefined
    release?.()
  }

  /** Leaves the database as a new client would find it, then lets others in. */
  private async cleanUp() {
    if (this.release === undefined) return
    const discard = { syncToFs: false, onRawData: () => undefined }
    try {
      if (this.midQuery) await this.db.execProtocolRawStream(SYNC, discard)
      if (this.db.isInTransaction()) await this.db.execProtocolRawStream(simpleQuery("ROLLBACK"), discard)
      await this.db.syncToFs()
    } finally {
      this.midQuery = false
      this.letGo()
    }
  }

  private refuse(code: string, text: string) {
    this.close(errorResponse(code, text))
  }

  /** Closes the connection (sending `last` first, if given) and rolls back what it left open. */
  close(last?: Buffer): Promise<void> {
    if (this.phase !== "closed") {
      this.phase = "closed"
      if (this.idle !== undefined) clearTimeout(this.idle)
      if (last !== undefined && this.socket.writable) this.socket.end(last)
      else this.socket.destroy()
      this.chain = this.chain.then(() => this.cleanUp()).catch(() => this.letGo())
      this.onClosed(this)
    }
    return this.chain
  }
}

// ---- serving -------------------------------------------------------------------------------

export interface EmbeddedServerOptions {
  /** Default 127.0.0.1; the server never needs to be reachable from another machine. */
  readonly host?: string | undefined
  /** Default 0: a free port, written to the port file. */
  readonly port?: number | undefined
  /** How long a client may hold a transaction open without sending anything. Default 30 s. */
  readonly idleInTransactionMs?: number | undefined
}

export interface EmbeddedEndpoint {
  readonly host: string
  readonly port: number
  readonly pid: number
  readonly password: string
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  readonly url: string
}

const urlOf = (e: { host: string; port: number; password: string }) =>
  `postgres://postgres:${encodeURIComponent(e.password)}@${e.host}:${e.port}/postgres`

/**
 * Serves `db` (open on `dataDir`) until the scope closes, writing `<dataDir>/pglite.port`
 * and removing it again. Connections still open at the end are rolled back and closed.
 */
export const serveEmbedded = (db: PGlite, dataDir: string, options: EmbeddedServerOptions = {}) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const host = options.host ?? "127.0.0.1"
        const password = randomBytes(24).toString("base64url")
        const connections = new Set<Connection>()
        const server: Server = createServer((socket) => {
          connections.add(
            new Connection(db, socket, password, options.idleInTransactionMs ?? 30_000, (c) => connections.delete(c))
          )
        })
        await new Promise<void>((ok, fail) => {
          server.once("error", fail)
          server.listen(options.port ?? 0, host, () => ok())
        })
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        const file = join(dataDir, PORT_FILE)
        await writeFile(file, `${JSON.stringify({ port, pid: process.pid, password, host })}\n`, { mode: 0o600 })
        // `mode` applies only when the file is created: one left by a crash keeps its old mode.
        await chmod(file, 0o600)
        return { server, connections, file, endpoint: { host, port, pid: process.pid, password, url: "" } }
      },
      catch: (cause) => new Error(`cannot serve the embedded store: ${String(cause)}`)
    }),
    ({ server, connections, file }) =>
      Effect.promise(async () => {
        await rm(file, { force: true })
        await new Promise<void>((done) => {
          server.close(() => done())
          for (const c of connections) void c.close()
        })
        await Promise.all([...connections].map((c) => c.close()))
      })
  ).pipe(
    Effect.map(({ endpoint }) => ({ ...endpoint, url: urlOf(endpoint) }) satisfies EmbeddedEndpoint),
    Effect.withSpan("EmbeddedServer.serve")
  )

/**
 * Serves the embedded store of the platform in context to the `qwip` CLI, for as long as
 * the layer lives. Does nothing when the store is not an embedded one on disk. Add it to
 * the service beside the platform (its scope must close before the platform's). The port
 * comes from `QWIP_EMBEDDED_PORT` (default: a free one).
 */
export const layer: Layer.Layer<never, never, StoreBackend | PlatformInfo> = Layer.scopedDiscard(
  Effect.gen(function* () {
    const backend = yield* StoreBackend
    const info = yield* PlatformInfo
    const db = pgliteBehind(backend)
    if (db === undefined || db.dataDir === undefined || db.dataDir.includes("://")) return
    const dataDir = dirname(resolve(db.dataDir))
    const port = yield* Config.integer("QWIP_EMBEDDED_PORT").pipe(
      Config.withDefault(0),
      Effect.orElseSucceed(() => 0)
    )
    const endpoint = yield* serveEmbedded(db, dataDir, { port }).pipe(
      Effect.catchAll((e) =>
        Effect.as(Effect.logWarning(`the embedded store is not served to the CLI: ${e.message}`), undefined)
      )
    )
    if (endpoint !== undefined) {
      yield* Effect.logInfo(
        `embedded store ${info.dataDir} served to the qwip CLI on ${endpoint.host}:${endpoint.port}`
      )
    }
  })
)

// ---- finding a running service (the CLI's side) -----------------------------------------

/** The directory is held by a process that does not serve it. */
export class EmbeddedStoreBusy extends Schema.TaggedError<EmbeddedStoreBusy>()("EmbeddedStoreBusy", {
  dataDir: Schema.String,
  pid: Schema.Int
}) {
  override get message() {
    return `the service (process ${this.pid}) holds ${this.dataDir} and does not serve it to the CLI: stop it, or run it with \`qwip serve\` (which does)`
  }
}

const readText = (path: string) =>
  Effect.promise(() => readFile(path, "utf8").then(Option.some, () => Option.none<string>()))

/**
 * Whether another live process holds the embedded store under `dataDir`: `None` when no one
 * does (open it directly), its endpoint when it serves the store, `EmbeddedStoreBusy` when it
 * holds it without serving it.
 */
export const findEmbeddedService = (
  dataDir: string
): Effect.Effect<Option.Option<EmbeddedEndpoint>, EmbeddedStoreBusy> =>
  Effect.gen(function* () {
    const dir = resolve(dataDir)
    const lock = yield* readText(join(dir, LOCK_FILE))
    const holder = Option.filter(Option.flatMap(lock, liveLockHolder), (pid) => pid !== process.pid)
    if (Option.isNone(holder)) return Option.none()
    const served = Option.flatMap(yield* readText(join(dir, PORT_FILE)), Schema.decodeOption(PortFile))
    if (Option.isNone(served) || served.value.pid !== holder.value) {
      return yield* new EmbeddedStoreBusy({ dataDir: dir, pid: holder.value })
    }
    const { host, port, pid, password } = served.value
    return Option.some({ host, port, pid, password, url: urlOf({ host, port, password }) })
  }).pipe(Effect.withSpan("EmbeddedServer.find"))
