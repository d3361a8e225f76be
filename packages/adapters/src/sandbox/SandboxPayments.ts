/**
 * A local payment provider that behaves like Stripe's test mode for Qwip's flow, so the
 * platform runs with no keys and no network. Set-up intents (`seti_...`, client secrets
 * `seti_..._secret_...`) are confirmed with Stripe's test card numbers; off-session
 * charges then succeed, are declined, or need authentication as those cards do in Stripe.
 * Idempotency keys behave as Stripe's: a repeated key returns the first result.
 */
import { randomBytes } from "node:crypto"
import {
  type CardSetUpResult,
  type ChargeReading,
  type ChargeResult,
  customerEmail,
  Payments,
  type PaymentsShape,
  pence,
  type SetupIntentId,
  SetupIntentNotFound
} from "@qwip/core"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { SandboxCardDeclined, SandboxConsole, type SandboxConsoleShape, TEST_CARDS } from "./SandboxConsole.js"
import { SandboxLedger, type SandboxLedgerShape, type SandboxRecord } from "./SandboxLedger.js"

type Behaviour = "succeeds" | "declines" | "needs_authentication"

const behaviourOfCard: Record<string, Behaviour | "declined_at_confirm"> = {
  [TEST_CARDS.succeeds]: "succeeds",
  [TEST_CARDS.declinedAtConfirm]: "declined_at_confirm",
  [TEST_CARDS.chargesDeclined]: "declines",
  [TEST_CARDS.chargesNeedAuthentication]: "needs_authentication"
}

const randomId = (prefix: string) => `${prefix}_sandbox_${randomBytes(12).toString("hex")}`

const setUpStatus = (status: string): CardSetUpResult["status"] =>
  status === "succeeded" || status === "processing" || status === "requires_action" || status === "canceled"
    ? status
    : "requires_payment_method"

const chargeOfRecord = (pi: SandboxRecord): ChargeReading => {
  const amountPence = pence(pi.amountPence ?? 0)
  switch (pi.status) {
    case "succeeded":
      return { _tag: "Succeeded", paymentIntentId: pi.id, amountPence }
    case "requires_action":
      return { _tag: "NeedsAuthentication", paymentIntentId: pi.id }
    case "processing":
      return { _tag: "Processing", paymentIntentId: pi.id }
    default:
      return {
        _tag: "Declined",
        paymentIntentId: Option.some(pi.id),
        code: pi.data.decline_code ?? "card_declined",
        message: pi.data.decline_message ?? "Your card was declined."
      }
  }
}

export const makeSandboxPayments = (ledger: SandboxLedgerShape) => {
  const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

  const payments: PaymentsShape = {
    // Issue 13: filled in by the payments work.
    placeHold: () => Effect.dieMessage("placeHold: not implemented yet"),
    captureHold: () => Effect.dieMessage("captureHold: not implemented yet"),
    releaseHold: () => Effect.dieMessage("releaseHold: not implemented yet"),
    refund: () => Effect.dieMessage("refund: not implemented yet"),
    refundsOf: () => Effect.dieMessage("refundsOf: not implemented yet"),
    sessionPayments: () => Effect.dieMessage("sessionPayments: not implemented yet"),
    paymentForCustomer: () => Effect.dieMessage("paymentForCustomer: not implemented yet"),
    readPayment: () => Effect.dieMessage("readPayment: not implemented yet"),
    setUpCard: ({ podId, idempotencyKey }) =>
      Effect.gen(function* () {
        const createdAt = yield* now
        const customer = yield* ledger.insert({
          id: randomId("cus"),
          object: "customer",
          idempotencyKey: `${idempotencyKey}:customer`,
          status: "active",
          amountPence: null,
          data: {},
          createdAt
        })
        const id = randomId("seti")
        const setup = yield* ledger.insert({
          id,
          object: "setup_intent",
          idempotencyKey: `${idempotencyKey}:setup-intent`,
          status: "requires_payment_method",
          amountPence: null,
          data: {
            pod_id: podId,
            customer: customer.id,
            client_secret: `${id}_secret_${randomBytes(12).toString("hex")}`,
            usage: "off_session"
          },
          createdAt
        })
        return {
          setupIntentId: setup.id as SetupIntentId,
          clientSecret: setup.data.client_secret ?? "",
          customerId: customer.id
        }
      }),
    readCardSetUp: (setupIntentId) =>
      Effect.gen(function* () {
        const found = yield* ledger.get(setupIntentId)
        if (Option.isNone(found) || found.value.object !== "setup_intent") {
          return yield* new SetupIntentNotFound({ setupIntentId })
        }
        const s = found.value
        return {
          setupIntentId,
          status: setUpStatus(s.status),
          podId: Option.fromNullable(s.data.pod_id),
          customerId: Option.fromNullable(s.data.customer),
          paymentMethodId: Option.fromNullable(s.data.payment_method),
          email: customerEmail(s.data.email)
        }
      }),
    chargeSession: (request) =>
      Effect.gen(function* () {
        const setup = yield* ledger.findBy("setup_intent", "payment_method", request.paymentMethodId)
        const behaviour = Option.match(setup, {
          onNone: () => "declines" as Behaviour,
          onSome: (s) => (s.data.behaviour ?? "declines") as Behaviour
        })
        const status =
          behaviour === "succeeds"
            ? "succeeded"
            : behaviour === "declines"
              ? "requires_payment_method"
              : "requires_action"
        const pi = yield* ledger.insert({
          id: randomId("pi"),
          object: "payment_intent",
          idempotencyKey: request.idempotencyKey,
          status,
          amountPence: request.amountPence,
          data: {
            session_id: request.sessionId,
            customer: request.customerId,
            payment_method: request.paymentMethodId,
            receipt_email: request.receiptEmail,
            currency: "gbp",
            ...(behaviour === "declines"
              ? Option.isNone(setup)
                ? { decline_code: "payment_method_unknown", decline_message: "No such payment method in the sandbox." }
                : { decline_code: "card_declined", decline_message: "Your card was declined." }
              : {})
          },
          createdAt: yield* now
        })
        return chargeOfRecord(pi) as ChargeResult
      }),
    readCharge: ({ sessionId, paymentIntentId }) =>
      Effect.gen(function* () {
        const found = Option.isSome(paymentIntentId)
          ? yield* ledger.get(paymentIntentId.value)
          : yield* ledger.findBy("payment_intent", "session_id", sessionId)
        return Option.map(
          Option.filter(found, (r) => r.object === "payment_intent"),
          chargeOfRecord
        )
      })
  }

  const console: SandboxConsoleShape = {
    confirmSetupIntent: (setupIntentId, card) =>
      Effect.gen(function* () {
        const found = yield* ledger.get(setupIntentId)
        if (Option.isNone(found) || found.value.object !== "setup_intent") {
          return yield* new SetupIntentNotFound({ setupIntentId })
        }
        const s = found.value
        if (s.status === "succeeded") return { setupIntentId, status: s.status }
        const number = card.cardNumber.replace(/[\s-]/g, "")
        const behaviour = behaviourOfCard[number]
        if (behaviour === undefined) {
          return yield* new SandboxCardDeclined({
            setupIntentId,
            code: "invalid_number",
            reason: `card_number is not a Stripe test card the sandbox knows; use ${TEST_CARDS.succeeds}`
          })
        }
        if (behaviour === "declined_at_confirm") {
          return yield* new SandboxCardDeclined({
            setupIntentId,
            code: "card_declined",
            reason: "Your card was declined."
          })
        }
        yield* ledger.update(setupIntentId, "succeeded", {
          ...s.data,
          payment_method: randomId("pm"),
          email: customerEmail(card.email.trim()),
          behaviour,
          card_last4: number.slice(-4)
        })
        return { setupIntentId, status: "succeeded" }
      }),
    listPayments: Effect.map(ledger.list, (records) =>
      records.map((r) => ({
        id: r.id,
        object: r.object,
        status: r.status,
        amountPence: r.amountPence,
        sessionId: r.data.session_id ?? null,
        createdAt: r.createdAt
      }))
    )
  }
  return { payments, console }
}

/** `Payments` and `SandboxConsole` over the `SandboxLedger` in context. */
export const layerSandboxPayments = Layer.effectContext(
  Effect.map(SandboxLedger, (ledger) => {
    const { payments, console } = makeSandboxPayments(ledger)
    return Context.make(Payments, payments).pipe(Context.add(SandboxConsole, console))
  })
)
