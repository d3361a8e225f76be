/**
 * The whole customer journey through the real HTTP server (127.0.0.1, random port, `fetch`) on
 * in-memory adapters, once per Stripe test card the sandbox honours.
 */
import { describe, expect, it } from "@effect/vitest"
import { book, eventually, sessionIdOf } from "./support/Client.js"
import { boot } from "./support/Harness.js"

const cards = [
  { card: "4242424242424242", charge: "succeeded" },
  { card: "4000000000000341", charge: "requires_payment_method" },
  { card: "4000002500003155", charge: "requires_action" }
] as const

describe("lifecycle over HTTP", () => {
  for (const { card, charge } of cards) {
    it(`books, provisions, previews, ends once and frees the pod (card ${card})`, async () => {
      const { platform, api } = await boot()
      const before = await api.get("/api/pod?pod_id=pod-1")
      expect(before.status).toBe(200)
      expect(before.body).toEqual({
        name: "Pod pod-1",
        address: "1 Test Street, London",
        price_per_minute: 60,
        in_use: false
      })

      const { sessionToken } = await book(api, "pod-1", card)
      const sessionId = sessionIdOf(sessionToken)
      expect((await api.get("/api/pod?pod_id=pod-1")).body.in_use).toBe(true)

      const ready = await eventually(
        () => api.get("/api/provisioning-status", { token: sessionToken }),
        (a) => a.body.status !== "pending"
      )
      expect(ready.status).toBe(200)
      expect(ready.body).toEqual({ status: "ready", access_code: 4726, access_code_text: "04726" })

      const data = await api.get("/api/get-session-data", { token: sessionToken })
      expect(data.status).toBe(200)
      expect(data.body.session_data.access_code_text).toBe("04726")
      expect(data.body.session_data.access_code).toBe(4726)
      expect(data.body.session_data.end_dt).toBeNull()
      expect(new Date(data.body.session_data.start_dt).getTime()).toBeGreaterThan(0)
      expect(data.body.pod_data).toEqual({ name: "Pod pod-1", address: "1 Test Street, London", price_per_minute: 60 })

      // Five minutes pass on the service's clock: at £60 a minute, at least £300.
      platform.clock.advance("5 minutes")
      const preview = await api.get("/api/end-session-preview", { token: sessionToken })
      expect(preview.status).toBe(200)
      expect(preview.body.is_complete).toBe(false)
      expect(preview.body.pod_name).toBe("Pod pod-1")
      expect(preview.body.cost).toBeGreaterThanOrEqual(300)
      const byQuery = await api.get(`/api/end-session-preview?session_id=${sessionId}`)
      expect(byQuery.status).toBe(200)
      expect(byQuery.body.is_complete).toBe(false)

      const end = await api.post("/api/end-session", { token: sessionToken })
      expect(end.status).toBe(200)
      expect(end.body).toEqual({ status: "success" })

      const again = await api.post("/api/end-session", { token: sessionToken })
      expect(again.status).toBe(409)
      expect(again.body.error).toBe("session_already_ended")

      const payments = (await api.get("/sandbox/payments")).body.payments.filter(
        (p: { object: string; session_id: string | null }) =>
          p.object === "payment_intent" && p.session_id === sessionId
      )
      expect(payments).toHaveLength(1)
      expect(payments[0].status).toBe(charge)

      const after = await api.get("/api/get-session-data", { token: sessionToken })
      expect(after.status).toBe(200)
      expect(after.body.session_data.end_dt).not.toBeNull()
      expect(after.body.session_data.access_code).toBeNull()
      expect(after.body.session_data.access_code_text).toBeNull()

      const finalPreview = await api.get("/api/end-session-preview", { token: sessionToken })
      expect(finalPreview.body.is_complete).toBe(true)
      expect(finalPreview.body.end_time).toBe(after.body.session_data.end_dt)
      expect(finalPreview.body.cost).toBe(payments[0].amount_pence / 100)
      expect((await api.get("/api/is-session-complete", { token: sessionToken })).body).toEqual({ is_complete: true })
      expect((await api.get(`/api/is-session-complete?session_id=${sessionId}`)).body).toEqual({ is_complete: true })
      expect((await api.get("/api/pod?pod_id=pod-1")).body.in_use).toBe(false)
    })
  }

  it("refuses a card declined at confirmation, and finalize says the card is not set up", async () => {
    const { api } = await boot()
    const setup = await api.post("/api/setup-intent", { body: { pod_id: "pod-1" } })
    const id = String(setup.body.client_secret).split("_secret_")[0]
    const confirm = await api.post(`/sandbox/setup-intents/${id}/confirm`, {
      body: { card_number: "4000000000000002", email: "ada@example.com" }
    })
    expect(confirm.status).toBe(402)
    expect(confirm.body.error).toBe("card_declined")
    const finalize = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
    expect(finalize.status).toBe(409)
    expect(finalize.body.error).toBe("card_not_set_up")
    expect((await api.get("/api/pod?pod_id=pod-1")).body.in_use).toBe(false)
  })

  it("finalize twice with the same token gives the same session", async () => {
    const { api } = await boot()
    const { provisioningToken, sessionToken } = await book(api, "pod-2")
    const again = await api.post("/api/booking/finalize", { token: provisioningToken })
    expect(again.status).toBe(200)
    expect(sessionIdOf(again.body.session_jwt_token)).toBe(sessionIdOf(sessionToken))
  })
})
