/**
 * The service's Node server answers every request it accepts: one that arrives after the port
 * opens but before the app is attached waits for the app (or gets 503 when start-up takes
 * too long); one that arrives after the app is detached at shutdown gets 503.
 */
import { Agent, request as httpRequest, type Server } from "node:http"
import { HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { NodeServer } from "@qwip/http"
import { Context, Effect, Exit, Layer, Scope } from "effect"

/** Listens on a free port with no app attached yet; `attach` serves `app` until `detach`. */
const listen = async (server: Server) => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(
      Layer.scoped(
        HttpServer.HttpServer,
        NodeHttpServer.make(() => server, { port: 0, host: "127.0.0.1" })
      ),
      scope
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  const appScope = Effect.runSync(Scope.make())
  return {
    url: `http://127.0.0.1:${address.port}`,
    attach: () =>
      Effect.runPromise(
        HttpServer.serveEffect(HttpServerResponse.text("served")).pipe(Effect.provide(context), Scope.extend(appScope))
      ),
    detach: () => Effect.runPromise(Scope.close(appScope, Exit.void)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const held = (server: Server) => new Promise<void>((resolve) => server.once(NodeServer.HELD, () => resolve()))

describe("the service's Node server", () => {
  it("holds a request that arrives before the app is attached, and the app answers it", async () => {
    const server = NodeServer.createNodeServer("30 seconds")
    const service = await listen(server)
    const received = held(server)
    const early = fetch(`${service.url}/early`, { headers: { "x-request-id": "early-1" } })
    await received
    await service.attach()
    const answer = await early
    expect(answer.status).toBe(200)
    expect(await answer.text()).toBe("served")
    await service.detach()
    await service.close()
  })

  it("answers 503 when start-up outlasts the wait, naming the request", async () => {
    const server = NodeServer.createNodeServer("50 millis")
    const service = await listen(server)
    const answer = await fetch(`${service.url}/early`, { headers: { "x-request-id": "early-2" } })
    expect(answer.status).toBe(503)
    expect(answer.headers.get("retry-after")).toBe("1")
    expect(await answer.json()).toEqual({
      detail: "The service is starting; try again shortly",
      error: "service_unavailable",
      request_id: "early-2"
    })
    await service.close()
  })

  it("answers 503 with Connection: close once the app is detached at shutdown", async () => {
    const server = NodeServer.createNodeServer()
    const service = await listen(server)
    await service.attach()
    expect((await fetch(`${service.url}/x`)).status).toBe(200)
    await service.detach()
    const late = await fetch(`${service.url}/late`)
    expect(late.status).toBe(503)
    expect(late.headers.get("connection")).toBe("close")
    expect(await late.json()).toMatchObject({
      error: "service_unavailable",
      detail: "The service is shutting down; try again shortly"
    })
    await service.close()
  })

  it("closing answers a request already sent on an idle keep-alive connection, instead of resetting it", async () => {
    const server = NodeServer.createNodeServer()
    const service = await listen(server)
    await service.attach()
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const get = (path: string) =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const request = httpRequest(`${service.url}${path}`, { agent }, (response) => {
          response.resume()
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, connection: response.headers.connection })
          )
        })
        request.on("error", reject)
        request.end()
      })
    expect((await get("/first")).status).toBe(200)
    // The connection is now idle. Shutdown starts, and the next request is already on its way on it.
    await service.detach()
    const closing = service.close()
    const next = await get("/next")
    expect(next).toEqual({ status: 503, connection: "close" })
    await closing
    agent.destroy()
  })
})
