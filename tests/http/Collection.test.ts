/**
 * Issue 13's test cards through the whole path over the real HTTP server, on every platform
 * (in memory, PGlite, and Postgres when `QWIP_TEST_DATABASE_URL` is set), with sandbox
 * payments: booking (with and without the card check hold), the end, recovery by the pay link
 * the customer was actually emailed, dunning as the clock moves, and the receipt.
 *
 * Each platform is deployed twice (the hold is a deployment's setting): with
 * `BOOKING_HOLD_PENCE=1500`, and without a hold and with dunning every hour
 * (`DUNNING_SCHEDULE=1h,2h,3h`). On each, the sessions run one after another on one pod, each
 * ending (and freeing the pod) before the next books it; the clock only moves forward.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type Answer, book, type Client, eventually, sessionIdOf } from "@qwip/test-support/Client"
import { type Deployment, type JourneyPlatform, journeyPlatforms, type SentMail } from "@qwip/test-support/Service"

const GOOD = "4242424242424242"
const DECLINES = "4000000000000341"
const NEEDS_AUTHENTICATION = "4000002760003184"
/** Sandbox-only: saves, then every charge is declined `insufficient_funds` (soft: retried). */
const INSUFFICIENT_FUNDS = "4242420000009951"
/** Sandbox-only: saves, then every charge is declined `lost_card` (hard: never retried). */
const LOST_CARD = "4242420000009985"

const HOLD_PENCE = 1500
/** Dunning attempts an hour, two and three after the decline. */
const SCHEDULE = "1h,2h,3h"
const ATTEMPTS = 3
const HOUR = 3_600_000
/** Well past the last attempt of a schedule started now. */
const PAST_SCHEDULE = "4 hours"

type Intent = { id: string; object: string; status: string; amount_pence: number | null; session_id: string | null }

const intents = async (api: Client): Promise<ReadonlyArray<Intent>> =>
  ((await api.get("/sandbox/payments")).body.payments as ReadonlyArray<Intent>).filter(
    (p) => p.object === "payment_intent"
  )

const intentsOf = async (api: Client, sessionId: string) =>
  (await intents(api)).filter((p) => p.session_id === sessionId)

const mailOf = async (deployment: Deployment, sessionId: string, kind: string) =>
  (await deployment.mail()).filter((m: SentMail) => m.kind === kind && m.message.sessionId === sessionId)

const waitForMail = (deployment: Deployment, sessionId: string, kind: string, count = 1) =>
  eventually(
    () => mailOf(deployment, sessionId, kind),
    (found) => found.length >= count,
    { timeoutMs: 30_000 }
  )

/** Waits until the worker has run every item of the session the clock has reached. */
const settled = (deployment: Deployment, sessionId: string) =>
  eventually(
    () => deployment.dueWork(sessionId),
    (n) => n === 0,
    { timeoutMs: 30_000 }
  )

const tokenOf = (link: string) => link.slice(link.lastIndexOf("/") + 1)

/** Minutes of the pod's price that make at least `pence`. */
const minutesFor = (pod: JourneyPlatform["pod"], pence: number) => Math.ceil(pence / (pod.price_per_minute * 100))

/**
 * Books `card`, waits for the door code, lets `minutes` pass and ends: the session id and what
 * the session cost (pence, from the final preview).
 */
const useAndEnd = async (api: Client, deployment: Deployment, podId: string, card: string, minutes: number) => {
  const { sessionToken } = await book(api, podId, card)
  const ready = await eventually(
    () => api.get("/api/provisioning-status", { token: sessionToken }),
    (a) => a.body.status !== "pending",
    { timeoutMs: 30_000 }
  )
  expect(ready.body.status).toBe("ready")
  deployment.advance(`${minutes} minutes`)
  const end = await api.post("/api/end-session", { token: sessionToken })
  expect(end.status, JSON.stringify(end.body)).toBe(200)
  expect(end.body).toEqual({ status: "success" })
  const preview = await api.get("/api/end-session-preview", { token: sessionToken })
  expect(preview.body.is_complete).toBe(true)
  expect((await api.get(`/api/pod?pod_id=${podId}`)).body.in_use).toBe(false)
  return { sessionId: sessionIdOf(sessionToken), costPence: Math.round(preview.body.cost * 100) }
}

/** The pay link from the customer's `attempt`-th payment request email, as sent. */
const payLinkEmailed = async (deployment: Deployment, sessionId: string, attempt: number) => {
  const requests = await eventually(
    () => mailOf(deployment, sessionId, "PaymentRequest"),
    (found) => found.some((m) => m.message.attempt === attempt),
    { timeoutMs: 30_000 }
  )
  const request = requests.find((m) => m.message.attempt === attempt)
  expect(request?.message.link).toMatch(/\/pay\/[\w-]+\.[\w-]+\.[\w-]+$/)
  return request?.message
}

/** Confirms on the pay page after paying: paid; a repeat charges nothing more and says paid. */
const confirmPaid = async (api: Client, token: string, pi: string, sessionId: string) => {
  const confirmed = await api.post(`/api/pay/${token}/confirm`, { body: { payment_intent_id: pi } })
  expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200)
  expect(confirmed.body).toEqual({ status: "paid", session_id: sessionId })
  // The API promises a repeat is safe (the page reloaded, or the webhook got there first).
  const again: Answer = await api.post(`/api/pay/${token}/confirm`, { body: { payment_intent_id: pi } })
  expect(again.status, JSON.stringify(again.body)).toBe(200)
  expect(again.body).toEqual({ status: "paid", session_id: sessionId })
  const page = await api.get(`/api/pay/${token}`)
  expect(page.status).toBe(409)
  expect(page.body.error).toBe("nothing_to_pay")
  const succeeded = (await intentsOf(api, sessionId)).filter((p) => p.status === "succeeded")
  expect(succeeded.map((p) => p.id)).toEqual([pi])
}

const expectReceipt = async (deployment: Deployment, sessionId: string, amountPence: number, capturedPence = 0) => {
  const receipts = await waitForMail(deployment, sessionId, "Receipt")
  expect(receipts).toHaveLength(1)
  expect(receipts[0]?.message).toMatchObject({ amountPence, capturedPence, basis: "charged" })
}

describe.each(journeyPlatforms)("[$name] the test cards over HTTP", { timeout: 120_000 }, ({ pod, deploy }) => {
  describe(`with the card check hold (BOOKING_HOLD_PENCE=${HOLD_PENCE})`, () => {
    let deployment: Deployment
    let api: Client
    let stop: () => Promise<void>
    beforeAll(async () => {
      deployment = deploy({ BOOKING_HOLD_PENCE: String(HOLD_PENCE) })
      ;({ api, stop } = await deployment.start({ forFile: true }))
    })
    afterAll(() => stop())

    it(`${GOOD}: the hold placed at booking is captured at the end, the remainder charged; the receipt shows both`, async () => {
      const { sessionToken } = await book(api, pod.id, GOOD)
      const sessionId = sessionIdOf(sessionToken)
      expect((await intentsOf(api, sessionId)).map((p) => [p.status, p.amount_pence])).toEqual([
        ["requires_capture", HOLD_PENCE]
      ])
      await eventually(
        () => api.get("/api/provisioning-status", { token: sessionToken }),
        (a) => a.body.status === "ready",
        { timeoutMs: 30_000 }
      )
      // Twice the hold's worth of time, so there is a remainder to charge.
      deployment.advance(`${minutesFor(pod, 2 * HOLD_PENCE)} minutes`)
      expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
      const cost = Math.round((await api.get("/api/end-session-preview", { token: sessionToken })).body.cost * 100)
      expect(cost).toBeGreaterThan(HOLD_PENCE)

      const paid = (await intentsOf(api, sessionId)).map((p) => [p.status, p.amount_pence])
      expect(paid).toHaveLength(2)
      expect(paid).toContainEqual(["succeeded", HOLD_PENCE])
      expect(paid).toContainEqual(["succeeded", cost - HOLD_PENCE])
      await expectReceipt(deployment, sessionId, cost, HOLD_PENCE)
      expect(await mailOf(deployment, sessionId, "PaymentRequest")).toEqual([])
      expect((await api.get(`/api/pod?pod_id=${pod.id}`)).body.in_use).toBe(false)
    })

    it(`${DECLINES}: refused at booking (402 card_declined, again on a retry), the pod free, nothing charged`, async () => {
      const before = new Set((await intents(api)).map((p) => p.id))
      const setup = await api.post("/api/setup-intent", { body: { pod_id: pod.id } })
      expect(setup.status).toBe(200)
      const setupIntentId = String(setup.body.client_secret).split("_secret_")[0]
      const confirm = await api.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, {
        body: { card_number: DECLINES, email: "ada@example.com" }
      })
      expect(confirm.status).toBe(200)
      const token = setup.body.provisioning_jwt_token as string
      for (const attempt of ["first", "retry"]) {
        const finalize = await api.post("/api/booking/finalize", { token })
        expect(finalize.status, attempt).toBe(402)
        expect(finalize.body).toMatchObject({ error: "card_declined", request_id: expect.any(String) })
        expect(finalize.body.detail).toContain("Nothing was charged")
        expect((await api.get(`/api/pod?pod_id=${pod.id}`)).body.in_use).toBe(false)
      }
      const added = (await intents(api)).filter((p) => !before.has(p.id))
      // The declined hold is the only PaymentIntent made, and it holds and took nothing.
      expect(added.map((p) => p.status)).toEqual(["requires_payment_method"])
      // The pod is bookable at once.
      expect((await api.post("/api/setup-intent", { body: { pod_id: pod.id } })).status).toBe(200)
    })
  })

  describe(`without a hold, dunning on ${SCHEDULE}`, () => {
    let deployment: Deployment
    let api: Client
    let stop: () => Promise<void>
    beforeAll(async () => {
      deployment = deploy({ DUNNING_SCHEDULE: SCHEDULE })
      ;({ api, stop } = await deployment.start({ forFile: true }))
    })
    afterAll(() => stop())
    const minutes = () => minutesFor(pod, 500)

    it(`${DECLINES}: declined at the end, emailed a pay link, paid with ${GOOD}; the schedule then charges nothing`, async () => {
      const { sessionId, costPence } = await useAndEnd(api, deployment, pod.id, DECLINES, minutes())
      expect((await intentsOf(api, sessionId)).map((p) => [p.status, p.amount_pence])).toEqual([
        ["requires_payment_method", costPence]
      ])
      const request = await payLinkEmailed(deployment, sessionId, 0)
      expect(request).toMatchObject({ reason: "declined", amountPence: costPence })
      const scheduled = await deployment.collection(sessionId)
      expect(scheduled.status).toBe("scheduled")
      expect(scheduled.nextAttemptAt).toBeInstanceOf(Date)

      const token = tokenOf(request.link)
      const page = await api.get(`/api/pay/${token}`)
      expect(page.status, JSON.stringify(page.body)).toBe(200)
      expect(page.body).toMatchObject({ session_id: sessionId, amount_pence: costPence, provider: "sandbox" })
      const pi = page.body.payment_intent_id as string
      const paid = await api.post(`/sandbox/payments/${pi}/pay`, { body: { card: GOOD } })
      expect(paid.status, JSON.stringify(paid.body)).toBe(200)
      expect(paid.body.status).toBe("succeeded")
      await confirmPaid(api, token, pi, sessionId)
      await expectReceipt(deployment, sessionId, costPence)
      expect(await deployment.collection(sessionId)).toEqual({ status: "paid", nextAttemptAt: null })

      const made = (await intentsOf(api, sessionId)).length
      deployment.advance(PAST_SCHEDULE)
      await settled(deployment, sessionId)
      expect(await intentsOf(api, sessionId)).toHaveLength(made)
      expect((await intentsOf(api, sessionId)).filter((p) => p.status === "succeeded")).toHaveLength(1)
      expect(await mailOf(deployment, sessionId, "PaymentRequest")).toHaveLength(1)
      expect(await mailOf(deployment, sessionId, "Receipt")).toHaveLength(1)
    })

    it(`${NEEDS_AUTHENTICATION}: needs authentication at the end, authenticated from the emailed link, paid; the schedule then does nothing`, async () => {
      const { sessionId, costPence } = await useAndEnd(api, deployment, pod.id, NEEDS_AUTHENTICATION, minutes())
      const request = await payLinkEmailed(deployment, sessionId, 0)
      expect(request).toMatchObject({ reason: "needs_authentication", amountPence: costPence })

      const token = tokenOf(request.link)
      const page = await api.get(`/api/pay/${token}`)
      expect(page.status, JSON.stringify(page.body)).toBe(200)
      expect(page.body).toMatchObject({ session_id: sessionId, status: "requires_action", amount_pence: costPence })
      const pi = page.body.payment_intent_id as string
      const authenticated = await api.post(`/sandbox/payments/${pi}/authenticate`, { body: { result: "succeeded" } })
      expect(authenticated.status, JSON.stringify(authenticated.body)).toBe(200)
      expect(authenticated.body).toMatchObject({ payment_intent_id: pi, status: "succeeded" })
      await confirmPaid(api, token, pi, sessionId)
      await expectReceipt(deployment, sessionId, costPence)

      const made = (await intentsOf(api, sessionId)).length
      deployment.advance(PAST_SCHEDULE)
      await settled(deployment, sessionId)
      expect(await intentsOf(api, sessionId)).toHaveLength(made)
      expect(await mailOf(deployment, sessionId, "PaymentRequest")).toHaveLength(1)
      expect(await mailOf(deployment, sessionId, "Receipt")).toHaveLength(1)
      expect(await deployment.collection(sessionId)).toEqual({ status: "paid", nextAttemptAt: null })
    })

    it(`${INSUFFICIENT_FUNDS} (sandbox only, soft): retried on the schedule, an email per failure, then staff alerted once`, async () => {
      const { sessionId, costPence } = await useAndEnd(api, deployment, pod.id, INSUFFICIENT_FUNDS, minutes())
      await payLinkEmailed(deployment, sessionId, 0)
      const scheduled = await deployment.collection(sessionId)
      expect(scheduled.status).toBe("scheduled")
      // The first attempt an hour after the decline, the rest counted from it.
      const first = scheduled.nextAttemptAt?.getTime() ?? Number.NaN
      expect(first).not.toBeNaN()

      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        // Each attempt is due an hour after the one before (the schedule counts from the decline).
        deployment.advance("1 hour")
        const request = await payLinkEmailed(deployment, sessionId, attempt)
        expect(request).toMatchObject({ reason: "declined", amountPence: costPence })
        await settled(deployment, sessionId)
        const made = await intentsOf(api, sessionId)
        expect(made.map((p) => [p.status, p.amount_pence])).toEqual(
          Array.from({ length: attempt + 1 }, () => ["requires_payment_method", costPence])
        )
        if (attempt < ATTEMPTS) {
          expect(await deployment.collection(sessionId)).toEqual({
            status: "scheduled",
            nextAttemptAt: new Date(first + attempt * HOUR)
          })
        }
      }
      const alerts = await waitForMail(deployment, sessionId, "StaffAlert")
      expect(alerts.map((m) => m.message.topic)).toEqual(["unpaid_after_collection"])
      expect(await deployment.collection(sessionId)).toEqual({ status: "exhausted", nextAttemptAt: null })

      deployment.advance(PAST_SCHEDULE)
      await settled(deployment, sessionId)
      expect(await intentsOf(api, sessionId)).toHaveLength(ATTEMPTS + 1)
      expect(await mailOf(deployment, sessionId, "PaymentRequest")).toHaveLength(ATTEMPTS + 1)
      expect(await mailOf(deployment, sessionId, "StaffAlert")).toHaveLength(1)
      expect(await mailOf(deployment, sessionId, "Receipt")).toEqual([])
    })

    it(`${LOST_CARD} (sandbox only, hard): not retried; paid by the link with another card`, async () => {
      const { sessionId, costPence } = await useAndEnd(api, deployment, pod.id, LOST_CARD, minutes())
      const request = await payLinkEmailed(deployment, sessionId, 0)
      expect(request).toMatchObject({ reason: "declined", amountPence: costPence })
      expect(await deployment.collection(sessionId)).toEqual({ status: "stopped", nextAttemptAt: null })

      deployment.advance(PAST_SCHEDULE)
      await settled(deployment, sessionId)
      expect(await intentsOf(api, sessionId)).toHaveLength(1)
      expect(await mailOf(deployment, sessionId, "PaymentRequest")).toHaveLength(1)

      const token = tokenOf(request.link)
      const page = await api.get(`/api/pay/${token}`)
      expect(page.status, JSON.stringify(page.body)).toBe(200)
      const pi = page.body.payment_intent_id as string
      const refused = await api.post(`/sandbox/payments/${pi}/pay`, { body: { card: LOST_CARD } })
      expect(refused.body.status).toBe("requires_payment_method")
      const paid = await api.post(`/sandbox/payments/${pi}/pay`, { body: { card: GOOD } })
      expect(paid.body.status, JSON.stringify(paid.body)).toBe("succeeded")
      await confirmPaid(api, token, pi, sessionId)
      await expectReceipt(deployment, sessionId, costPence)
      expect(await deployment.collection(sessionId)).toEqual({ status: "paid", nextAttemptAt: null })
    })
  })
})
