/**
 * Node's HTTP server for the service, losing no request at the edges of its life.
 *
 * `@effect/platform-node` listens as soon as the server's layer is built but attaches the app
 * only once the app's own layers are built, and detaches it at shutdown before the port
 * closes. A request that arrives in either gap has no listener: it would never be answered,
 * and the client would hang (a load balancer probing a starting service, a frontend retrying
 * during a deploy). Here a request that arrives before the app is attached waits for it (at
 * most `startupWait`, then 503), and one that arrives after the app is detached gets 503 with
 * `Connection: close`, in the service's problem shape.
 *
 * What Node's HTTP parser refuses never becomes a request (headers or URL over Node's 16 KB
 * limit, malformed HTTP, a request too slow to arrive); Node would answer it with a bare status
 * line. Here it gets the problem body too, written to the socket, which then closes.
 */
import { randomUUID } from "node:crypto"
import {
  createServer,
  type IncomingMessage,
  maxHeaderSize,
  type Server,
  type ServerResponse,
  STATUS_CODES
} from "node:http"
import type { Duplex } from "node:stream"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration } from "effect"
import { requestIdFrom } from "./Middleware.js"
import { problem, problemBody } from "./Problem.js"

export interface NodeServerOptions {
  readonly port: number
  readonly host: string
  /** How long a request that arrives while the service is starting waits for it. Default 10 s. */
  readonly startupWait?: Duration.DurationInput | undefined
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void

const unavailable = (request: IncomingMessage, response: ServerResponse, detail: string) => {
  if (response.headersSent || response.writableEnded) return
  const requestId = requestIdFrom(request.headers["x-request-id"])
  const p = problem(503, "service_unavailable", detail, { "retry-after": "1" })
  response.writeHead(p.status, {
    ...p.headers,
    "content-type": "application/json",
    "x-request-id": requestId,
    connection: "close"
  })
  response.end(JSON.stringify(problemBody(p, requestId)))
}

/** The problem answering an error of Node's HTTP parser (its codes, as Node maps them to a status). */
const parserProblem = (code: string | undefined) => {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return problem(
        431,
        "headers_too_large",
        `The request line and headers are larger than ${Math.round(maxHeaderSize / 1024)} KB; send less in the URL or headers`
      )
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return problem(413, "body_too_large", "The request body's chunk extensions are too large")
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return problem(408, "request_timeout", "The request did not arrive in time")
    default:
      return problem(400, "bad_request", "The request is not valid HTTP")
  }
}

const answerParserError = (error: NodeJS.ErrnoException, socket: Duplex) => {
  // As Node does: answer only when no response has started on this connection (a keep-alive
  // response under way is never corrupted), then close it.
  const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage
  if (error.code !== "ECONNRESET" && socket.writable && inFlight?.headersSent !== true) {
    const p = parserProblem(error.code)
    const requestId = randomUUID()
    const body = JSON.stringify(problemBody(p, requestId))
    const head = [
      `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status] ?? ""}`,
      "content-type: application/json",
      `content-length: ${Buffer.byteLength(body)}`,
      `x-request-id: ${requestId}`,
      "connection: close"
    ]
    socket.write(`${head.join("\r\n")}\r\n\r\n${body}`)
  }
  socket.destroy()
}

/** Emitted by the server with each request it holds while the service starts. */
export const HELD = "qwip:request-held"

/** A `node:http` server that holds requests until the app is attached and refuses them after. */
export const createNodeServer = (startupWait: Duration.DurationInput = "10 seconds"): Server => {
  const server = createServer()
  server.on("clientError", answerParserError)
  const waitMs = Duration.toMillis(startupWait)
  let attached = false
  const waiting = new Set<{ request: IncomingMessage; response: ServerResponse; timer: NodeJS.Timeout }>()

  // The first listener: it acts only when no app is attached beside it.
  server.on("request", (request, response) => {
    if (server.listenerCount("request") > 1) return
    if (attached) return unavailable(request, response, "The service is shutting down; try again shortly")
    const held = {
      request,
      response,
      timer: setTimeout(() => {
        waiting.delete(held)
        unavailable(request, response, "The service is starting; try again shortly")
      }, waitMs)
    }
    waiting.add(held)
    server.emit(HELD, request)
  })

  // `newListener` fires before the app's listener is added: hand it the held requests next tick.
  server.on("newListener", (event, listener) => {
    if (event !== "request") return
    attached = true
    const held = [...waiting]
    waiting.clear()
    for (const h of held) clearTimeout(h.timer)
    setImmediate(() => {
      for (const h of held) (listener as RequestListener)(h.request, h.response)
    })
  })
  return server
}

/** `HttpServer` on `createNodeServer`, listening on `options.host`:`options.port`. */
export const layer = (options: NodeServerOptions) =>
  NodeHttpServer.layer(() => createNodeServer(options.startupWait), { port: options.port, host: options.host })
