/**
 * The whole customer journey through the real HTTP server, once per Stripe test card the
 * sandbox honours, on every platform (in memory, PGlite, and Postgres when
 * `QWIP_TEST_DATABASE_URL` is set). The cards' sessions run one after another on one
 * service per platform: each ends its session and frees the pod before the next books it.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { book, type Client, eventually, sessionIdOf } from "@qwip/test-support/Client"
import { type Deployment, journeyPlatforms } from "@qwip/test-support/Service"

const cards = [
  { card: "4242424242424242", charge: "succeeded" },
  { card: "4000000000000341", charge: "requires_payment_method" },
  { card: "4000002500003155", charge: "requires_action" }
] as const

describe.each(journeyPlatforms)("[$name] lifecycle over HTTP", { timeout: 60_000 }, ({ pod, pods, code, deploy }) => {
  let deployment: Deployment
  let api: Client
  beforeAll(async () => {
    deployment = deploy()
    ;({ api } = await deployment.start({ forFile: true }))
  })

  it("is ready and lists its pods", async () => {
    expect((await api.get("/readyz")).status).toBe(200)
    const listed = (await api.get("/api/pods")).body.pods
    expect(listed).toHaveLength(pods)
    expect(listed.find((p: { id: string }) => p.id === pod.id)).toEqual({ ...pod, in_use: false })
  })

  for (const { card, charge } of cards) {
    it(`books, provisions, previews, ends once and frees the pod (card ${card})`, async () => {
      const before = await api.get(`/api/pod?pod_id=${pod.id}`)
      expect(before.status).toBe(200)
      const { id: _, ...shown } = pod
      expect(before.body).toEqual({ ...shown, in_use: false })

      const { provisioningToken, sessionToken } = await book(api, pod.id, card)
      const sessionId = sessionIdOf(sessionToken)
      expect((await api.get(`/api/pod?pod_id=${pod.id}`)).body.in_use).toBe(true)
      // Finalize again with the same token: the same session, not a second one.
      const again = await api.post("/api/booking/finalize", { token: provisioningToken })
      expect(again.status).toBe(200)
      expect(sessionIdOf(again.body.session_jwt_token)).toBe(sessionId)

      const ready = await eventually(
        () => api.get("/api/provisioning-status", { token: sessionToken }),
        (a) => a.body.status !== "pending",
        { timeoutMs: 30_000 }
      )
      expect(ready.status).toBe(200)
      expect(ready.body.access_code_text).toMatch(code)
      expect(ready.body).toEqual({
        status: "ready",
        access_code: Number.parseInt(ready.body.access_code_text, 10),
        access_code_text: ready.body.access_code_text
      })

      const data = await api.get("/api/get-session-data", { token: sessionToken })
      expect(data.status).toBe(200)
      expect(data.body.session_data.access_code_text).toBe(ready.body.access_code_text)
      expect(data.body.session_data.access_code).toBe(ready.body.access_code)
      expect(data.body.session_data.end_dt).toBeNull()
      expect(new Date(data.body.session_data.start_dt).getTime()).toBeGreaterThan(0)
      expect(data.body.pod_data).toEqual(shown)

      // Ten minutes pass on the service's clock: at least ten minutes' price.
      deployment.advance("10 minutes")
      const preview = await api.get("/api/end-session-preview", { token: sessionToken })
      expect(preview.status).toBe(200)
      expect(preview.body.is_complete).toBe(false)
      expect(preview.body.pod_name).toBe(pod.name)
      expect(preview.body.cost).toBeGreaterThanOrEqual(10 * pod.price_per_minute)
      const byQuery = await api.get(`/api/end-session-preview?session_id=${sessionId}`)
      expect(byQuery.status).toBe(200)
      expect(byQuery.body).toMatchObject({ is_complete: false, pod_name: pod.name })

      const end = await api.post("/api/end-session", { token: sessionToken })
      expect(end.status).toBe(200)
      expect(end.body).toEqual({ status: "success" })

      const twice = await api.post("/api/end-session", { token: sessionToken })
      expect(twice.status).toBe(409)
      expect(twice.body.error).toBe("session_already_ended")

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
      expect((await api.get(`/api/pod?pod_id=${pod.id}`)).body.in_use).toBe(false)
    })
  }

  it("refuses a card declined at confirmation, and finalize says the card is not set up", async () => {
    const setup = await api.post("/api/setup-intent", { body: { pod_id: pod.id } })
    const id = String(setup.body.client_secret).split("_secret_")[0]
    const confirm = await api.post(`/sandbox/setup-intents/${id}/confirm`, {
      body: { card_number: "4000000000000002", email: "ada@example.com" }
    })
    expect(confirm.status).toBe(402)
    expect(confirm.body.error).toBe("card_declined")
    const finalize = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
    expect(finalize.status).toBe(409)
    expect(finalize.body.error).toBe("card_not_set_up")
    expect((await api.get(`/api/pod?pod_id=${pod.id}`)).body.in_use).toBe(false)
  })
})
