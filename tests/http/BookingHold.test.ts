/**
 * The card check at booking over HTTP (`BOOKING_HOLD_PENCE`): a card whose charges are declined
 * is refused at finalize with 402 `card_declined` in the contract's error shape, again on a
 * repeat, with the pod left free and nothing charged; a good card books with a hold placed and
 * nothing captured yet. In memory (the policy given) and on PGlite (the setting read from the
 * environment, as in production).
 */
import { describe, expect, it } from "@effect/vitest"
import { type Client, sessionIdOf } from "@qwip/test-support/Client"
import { boot, dataDir, serve } from "@qwip/test-support/Service"

const DECLINES = "4000000000000341"
const NEEDS_AUTHENTICATION = "4000002760003184"
const GOOD = "4242424242424242"

/** Set-up and sandbox confirm, then finalize: the finalize answer, whatever it is. */
const finalizeWith = async (api: Client, podId: string, card: string) => {
  const setup = await api.post("/api/setup-intent", { body: { pod_id: podId } })
  expect(setup.status, JSON.stringify(setup.body)).toBe(200)
  const setupIntentId = String(setup.body.client_secret).split("_secret_")[0] as string
  const confirm = await api.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, {
    body: { card_number: card, email: "ada@example.com" }
  })
  expect(confirm.status, JSON.stringify(confirm.body)).toBe(200)
  const token = setup.body.provisioning_jwt_token as string
  return { token, finalize: await api.post("/api/booking/finalize", { token }) }
}

const sandboxIntents = async (api: Client) =>
  (
    (await api.get("/sandbox/payments")).body.payments as ReadonlyArray<{
      object: string
      status: string
      amount_pence: number | null
    }>
  ).filter((p) => p.object === "payment_intent")

const journeys = [
  {
    name: "memory",
    podId: "pod-1",
    start: async () => (await boot({ platformOptions: { policy: { bookingHoldPence: 1500 } } })).api
  },
  {
    name: "pglite",
    podId: "demo-pod",
    start: async () => (await serve({ QWIP_DATA_DIR: dataDir(), BOOKING_HOLD_PENCE: "1500" })).api
  }
] as const

describe.each(journeys)("[$name] the card check at booking", { timeout: 60_000 }, ({ podId, start }) => {
  it("refuses a card whose hold is declined: 402 card_declined, again on a repeat, pod free, nothing charged", async () => {
    const api = await start()
    const { token, finalize } = await finalizeWith(api, podId, DECLINES)
    expect(finalize.status).toBe(402)
    expect(finalize.body).toMatchObject({ error: "card_declined", request_id: expect.any(String) })
    expect(finalize.body.detail).toContain("declined")
    expect(finalize.body.detail).toContain("Nothing was charged")

    const again = await api.post("/api/booking/finalize", { token })
    expect(again.status).toBe(402)
    expect(again.body.error).toBe("card_declined")

    expect((await api.get(`/api/pod?pod_id=${podId}`)).body.in_use).toBe(false)
    const intents = await sandboxIntents(api)
    expect(intents.filter((p) => p.status === "succeeded" || p.status === "requires_capture")).toEqual([])
  })

  it("refuses a card whose hold needs authentication the booking cannot ask for", async () => {
    const api = await start()
    const { finalize } = await finalizeWith(api, podId, NEEDS_AUTHENTICATION)
    expect(finalize.status).toBe(402)
    expect(finalize.body.error).toBe("card_declined")
    expect((await api.get(`/api/pod?pod_id=${podId}`)).body.in_use).toBe(false)
  })

  it("books a good card with the hold placed and nothing captured", async () => {
    const api = await start()
    const { finalize } = await finalizeWith(api, podId, GOOD)
    expect(finalize.status, JSON.stringify(finalize.body)).toBe(200)
    expect(sessionIdOf(finalize.body.session_jwt_token)).toMatch(/^[0-9a-f-]{36}$/)
    expect((await api.get(`/api/pod?pod_id=${podId}`)).body.in_use).toBe(true)
    const intents = await sandboxIntents(api)
    expect(intents.map((p) => [p.status, p.amount_pence])).toEqual([["requires_capture", 1500]])
  })
})
