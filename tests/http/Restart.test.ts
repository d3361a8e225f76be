/**
 * Background work lives in the store: a server stopped before or in the middle of provisioning
 * leaves its work (and gives its leases back), and the next server on the same data finishes
 * it; tokens minted before the restart keep working. A pod never stays held. The restart
 * journey runs in memory and on PGlite; what needs the in-memory lock's controls, in memory.
 */
import { describe, expect, it } from "@effect/vitest"
import { book, eventually } from "@qwip/test-support/Client"
import { boot, memoryPlatform, pglitePlatform } from "@qwip/test-support/Service"
import { makeTestPlatform } from "@qwip/test-support/TestPlatform"

// A restart keeps what the platform keeps outside the server: the memory platform, or QWIP_DATA_DIR.
describe.each([memoryPlatform, pglitePlatform])(
  "[$name] restarting the service on the same data",
  ({ pod, code, deploy }) => {
    it("work queued before a stop is done by the next server", { timeout: 60_000 }, async () => {
      const deployment = deploy()
      const first = await deployment.start({ worker: false })
      const { sessionToken } = await book(first.api, pod.id)
      expect((await first.api.get("/api/provisioning-status", { token: sessionToken })).body.status).toBe("pending")
      await first.stop()

      const second = await deployment.start()
      const ready = await eventually(
        () => second.api.get("/api/provisioning-status", { token: sessionToken }),
        (a) => a.body.status !== "pending",
        { timeoutMs: 30_000 }
      )
      expect(ready.body.status).toBe("ready")
      expect(ready.body.access_code_text).toMatch(code)
      expect(ready.body.access_code).toBe(Number.parseInt(ready.body.access_code_text, 10))
      // Tokens minted before the restart keep working (an embedded store keeps its keys in QWIP_DATA_DIR).
      expect((await second.api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
      expect((await second.api.get(`/api/pod?pod_id=${pod.id}`)).body.in_use).toBe(false)
    })
  }
)

describe("[memory] restarts", () => {
  it("a stop in the middle of provisioning releases the lease; the next server finishes it at once", async () => {
    const platform = makeTestPlatform()
    platform.lock.setActivation("never")
    const first = await boot({ platform })
    const { sessionToken } = await book(first.api, "pod-lock")
    // The worker has claimed the provisioning and waits for the lock to confirm the code.
    await eventually(
      async () => platform.store.work().find((w) => w.item.kind === "provision-access"),
      (w) => w !== undefined && w.item.attempts >= 1 && w.status === "pending"
    )
    await first.stop()
    const work = platform.store.work().find((w) => w.item.kind === "provision-access")
    expect(work?.status).toBe("pending")
    expect(work?.item.leasedBy).toBe("")

    platform.lock.setActivation(1)
    const second = await boot({ platform })
    const ready = await eventually(
      () => second.api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status !== "pending",
      { timeoutMs: 15_000 }
    )
    expect(ready.body.status).toBe("ready")
    expect(ready.body.access_code_text).toMatch(/^\d{4}$/)
    // One code on the lock: the retried provisioning found the first one instead of adding another.
    expect(platform.lock.codesOn("device-1")).toHaveLength(1)
  })

  it("provisioning that cannot succeed fails per policy and frees the pod", async () => {
    const platform = makeTestPlatform()
    platform.lock.rejectDevice("device-1")
    const { api } = await boot({ platform })
    const { sessionToken } = await book(api, "pod-lock")
    const failed = await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status !== "pending",
      { timeoutMs: 15_000 }
    )
    expect(failed.body).toEqual({ status: "failed", access_code: null, access_code_text: null })
    expect((await api.get("/api/pod?pod_id=pod-lock")).body.in_use).toBe(false)
    expect((await api.get("/api/is-session-complete", { token: sessionToken })).body.is_complete).toBe(true)
    const ended = await api.post("/api/end-session", { token: sessionToken })
    expect(ended.status).toBe(409)
    expect(ended.body.error).toBe("session_already_ended")
  })
})

describe("graceful shutdown", () => {
  it("finishes a request in flight, then stops taking new ones", async () => {
    const { api, running, stop } = await boot()
    const { sessionToken } = await book(api, "pod-1")
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "ready"
    )
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4])
    const boundary = "----qwip-test"
    const head = new TextEncoder().encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`
    )
    const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`)
    let finish: () => void = () => {}
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(head)
        controller.enqueue(jpeg)
        await new Promise<void>((resolve) => {
          finish = resolve
        })
        controller.enqueue(tail)
        controller.close()
      }
    })
    const inFlight = fetch(`${running.url}/api/session/upload-checkout-photo`, {
      method: "POST",
      headers: { authorization: `Bearer ${sessionToken}`, "content-type": `multipart/form-data; boundary=${boundary}` },
      body,
      duplex: "half"
    } as RequestInit)
    await new Promise((r) => setTimeout(r, 200))
    const stopping = stop()
    await new Promise((r) => setTimeout(r, 100))
    finish()
    const response = await inFlight
    expect(response.status).toBe(200)
    await stopping
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow()
  })
})
