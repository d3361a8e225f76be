/**
 * Seam's official fake (`@seamapi/fake-seam-connect`) run in this process on 127.0.0.1, for the
 * real `seam` SDK to talk to. State is seeded and changed only through the fake's own database
 * API (workspaces, API keys, devices, codes, simulated outages); nothing here answers for Seam.
 *
 * The fake (1.86) predates the SDK's `DELETE /access_codes/delete?access_code_id=…`: it reads
 * only a JSON body there, and answers 404 to the SDK's request. A thin relay in front of it moves
 * a DELETE's query into a JSON body; every other request passes through untouched.
 */
import { createServer, type IncomingMessage, Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { createFake, type Database, type Fake, type Routes } from "@seamapi/fake-seam-connect"
import { Context, Effect, Layer, Redacted } from "effect"

/** A lock as Seam reports it; the fields Qwip reads. */
export interface LockSeed {
  readonly online?: boolean
  readonly locked?: boolean
  readonly canProgramOnlineCodes?: boolean
  readonly canProgramOfflineCodes?: boolean
  readonly supportedCodeLengths?: ReadonlyArray<number>
  readonly codeConstraints?: ReadonlyArray<{
    readonly constraint_type: string
    readonly min_length?: number
    readonly max_length?: number
  }>
}

/** A code as the fake holds it. */
export interface CodeOnLock {
  readonly ref: string
  readonly name: string
  readonly code: string
  readonly status: string
  readonly startsAt: string | undefined
  readonly endsAt: string | undefined
}

export interface SeamFakeShape {
  /** Where the SDK should send requests (the relay). */
  readonly endpoint: string
  /** An API key of Qwip's workspace on the fake. */
  readonly apiKey: Redacted.Redacted<string>
  /** Adds a lock to Qwip's workspace: online, locked, online codes, unless told otherwise. */
  readonly addLock: (seed?: LockSeed) => Effect.Effect<string>
  readonly updateLock: (
    deviceId: string,
    change: { readonly online?: boolean; readonly locked?: boolean }
  ) => Effect.Effect<void>
  /** Puts a code on the lock as if someone else (another session, the owner) had set it. */
  readonly addCodeOnLock: (deviceId: string, code: string, name: string) => Effect.Effect<string>
  /** What Seam reports for a code: the lock confirming it (`set`), or an error on it. */
  readonly setCodeState: (
    ref: string,
    state: {
      readonly status?: "setting" | "set" | "unset" | "removing" | "unknown"
      readonly errors?: ReadonlyArray<{ readonly error_code: string; readonly message: string }>
    }
  ) => Effect.Effect<void>
  readonly codesOn: (deviceId: string) => Effect.Effect<ReadonlyArray<CodeOnLock>>
  /** Seam answers 503 on these routes (e.g. `/access_codes/delete`) until `recover`. */
  readonly outage: (routes: ReadonlyArray<keyof Routes>) => Effect.Effect<void>
  readonly recover: Effect.Effect<void>
}

export class SeamFake extends Context.Tag("test/SeamFake")<SeamFake, SeamFakeShape>() {
  static readonly layer = Layer.scoped(
    SeamFake,
    Effect.acquireRelease(
      Effect.promise(() => start()),
      ({ close }) => Effect.promise(close)
    ).pipe(Effect.map(({ shape }) => shape))
  )
}

/**
 * Starts the fake on a random loopback port. Its server listens on every interface and takes
 * no host option, so `listen` is pinned to 127.0.0.1 for the moment the fake starts.
 */
const startFakeOnLoopback = async (fake: Fake): Promise<number> => {
  const listen = Server.prototype.listen
  const listenAny = listen as (this: Server, ...args: Array<unknown>) => Server
  Server.prototype.listen = function (this: Server, ...args: Array<unknown>) {
    const [port, ...rest] = args
    // The fake calls `listen(port, callback)`; anything else would slip past the pin, so refuse it.
    if (typeof port !== "number") throw new Error("the Seam fake called listen in an unexpected way")
    return listenAny.call(this, port, "127.0.0.1", ...rest.filter((a) => typeof a === "function"))
  } as typeof listen
  try {
    // Port 0: the OS picks a free one; read back below.
    await fake.startServer({ port: 0 })
  } finally {
    Server.prototype.listen = listen
  }
  const address = fake.server?.server.address() as AddressInfo | null | undefined
  if (address?.address !== "127.0.0.1") throw new Error(`the Seam fake is not on loopback: ${JSON.stringify(address)}`)
  return address.port
}

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks)))
    req.on("error", reject)
  })

// Headers that describe one hop or the body's encoding, which `fetch` redoes itself.
const HOP_HEADERS = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "content-encoding",
  "keep-alive"
])

const relayTo = (origin: string) => async (req: IncomingMessage, res: ServerResponse) => {
  try {
    const url = new URL(req.url ?? "/", origin)
    let body = await readBody(req)
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_HEADERS.has(name))
        headers.set(name, Array.isArray(value) ? value.join(", ") : value)
    }
    if (req.method === "DELETE" && body.length === 0 && url.search !== "") {
      body = Buffer.from(JSON.stringify(Object.fromEntries(url.searchParams)))
      headers.set("content-type", "application/json")
      url.search = ""
    }
    const answer = await fetch(url, {
      method: req.method ?? "GET",
      headers,
      ...(body.length > 0 ? { body } : {})
    })
    const payload = Buffer.from(await answer.arrayBuffer())
    const out: Record<string, string> = {}
    answer.headers.forEach((value, name) => {
      if (!HOP_HEADERS.has(name)) out[name] = value
    })
    res.writeHead(answer.status, out)
    res.end(payload)
  } catch (error) {
    res.writeHead(502, { "content-type": "text/plain" })
    res.end(`relay to the Seam fake failed: ${String(error)}`)
  }
}

const start = async () => {
  const fake = await createFake()
  const fakePort = await startFakeOnLoopback(fake)
  const relay = createServer(relayTo(`http://127.0.0.1:${fakePort}`))
  await new Promise<void>((resolve, reject) => {
    relay.once("error", reject)
    relay.listen(0, "127.0.0.1", () => resolve())
  })
  const relayPort = (relay.address() as AddressInfo).port

  const db: Database = fake.database
  const workspace = db.addWorkspace({ name: "Qwip" })
  const { token } = db.addApiKey({ workspace_id: workspace.workspace_id })
  if (token === undefined) throw new Error("the Seam fake made an API key without a token")
  let lockCount = 0

  type DeviceProperties = NonNullable<Parameters<Database["addDevice"]>[0]["properties"]>

  const shape: SeamFakeShape = {
    endpoint: `http://127.0.0.1:${relayPort}`,
    apiKey: Redacted.make(token),
    addLock: (seed = {}) =>
      Effect.sync(() => {
        lockCount++
        const properties = {
          online: seed.online ?? true,
          locked: seed.locked ?? true,
          ...(seed.supportedCodeLengths === undefined
            ? {}
            : { supported_code_lengths: [...seed.supportedCodeLengths] }),
          ...(seed.codeConstraints === undefined ? {} : { code_constraints: seed.codeConstraints })
        }
        const device = db.addDevice({
          device_type: "august_lock",
          name: `Pod ${lockCount} door`,
          workspace_id: workspace.workspace_id,
          can_remotely_lock: true,
          can_remotely_unlock: true,
          can_program_online_access_codes: seed.canProgramOnlineCodes ?? true,
          // The fake's types predate `code_constraints`; its store keeps the properties as given.
          properties: properties as DeviceProperties
        })
        if (seed.canProgramOfflineCodes !== undefined) {
          db.updateDevice({
            device_id: device.device_id,
            can_program_offline_access_codes: seed.canProgramOfflineCodes
          } as Parameters<Database["updateDevice"]>[0])
        }
        return device.device_id
      }),
    updateLock: (deviceId, change) =>
      Effect.sync(() => {
        db.updateDevice({ device_id: deviceId, properties: change })
      }),
    addCodeOnLock: (deviceId, code, name) =>
      Effect.sync(
        () => db.addAccessCode({ workspace_id: workspace.workspace_id, device_id: deviceId, code, name }).access_code_id
      ),
    setCodeState: (ref, state) =>
      Effect.sync(() => {
        db.updateAccessCode({
          access_code_id: ref,
          ...(state.status === undefined ? {} : { status: state.status }),
          ...(state.errors === undefined ? {} : { errors: [...state.errors] })
        } as Parameters<Database["updateAccessCode"]>[0])
      }),
    codesOn: (deviceId) =>
      Effect.sync(() =>
        db.access_codes
          .filter((c) => c.device_id === deviceId)
          .map((c) => ({
            ref: c.access_code_id,
            name: c.name,
            code: c.code,
            status: c.status,
            startsAt: "starts_at" in c ? c.starts_at : undefined,
            endsAt: "ends_at" in c ? c.ends_at : undefined
          }))
      ),
    outage: (routes) => Effect.sync(() => db.simulateWorkspaceOutage(workspace.workspace_id, { routes: [...routes] })),
    recover: Effect.sync(() => db.simulateWorkspaceOutageRecovery(workspace.workspace_id))
  }

  const close = async () => {
    relay.closeAllConnections()
    await new Promise<void>((resolve) => relay.close(() => resolve()))
    fake.server?.server.closeAllConnections()
    await fake.stopServer()
  }
  return { shape, close }
}
