/**
 * Black-box: a pod whose previous door code is still on its lock is not bookable. The real
 * service on the embedded platform with Seam's fake as its lock provider (`SEAM_ENDPOINT`):
 * the fake's code-deletion route is down when the customer ends, so the code stays on the lock
 * and the pod answers `in_use: true` and refuses a booking, until Seam recovers and the
 * service's worker removes the code.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { book, eventually } from "@qwip/test-support/Client"
import { SeamFake } from "@qwip/test-support/SeamFake"
import { dataDir, serve } from "@qwip/test-support/Service"
import { ManagedRuntime, Redacted } from "effect"

const POD = "demo-pod"

const seam = ManagedRuntime.make(SeamFake.layer)
afterAll(() => seam.dispose())

describe("[pglite] a pod with a door code still on its lock", () => {
  it("answers in_use: true and refuses a booking with 409 pod_in_use until the code is removed", {
    timeout: 120_000
  }, async () => {
    const fake = await seam.runPromise(SeamFake)
    const deviceId = await seam.runPromise(fake.addLock())
    const { api, query } = await serve({
      QWIP_DATA_DIR: dataDir(),
      SEAM_API_KEY: Redacted.value(fake.apiKey),
      SEAM_ENDPOINT: fake.endpoint
    })
    await query(`update pods set access_mode = 'lock-provider', lock_device_id = '${deviceId}' where id = '${POD}'`)

    const { sessionToken } = await book(api, POD)
    // The lock confirms the code the service made.
    const code = await eventually(
      () => seam.runPromise(fake.codesOn(deviceId)),
      (codes) => codes.length === 1
    )
    await seam.runPromise(fake.setCodeState(code[0]?.ref ?? "", { status: "set" }))
    const ready = await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (r) => r.body.status !== "pending",
      { timeoutMs: 30_000 }
    )
    expect(ready.body.status).toBe("ready")

    // Seam cannot delete codes when the customer ends.
    await seam.runPromise(fake.outage(["/access_codes/delete"]))
    expect((await api.post("/api/end-session", { token: sessionToken })).body).toEqual({ status: "success" })
    expect((await api.get("/api/is-session-complete", { token: sessionToken })).body).toEqual({ is_complete: true })
    // Give the worker time to try (and fail) the removal.
    await eventually(
      () => query<{ attempts: number }>("select attempts from background_work where kind = 'revoke-access'"),
      (rows) => (rows[0]?.attempts ?? 0) >= 1
    )
    expect(await seam.runPromise(fake.codesOn(deviceId))).toHaveLength(1)
    expect((await api.get(`/api/pod?pod_id=${POD}`)).body.in_use).toBe(true)
    const refused = await api.post("/api/setup-intent", { body: { pod_id: POD } })
    expect(refused.status).toBe(409)
    expect(refused.body.error).toBe("pod_in_use")

    // Seam recovers: the worker's next try removes the code and the pod is bookable again.
    await seam.runPromise(fake.recover)
    await eventually(
      () => api.get(`/api/pod?pod_id=${POD}`),
      (r) => r.body.in_use === false,
      { timeoutMs: 60_000, intervalMs: 250 }
    )
    expect(await seam.runPromise(fake.codesOn(deviceId))).toEqual([])
  })
})
