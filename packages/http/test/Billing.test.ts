/**
 * The billing rule over HTTP: a session is billed from when its door code was ready, and one
 * ended while still provisioning is not charged. The JSON shapes are the contract's; only the
 * values follow the rule.
 */
import { describe, expect, it } from "@effect/vitest"
import { defaultHttpConfig } from "@qwip/http"
import { book, type Client, eventually, sessionIdOf } from "@qwip/test-support/Client"
import { boot } from "@qwip/test-support/Service"
import { makeTestPlatform } from "@qwip/test-support/TestPlatform"

// An instance without a worker: the provisioning it queued waits, as when the instance that
// held it died and its lease has not run out.
const noWorker = { worker: { ...defaultHttpConfig.worker, enabled: false } }

const paymentIntentsOf = async (api: Client, sessionId: string) =>
  (await api.get("/sandbox/payments")).body.payments.filter(
    (p: { object: string; session_id: string | null }) => p.object === "payment_intent" && p.session_id === sessionId
  )

describe("billing over HTTP", () => {
  it("a session ended while still provisioning: success, no charge, preview cost 0", async () => {
    const { platform, api } = await boot({ config: noWorker })
    const { sessionToken } = await book(api, "pod-1") // £60 a minute: any billed time would show
    const sessionId = sessionIdOf(sessionToken)
    expect((await api.get("/api/provisioning-status", { token: sessionToken })).body.status).toBe("pending")

    platform.clock.advance("10 minutes")
    const preview = await api.get("/api/end-session-preview", { token: sessionToken })
    expect(preview.status).toBe(200)
    expect(preview.body).toMatchObject({ is_complete: false, cost: 0 })

    const end = await api.post("/api/end-session", { token: sessionToken })
    expect(end.status).toBe(200)
    expect(end.body).toEqual({ status: "success" })

    expect(await paymentIntentsOf(api, sessionId)).toEqual([])
    const final = await api.get("/api/end-session-preview", { token: sessionToken })
    expect(final.body).toMatchObject({ is_complete: true, cost: 0 })
    const data = await api.get("/api/get-session-data", { token: sessionToken })
    expect(data.body.session_data.end_dt).toBe(final.body.end_time)
    expect(data.body.session_data.access_code).toBeNull()
    // No code ever came: the status says so, not "ready" with no code.
    expect((await api.get("/api/provisioning-status", { token: sessionToken })).body).toEqual({
      status: "failed",
      access_code: null,
      access_code_text: null
    })
    expect((await api.get("/api/pod?pod_id=pod-1")).body.in_use).toBe(false)

    const stored = platform.store.sessions().find((s) => s.id === sessionId)
    expect(stored?.state._tag === "Ended" && stored.state.outcome).toMatchObject({
      _tag: "NotBilled",
      reason: "no_door_code"
    })
  })

  it("a door code ready 70 s after booking: billed from then, the preview and the charge agree", async () => {
    const platform = makeTestPlatform()
    const first = await boot({ platform, config: noWorker })
    const { sessionToken } = await book(first.api, "pod-2") // £0.50 a minute
    const sessionId = sessionIdOf(sessionToken)
    platform.clock.advance("70 seconds")
    await first.stop()

    // Another instance picks the provisioning up: the code is ready 70 s after the booking.
    const { api } = await boot({ platform })
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "ready"
    )
    platform.clock.advance("530 seconds") // 10 minutes after the booking

    const preview = await api.get("/api/end-session-preview", { token: sessionToken })
    // 530 s is £4.42; billing from the booking would have been £5.00 for these ten minutes.
    expect(preview.body.cost).toBeGreaterThanOrEqual(4.42)
    expect(preview.body.cost).toBeLessThan(5)
    expect((await api.post("/api/end-session", { token: sessionToken })).body).toEqual({ status: "success" })

    const [charge, ...others] = await paymentIntentsOf(api, sessionId)
    expect(others).toEqual([])
    const final = await api.get("/api/end-session-preview", { token: sessionToken })
    expect(final.body.is_complete).toBe(true)
    expect(final.body.cost).toBe(charge.amount_pence / 100)
    expect(final.body.cost).toBeLessThan(5)

    const stored = platform.store.sessions().find((s) => s.id === sessionId)
    const state = stored?.state
    if (stored === undefined || state?._tag !== "Ended" || state.billedFrom._tag !== "CodeReady") {
      throw new Error(`expected an end billed from the code's readiness, got ${JSON.stringify(state)}`)
    }
    expect(state.billedFrom.at.getTime() - stored.startedAt.getTime()).toBeGreaterThanOrEqual(70_000)
    expect(state.quote.billableSeconds).toBe(
      Math.floor((state.endedAt.getTime() - state.billedFrom.at.getTime()) / 1000)
    )
    expect(state.quote.chargePence).toBe(charge.amount_pence)
  })

  it("a session whose provisioning failed reads the same recorded end everywhere, on every call", async () => {
    const platform = makeTestPlatform()
    platform.lock.rejectDevice("device-1")
    const { api } = await boot({ platform })
    const { sessionToken } = await book(api, "pod-lock")
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "failed",
      { timeoutMs: 15_000 }
    )
    const first = await api.get("/api/end-session-preview", { token: sessionToken })
    platform.clock.advance("7 minutes")
    const again = await api.get("/api/end-session-preview", { token: sessionToken })
    expect(first.body).toMatchObject({ is_complete: true, cost: 0 })
    expect(again.body.end_time).toBe(first.body.end_time)
    const data = await api.get("/api/get-session-data", { token: sessionToken })
    expect(data.body.session_data.end_dt).toBe(first.body.end_time)
    const ended = await api.post("/api/end-session", { token: sessionToken })
    expect(ended.body.error).toBe("session_already_ended")
  })
})
