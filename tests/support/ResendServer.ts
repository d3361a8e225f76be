/**
 * A stand-in for Resend's HTTP API on 127.0.0.1, enough for `POST /emails`: Bearer auth, JSON
 * bodies, `Idempotency-Key` (same key and body → same id and no second email; same key, other
 * body → 409 `invalid_idempotent_request`), and scripted failures for the next requests.
 * Anything else answers 404 loudly so a test notices calls it did not expect.
 */
import { createHash, randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Context, Effect, Layer } from "effect"

export const TEST_API_KEY = "re_test_123"

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
  readonly idempotencyKey: string | undefined
  readonly body: unknown
  /** The status this stand-in answered with. */
  readonly status: number
}

export interface SentEmail {
  readonly id: string
  readonly idempotencyKey: string | undefined
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly subject: string
  readonly html: string
  readonly text: string
}

/** What the next `POST /emails` gets instead of being processed. */
export type ScriptedResponse =
  | { readonly _tag: "Error"; readonly status: number; readonly name: string; readonly message?: string }
  /** Closes the connection without answering: a network failure. */
  | { readonly _tag: "Drop" }
  /** Never answers: the client's own timeout must give up. */
  | { readonly _tag: "Hang" }
  /** Answers with a non-JSON body, as a proxy in front of Resend might. */
  | { readonly _tag: "Html"; readonly status: number }

export interface ResendServerShape {
  readonly baseUrl: string
  readonly apiKey: string
  /** Every request received, in order. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** The emails accepted (one per idempotency key). */
  readonly sent: Effect.Effect<ReadonlyArray<SentEmail>>
  /** Queues responses for the next `POST /emails` requests, first in first out. */
  readonly script: (...responses: ReadonlyArray<ScriptedResponse>) => Effect.Effect<void>
  /** Forgets requests, emails, keys and scripts: call at the start of each test. */
  readonly reset: Effect.Effect<void>
}

export class ResendServer extends Context.Tag("test/ResendServer")<ResendServer, ResendServerShape>() {
  static readonly layer = Layer.scoped(
    ResendServer,
    Effect.suspend(() => start())
  )
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

const resendError = (res: ServerResponse, status: number, name: string, message: string) =>
  json(res, status, { statusCode: status, name, message })

const start = () => {
  let requests: Array<RecordedRequest> = []
  let sent: Array<SentEmail> = []
  let keys = new Map<string, { readonly bodyHash: string; readonly id: string }>()
  let scripted: Array<ScriptedResponse> = []

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req)
    const headerKey = req.headers["idempotency-key"]
    const idempotencyKey = Array.isArray(headerKey) ? headerKey[0] : headerKey
    let body: unknown = raw
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined
    } catch {
      // Recorded as text; answered below as a validation error.
    }
    const record = (status: number) =>
      requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        authorization: req.headers.authorization,
        idempotencyKey,
        body,
        status
      })

    if (req.method !== "POST" || req.url !== "/emails") {
      record(404)
      return resendError(res, 404, "not_found", `the stand-in does not implement ${req.method} ${req.url}`)
    }
    if (req.headers.authorization === undefined) {
      record(401)
      return resendError(res, 401, "missing_api_key", "Missing API key in the authorization header.")
    }
    if (req.headers.authorization !== `Bearer ${TEST_API_KEY}`) {
      record(403)
      return resendError(res, 403, "invalid_api_key", "API key is invalid.")
    }
    const next = scripted.shift()
    if (next !== undefined) {
      switch (next._tag) {
        case "Drop":
          record(0)
          req.socket.destroy()
          return
        case "Hang":
          record(0)
          return
        case "Html":
          record(next.status)
          res.writeHead(next.status, { "content-type": "text/html" })
          return res.end("<html><body>Bad gateway</body></html>")
        case "Error":
          record(next.status)
          return resendError(res, next.status, next.name, next.message ?? `scripted ${next.name}`)
      }
    }
    const email = body as Partial<Record<"from" | "subject" | "html" | "text", unknown>> & { to?: unknown }
    const to = Array.isArray(email?.to) ? email.to : typeof email?.to === "string" ? [email.to] : []
    if (typeof email?.from !== "string" || typeof email.subject !== "string" || to.length === 0) {
      record(422)
      return resendError(res, 422, "validation_error", "from, to and subject are required")
    }
    const bodyHash = createHash("sha256").update(raw).digest("hex")
    if (idempotencyKey !== undefined) {
      const seen = keys.get(idempotencyKey)
      if (seen !== undefined) {
        if (seen.bodyHash !== bodyHash) {
          record(409)
          return resendError(
            res,
            409,
            "invalid_idempotent_request",
            "This idempotency key has already been used on a request that had a different payload."
          )
        }
        record(200)
        return json(res, 200, { id: seen.id })
      }
    }
    const id = randomUUID()
    if (idempotencyKey !== undefined) keys.set(idempotencyKey, { bodyHash, id })
    sent.push({
      id,
      idempotencyKey,
      from: email.from,
      to: to.map(String),
      subject: email.subject,
      html: String(email.html ?? ""),
      text: String(email.text ?? "")
    })
    record(200)
    return json(res, 200, { id })
  }

  return Effect.gen(function* () {
    const server = createServer((req, res) => {
      handle(req, res).catch((error: unknown) => {
        res.writeHead(500)
        res.end(String(error))
      })
    })
    const address = yield* Effect.acquireRelease(
      Effect.async<AddressInfo>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server.address() as AddressInfo)))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    return ResendServer.of({
      baseUrl: `http://127.0.0.1:${address.port}`,
      apiKey: TEST_API_KEY,
      requests: Effect.sync(() => [...requests]),
      sent: Effect.sync(() => [...sent]),
      script: (...responses) =>
        Effect.sync(() => {
          scripted.push(...responses)
        }),
      reset: Effect.sync(() => {
        requests = []
        sent = []
        keys = new Map()
        scripted = []
      })
    })
  })
}
