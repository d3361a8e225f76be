/**
 * The customer's end while Stripe misbehaves: the real service (embedded store, real worker)
 * with the real Stripe SDK against the local Stripe server, small configured deadlines. Each
 * fault runs beside another pod's booking; the end must answer success within the customer's
 * wait, the session end with exactly one PaymentIntent, and its receipt follow by email.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { StoreRecords, type StoreRecordsShape, Stripe as StripeAdapter } from "@qwip/adapters"
import { AccessCode, Pod, type PodId, Policy, rate } from "@qwip/core"
import { start } from "@qwip/http"
import { client, eventually, sessionIdOf } from "@qwip/test-support/Client"
import { dataDir, makeOffsetClock, platform, quickWorker } from "@qwip/test-support/Service"
import { type Fault, Faults, StripeServer } from "@qwip/test-support/StripeServer"
import { Context, Duration, Effect, Exit, Layer, Logger, LogLevel, Option, Redacted, Schema, Scope } from "effect"

const POD_A = "demo-pod"
const POD_B = "pod-b" as PodId

/** Small deadlines: the charge chain (3 × 2 s + backoff) is far longer than the customer's wait. */
const policy = {
  outsideCallDeadline: Duration.seconds(2),
  customerWait: Duration.seconds(1),
  chargeAttempts: 3,
  chargeBackoff: Duration.millis(50),
  closeSafetyNet: Duration.seconds(10),
  settleDelay: Duration.seconds(3)
}

const scope = Effect.runSync(Scope.make())
const stripe = await Effect.runPromise(
  Layer.buildWithScope(StripeServer.layer, scope).pipe(Effect.map((context) => Context.get(context, StripeServer)))
)
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

const podB = new Pod({
  id: POD_B,
  name: "Pod B",
  address: "2 Example Street, London",
  rate: rate("0.5"),
  lockDeviceId: Option.none(),
  accessMode: "static"
})

/** The service on the embedded store, paying through the local Stripe server. */
const serve = async () => {
  const clock = makeOffsetClock()
  let records: StoreRecordsShape | undefined
  const base = platform({
    QWIP_DATA_DIR: dataDir(),
    STRIPE_SECRET: "sk_test_deadlines",
    STRIPE_WEBHOOK_SECRET: "whsec_deadlines",
    STRIPE_API_BASE: `http://127.0.0.1:${stripe.apiBase.port}`
  }).pipe(
    Layer.tap((context) =>
      Effect.gen(function* () {
        records = Context.get(context, StoreRecords)
        yield* records.upsertPod(podB)
        yield* records.setCodes(POD_B, [Schema.decodeSync(AccessCode)("11111")])
      })
    )
  )
  // The composition gives Stripe's SDK the policy's per-call deadline; here, a small one.
  const layer = Layer.mergeAll(
    base,
    StripeAdapter.layer({
      secretKey: Redacted.make("sk_test_deadlines"),
      apiBase: stripe.apiBase,
      timeoutMs: Duration.toMillis(policy.outsideCallDeadline)
    }),
    Policy.layer(policy)
  )
  const quiet = Logger.minimumLogLevel(process.env.QWIP_TEST_LOGS === "1" ? LogLevel.Debug : LogLevel.Error)
  const service = await start(layer, { config: quickWorker(), runtime: Layer.merge(quiet, clock.layer) })
  const receipts = async (sessionId: string) =>
    (await Effect.runPromise((records as StoreRecordsShape).listOutbox(1000))).filter(
      (e) => e.kind === "Receipt" && e.messageKey.includes(sessionId)
    )
  return { api: client(service.url), clock, receipts, stop: service.stop }
}

type Api = ReturnType<typeof client>

/** Books a pod through the API, the card saved at the local Stripe server, and waits for its code. */
const bookWithCode = async (api: Api, podId: string) => {
  const setup = await api.post("/api/setup-intent", { body: { pod_id: podId } })
  expect(setup.status).toBe(200)
  const setupIntentId = String(setup.body.client_secret).split("_secret_")[0] as string
  await Effect.runPromise(stripe.completeCardSetUp(setupIntentId, { email: "ada@example.com" }))
  const finalize = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
  expect(finalize.status).toBe(200)
  const token = finalize.body.session_jwt_token as string
  const ready = await eventually(
    () => api.get("/api/provisioning-status", { token }),
    (a) => a.body.status !== "pending",
    { timeoutMs: 20_000 }
  )
  expect(ready.body.status).toBe("ready")
  return { token, sessionId: sessionIdOf(token) }
}

const intentsFor = async (sessionId: string) =>
  (await Effect.runPromise(stripe.paymentIntents)).filter((intent) => intent.metadata.session_id === sessionId)

const cases: ReadonlyArray<{ readonly name: string; readonly fault: Fault; readonly times: number }> = [
  { name: "a charge stored but never answered", fault: Faults.hangAfterHandling, times: 3 },
  { name: "a 500 after Stripe stored the charge", fault: Faults.serverErrorAfterStoring, times: 3 },
  { name: "a 500 without storing", fault: Faults.serverError, times: 3 },
  { name: "409 idempotency_key_in_use (in progress)", fault: Faults.keyInUse, times: 3 }
]

describe("ending while Stripe misbehaves", () => {
  it.each(cases)(
    "$name: the end answers success within the customer's wait, one PaymentIntent, one receipt",
    { timeout: 60_000 },
    async ({ fault, times }) => {
      await Effect.runPromise(stripe.reset)
      const { api, clock, receipts, stop } = await serve()
      try {
        const a = await bookWithCode(api, POD_A)
        clock.advance("10 minutes") // £5 at 50p a minute
        await Effect.runPromise(stripe.failNext("paymentIntents.create", fault, times))

        // The end and another pod's booking at once: neither waits for the other.
        const started = performance.now()
        const [end, b] = await Promise.all([
          api.post("/api/end-session", { token: a.token }).then((answer) => ({
            answer,
            ms: performance.now() - started
          })),
          bookWithCode(api, POD_B)
        ])
        expect(end.answer.status).toBe(200)
        expect(end.answer.body).toEqual({ status: "success" })
        // Bounded by the customer's wait (1 s), not the 6 s charge chain.
        expect(end.ms).toBeLessThan(4_000)
        expect((await api.get(`/api/pod?pod_id=${POD_A}`)).body.in_use).toBe(false)
        expect((await api.get("/api/provisioning-status", { token: b.token })).body.status).toBe("ready")

        // The settle work finishes the charge: one PaymentIntent, succeeded, and one receipt.
        await eventually(
          () => receipts(a.sessionId),
          (found) => found.length > 0,
          { timeoutMs: 20_000, intervalMs: 100 }
        )
        const intents = await intentsFor(a.sessionId)
        expect(intents).toHaveLength(1)
        expect(intents[0]?.status).toBe("succeeded")
        expect(intents[0]?.amount).toBe(500)
        expect(await receipts(a.sessionId)).toHaveLength(1)
        expect(await intentsFor(b.sessionId)).toHaveLength(0)
        expect(await receipts(b.sessionId)).toHaveLength(0)
      } finally {
        await stop()
      }
    }
  )

  it("finalize waiting on Stripe past the customer's wait answers 503 with Retry-After; asked again, it books", {
    timeout: 60_000
  }, async () => {
    await Effect.runPromise(stripe.reset)
    const { api, stop } = await serve()
    try {
      const setup = await api.post("/api/setup-intent", { body: { pod_id: POD_A } })
      expect(setup.status).toBe(200)
      const setupIntentId = String(setup.body.client_secret).split("_secret_")[0] as string
      await Effect.runPromise(stripe.completeCardSetUp(setupIntentId, { email: "ada@example.com" }))
      await Effect.runPromise(stripe.failNext("setupIntents.retrieve", Faults.hang))

      const started = performance.now()
      const waited = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
      expect(performance.now() - started).toBeLessThan(4_000)
      expect(waited.status).toBe(503)
      expect(waited.body.error).toBe("payments_unavailable")
      expect(waited.headers.get("retry-after")).toBe("5")

      const again = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
      expect(again.status).toBe(200)
      expect((await api.get(`/api/pod?pod_id=${POD_A}`)).body.in_use).toBe(true)
    } finally {
      await stop()
    }
  })
})
