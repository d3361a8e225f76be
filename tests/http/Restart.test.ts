/**
 * Black-box restarts on the same data: work the first server left is finished by the next one,
 * and a pod is never left held by a session that will not run.
 */
import { describe, expect, it } from "@effect/vitest"
import { book, eventually } from "./support/Client.js"
import { dataDir, quickWorker, serve } from "./support/Service.js"

describe("restarting the service on the same data", () => {
  it("finishes provisioning left by the previous server", { timeout: 120_000 }, async () => {
    const env = { QWIP_DATA_DIR: dataDir() }
    const first = await serve(env, { config: quickWorker(false) })
    const { sessionToken } = await book(first.api, "demo-pod")
    expect((await first.api.get("/api/provisioning-status", { token: sessionToken })).body.status).toBe("pending")
    await first.stop()

    const second = await serve(env)
    const ready = await eventually(
      () => second.api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status !== "pending",
      { timeoutMs: 30_000 }
    )
    expect(ready.body.status).toBe("ready")
    expect(ready.body.access_code_text).toMatch(/^\d{5}$/)
    // Tokens minted before the restart keep working (keys are kept under QWIP_DATA_DIR).
    expect((await second.api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
    expect((await second.api.get("/api/pod?pod_id=demo-pod")).body.in_use).toBe(false)
  })
})
