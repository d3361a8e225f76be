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
 * Closing, Node's `server.close()` also destroys every keep-alive connection with no request in
 * progress, including one whose next request is already on its way: the client sees a reset,
 * not an answer. Here closing stops accepting connections at once, keeps the open ones for a
 * short drain (`closeDrain`) so whatever was already sent is read and answered (503 with
 * `Connection: close` once the app is detached), ends each connection after its answer, and
 * only then closes the ones still idle.
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
import { Server as NetServer } from "node:net"
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
  /** How long, when closing, open connections are kept to read and answer what was sent. Default 1 s. */
  readonly closeDrain?: Duration.DurationInput | undefined
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

/** How often the drain looks whether any connection is still open. */
const DRAIN_POLL_MS = 50

/**
 * Replaces `server.close` with a drain. Connections still being accepted (a request sent just
 * before the signal can sit in the accept queue) and busy ones (new, or with a request not yet
 * answered) are served, each answer then closing its connection; once none has been busy for
 * two polls, or after `drainMs`, the server stops accepting and closes the idle keep-alive
 * connections left (Node's own `close` destroys those at once, even one whose next request
 * is already on its way, so its client sees a reset instead of an answer).
 */
const closeGracefully = (
  server: Server,
  drainMs: number
): { readonly onRequest: (request: IncomingMessage, response: ServerResponse) => void } => {
  let closing = false
  const busy = new Set<Duplex>()
  server.on("connection", (socket: Duplex) => {
    busy.add(socket)
    socket.once("close", () => busy.delete(socket))
  })

  const stopAccepting = NetServer.prototype.close
  server.close = (callback?: (error?: Error) => void) => {
    closing = true
    const deadline = Date.now() + drainMs
    let quiet = 0
    const poll = () => {
      quiet = busy.size === 0 ? quiet + 1 : 0
      if (quiet < 2 && Date.now() < deadline) return void setTimeout(poll, DRAIN_POLL_MS)
      stopAccepting.call(server, callback)
      server.closeIdleConnections()
    }
    poll()
    return server
  }
  return {
    onRequest: (request, response) => {
      busy.add(request.socket)
      response.once("finish", () => busy.delete(request.socket))
      // While closing, each answer ends its connection: the client reconnects to a live instance.
      if (closing) response.setHeader("connection", "close")
    }
  }
}

/** A `node:http` server that holds requests until the app is attached and refuses them after. */
export const createNodeServer = (
  startupWait: Duration.DurationInput = "10 seconds",
  closeDrain: Duration.DurationInput = "1 second"
): Server => {
  const server = createServer()
  server.on("clientError", answerParserError)
  const lifecycle = closeGracefully(server, Duration.toMillis(closeDrain))
  const waitMs = Duration.toMillis(startupWait)
  let attached = false
  const waiting = new Set<{ request: IncomingMessage; response: ServerResponse; timer: NodeJS.Timeout }>()

  // The first listener: it acts only when no app is attached beside it.
  server.on("request", (request, response) => {
    lifecycle.onRequest(request, response)
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
  NodeHttpServer.layer(() => createNodeServer(options.startupWait, options.closeDrain), {
    port: options.port,
    host: options.host
  })
