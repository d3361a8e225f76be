/**
 * The sandbox as the platform runs it (`paymentsFromEnv` with no Stripe keys, its ledger in the
 * embedded store): a new sandbox over the same store, after a restart, sees the same
 * PaymentIntents, holds, captures and refunds, and keys still answer their first result.
 * `SandboxAuthentication` is there on the sandbox only.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { chargeKeyFor, Payments, type PodId, pence, type SessionId, type SetupIntentId } from "@qwip/core"
import { ConfigProvider, Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import { paymentsFromEnv } from "../../src/platform/PaymentsFromEnv.js"
import { SandboxAuthentication } from "../../src/sandbox/SandboxAuthentication.js"
import { SandboxConsole, TEST_CARDS } from "../../src/sandbox/SandboxConsole.js"
import { backendFor, openPglite } from "../../src/store/Pglite.js"
import * as Records from "../../src/store/Records.js"

const SESSION = "5e0f3a9b-2c7d-4b18-9e6a-0d4c8f1b7a32" as SessionId

const platformPayments = (env: Record<string, string>) =>
  paymentsFromEnv({ callDeadline: Duration.seconds(5), sandboxWebhookSecret: Redacted.make("whsec_test") }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

/** The platform's payments over the embedded store in `dataDir`, for as long as `use` runs. */
const onStoreIn = <A, E>(dataDir: string, use: (services: Context.Context<never>) => Effect.Effect<A, E>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const store = Layer.scoped(
        Records.StoreRecords,
        Effect.map(Effect.flatMap(openPglite({ dataDir }), backendFor), Records.make)
      )
      const payments = yield* platformPayments({})
      expect(payments.kind).toBe("sandbox")
      const services = yield* Layer.build(payments.layer.pipe(Layer.provide(store)))
      return yield* use(services as Context.Context<never>)
    })
  )

describe("the sandbox over the store", () => {
  it.live(
    "a restarted sandbox sees the same ledger; keys answer their first result",
    () =>
      Effect.gen(function* () {
        const dataDir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "qwip-sandbox-")))
        yield* Effect.addFinalizer(() => Effect.promise(() => rm(dataDir, { recursive: true, force: true })))

        const before = yield* onStoreIn(dataDir, (services) =>
          Effect.gen(function* () {
            const payments = Context.get(services as Context.Context<Payments>, Payments)
            const console = Context.get(services as Context.Context<SandboxConsole>, SandboxConsole)
            const auth = Context.getOption(services as Context.Context<SandboxAuthentication>, SandboxAuthentication)
            expect(Option.isSome(auth)).toBe(true)

            const started = yield* payments.setUpCard({ podId: "pod-1" as PodId, idempotencyKey: "checkout-restart" })
            yield* console.confirmSetupIntent(started.setupIntentId, {
              cardNumber: TEST_CARDS.succeeds,
              email: "ada@example.com"
            })
            const paymentMethodId = Option.getOrThrow(
              (yield* payments.readCardSetUp(started.setupIntentId)).paymentMethodId
            )
            const card = { customerId: started.customerId, paymentMethodId }
            const hold = yield* payments.placeHold({
              sessionId: SESSION,
              setupIntentId: started.setupIntentId as SetupIntentId,
              amountPence: pence(1500),
              ...card,
              idempotencyKey: `qwip-booking-hold-${SESSION}`
            })
            if (hold._tag !== "Held") throw new Error(`expected a hold, got ${hold._tag}`)
            const captured = yield* payments.captureHold({
              sessionId: SESSION,
              paymentIntentId: hold.paymentIntentId,
              amountPence: pence(1500),
              idempotencyKey: `qwip-hold-capture-${SESSION}`
            })
            expect(captured).toEqual({ _tag: "Captured", amountPence: 1500 })
            const charge = yield* payments.chargeSession({
              sessionId: SESSION,
              amountPence: pence(300),
              ...card,
              receiptEmail: "ada@example.com",
              idempotencyKey: chargeKeyFor(SESSION)
            })
            if (charge._tag !== "Succeeded") throw new Error(`expected a charge, got ${charge._tag}`)
            const refund = yield* payments.refund({
              sessionId: SESSION,
              paymentIntentId: hold.paymentIntentId,
              amountPence: pence(1000),
              idempotencyKey: `qwip-refund-${SESSION}-1000-pod-not-clean`,
              reason: "pod not clean"
            })
            return { started, card, hold, charge, refund }
          })
        )

        yield* onStoreIn(dataDir, (services) =>
          Effect.gen(function* () {
            const payments = Context.get(services as Context.Context<Payments>, Payments)
            const { started, card, hold, charge, refund } = before
            expect((yield* payments.readCardSetUp(started.setupIntentId)).status).toBe("succeeded")
            expect(yield* payments.readPayment(hold.paymentIntentId)).toEqual(
              Option.some(
                expect.objectContaining({
                  purpose: "hold",
                  status: "succeeded",
                  receivedPence: 1500,
                  refundedPence: 1000
                })
              )
            )
            // The same keys, after the restart: the same hold, capture, charge and refund; nothing new.
            expect(
              yield* payments.placeHold({
                sessionId: SESSION,
                setupIntentId: started.setupIntentId as SetupIntentId,
                amountPence: pence(1500),
                ...card,
                idempotencyKey: `qwip-booking-hold-${SESSION}`
              })
            ).toEqual(hold)
            expect(
              yield* payments.captureHold({
                sessionId: SESSION,
                paymentIntentId: hold.paymentIntentId,
                amountPence: pence(1500),
                idempotencyKey: `qwip-hold-capture-${SESSION}`
              })
            ).toEqual({ _tag: "Captured", amountPence: 1500 })
            expect(
              yield* payments.chargeSession({
                sessionId: SESSION,
                amountPence: pence(300),
                ...card,
                receiptEmail: "ada@example.com",
                idempotencyKey: chargeKeyFor(SESSION)
              })
            ).toEqual(charge)
            expect(
              yield* payments.refund({
                sessionId: SESSION,
                paymentIntentId: hold.paymentIntentId,
                amountPence: pence(1000),
                idempotencyKey: `qwip-refund-${SESSION}-1000-pod-not-clean`,
                reason: "pod not clean"
              })
            ).toEqual(refund)
            expect(yield* payments.refundsOf(hold.paymentIntentId)).toEqual([refund])
            const refused = yield* Effect.flip(
              payments.refund({
                sessionId: SESSION,
                paymentIntentId: hold.paymentIntentId,
                amountPence: pence(501),
                idempotencyKey: "another",
                reason: "again"
              })
            )
            expect(refused.reason).toContain("500p of 1500p")
            expect(yield* payments.readCharge({ sessionId: SESSION, paymentIntentId: Option.none() })).toEqual(
              Option.some(charge)
            )
            const window = yield* payments.sessionPayments({
              since: new Date(Date.now() - 3_600_000),
              until: new Date(Date.now() + 60_000)
            })
            expect(window.map((p) => [p.paymentIntentId, p.purpose]).sort()).toEqual(
              [
                [hold.paymentIntentId, "hold"],
                [charge.paymentIntentId, "charge"]
              ].sort()
            )
          })
        )
      }).pipe(Effect.scoped),
    120_000
  )

  it.effect("on Stripe there is no SandboxAuthentication", () =>
    Effect.gen(function* () {
      const payments = yield* platformPayments({ STRIPE_SECRET: "sk_test_x", STRIPE_WEBHOOK_SECRET: "whsec_x" })
      expect(payments.kind).toBe("stripe")
      const services = yield* Layer.build(
        payments.layer.pipe(Layer.provide(Layer.succeed(Records.StoreRecords, {} as Records.StoreRecordsShape)))
      )
      expect(
        Context.getOption(
          services as Context.Context<never> as Context.Context<SandboxAuthentication>,
          SandboxAuthentication
        )
      ).toEqual(Option.none())
    }).pipe(Effect.scoped)
  )
})
