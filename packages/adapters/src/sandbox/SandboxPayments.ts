/**
 * A local payment provider that behaves like Stripe's test mode for Qwip's flow, so the
 * platform runs with no keys and no network. Set-up intents (`seti_...`, client secrets
 * `seti_..._secret_...`) are confirmed with test card numbers (`TEST_CARDS`); off-session
 * charges and card check holds then succeed, are declined, or need authentication as those
 * cards do in Stripe. Idempotency keys behave as Stripe's: a repeated key returns the first
 * result. Holds are manual-capture PaymentIntents (`requires_capture`) that capture up to
 * their amount, cancel, and lapse after seven days as Stripe's do; refunds never exceed what
 * a PaymentIntent received.
 *
 * Everything lives in the `SandboxLedger` (the store's `sandbox_payments`), so a restarted
 * sandbox, or another instance on the same store, sees the same PaymentIntents. A
 * PaymentIntent's refunds are kept in its own data, one key each (`refund:<id>`, and
 * `refund_key:<key>` naming it), because the store merges data keys in one statement: two
 * refunds recorded at once both stay.
 */
import { randomBytes } from "node:crypto"
import {
  type CaptureResult,
  type CardSetUpResult,
  CHARGE_CURRENCY,
  type ChargeReading,
  type ChargeResult,
  customerEmail,
  type HoldResult,
  type PaymentForCustomer,
  Payments,
  type PaymentsShape,
  type Pence,
  type ProviderPayment,
  type ProviderRefund,
  pence,
  RefundRefused,
  type SessionId,
  type SetupIntentId,
  SetupIntentNotFound
} from "@qwip/core"
import { Clock, Context, Duration, Effect, Layer, Option } from "effect"
import {
  SandboxAuthentication,
  type SandboxAuthenticationShape,
  SandboxPaymentNotFound,
  SandboxPaymentNotOpen,
  type SandboxPaymentStatus
} from "./SandboxAuthentication.js"
import { SandboxCardDeclined, SandboxConsole, type SandboxConsoleShape, TEST_CARDS } from "./SandboxConsole.js"
import { SandboxLedger, type SandboxLedgerShape, type SandboxRecord } from "./SandboxLedger.js"

/** What a saved card does when charged (kept on its set-up intent as `behaviour`). */
type Behaviour = "succeeds" | "needs_authentication" | "declines" | "declines_insufficient_funds" | "declines_lost_card"

const behaviourOfCard: Record<string, Behaviour | "declined_at_confirm"> = {
  [TEST_CARDS.succeeds]: "succeeds",
  [TEST_CARDS.declinedAtConfirm]: "declined_at_confirm",
  [TEST_CARDS.chargesDeclined]: "declines",
  [TEST_CARDS.chargesNeedAuthentication]: "needs_authentication",
  [TEST_CARDS.chargesNeedAuthenticationAtSetUp]: "needs_authentication",
  [TEST_CARDS.chargesDeclinedInsufficientFunds]: "declines_insufficient_funds",
  [TEST_CARDS.chargesDeclinedLostCard]: "declines_lost_card"
}

interface PaymentError {
  readonly code: string
  readonly message: string
}

/** Stripe's decline for each declining behaviour (its `decline_code` where it has one). */
const declineOf: Record<Exclude<Behaviour, "succeeds" | "needs_authentication">, PaymentError> = {
  declines: { code: "card_declined", message: "Your card was declined." },
  declines_insufficient_funds: { code: "insufficient_funds", message: "Your card has insufficient funds." },
  declines_lost_card: { code: "lost_card", message: "Your card has been declined." }
}

const UNKNOWN_PAYMENT_METHOD: PaymentError = {
  code: "payment_method_unknown",
  message: "No such payment method in the sandbox."
}
const AUTHENTICATION_FAILED: PaymentError = {
  code: "authentication_failed",
  message: "The customer failed to authenticate this payment."
}

/** Stripe cancels a manual-capture PaymentIntent left uncaptured this long. */
const HOLD_LIFETIME = Duration.days(7)

const randomId = (prefix: string) => `${prefix}_sandbox_${randomBytes(12).toString("hex")}`

const clientSecretFor = (id: string) => `${id}_secret_${randomBytes(12).toString("hex")}`

const cardNumber = (raw: string) => raw.replace(/[\s-]/g, "")

const setUpStatus = (status: string): CardSetUpResult["status"] =>
  status === "succeeded" || status === "processing" || status === "requires_action" || status === "canceled"
    ? status
    : "requires_payment_method"

const PAYMENT_STATUSES: ReadonlyArray<ProviderPayment["status"]> = [
  "succeeded",
  "processing",
  "requires_action",
  "requires_payment_method",
  "requires_confirmation",
  "requires_capture",
  "canceled"
]

const paymentStatus = (status: string): ProviderPayment["status"] =>
  PAYMENT_STATUSES.find((s) => s === status) ?? "requires_payment_method"

/** A data field, `None` when absent or blank (the ledger merges data, so a field is cleared by blanking it). */
const field = (r: SandboxRecord, name: string): Option.Option<string> =>
  Option.filter(Option.fromNullable(r.data[name]), (v) => v !== "")

const lastErrorOf = (r: SandboxRecord): Option.Option<PaymentError> =>
  Option.map(field(r, "decline_code"), (code) => ({
    code,
    message: Option.getOrElse(field(r, "decline_message"), () => "Your card was declined.")
  }))

const errorFields = (error: Option.Option<PaymentError>) =>
  Option.match(error, {
    onNone: () => ({ decline_code: "", decline_message: "" }),
    onSome: (e) => ({ decline_code: e.code, decline_message: e.message })
  })

const isHold = (r: SandboxRecord) => r.data.capture_method === "manual"

/** When the PaymentIntent was made, on the sandbox's clock (records made before it was kept: the store's time). */
const createdAtOf = (r: SandboxRecord): Date =>
  Option.match(field(r, "created"), { onNone: () => r.createdAt, onSome: (iso) => new Date(iso) })

/** What a PaymentIntent received: its captured amount, or its amount when charged outright. */
const receivedOf = (r: SandboxRecord): number =>
  r.status !== "succeeded"
    ? 0
    : Option.match(field(r, "amount_received"), { onNone: () => r.amountPence ?? 0, onSome: Number })

const refundsIn = (r: SandboxRecord): ReadonlyArray<ProviderRefund> =>
  Object.entries(r.data)
    .filter(([k]) => k.startsWith("refund:"))
    .map(([, v]) => JSON.parse(v) as StoredRefund)
    .sort((a, b) => a.created.localeCompare(b.created) || (a.seq ?? 0) - (b.seq ?? 0) || a.id.localeCompare(b.id))
    .map((s) => ({
      refundId: s.id,
      paymentIntentId: r.id,
      amountPence: pence(s.amount),
      status: s.status,
      key: Option.fromNullable(s.key)
    }))

const refundedOf = (r: SandboxRecord): number =>
  refundsIn(r)
    .filter((x) => x.status === "pending" || x.status === "succeeded")
    .reduce((sum, x) => sum + x.amountPence, 0)

interface StoredRefund {
  readonly id: string
  readonly amount: number
  readonly status: ProviderRefund["status"]
  readonly key: string | null
  readonly reason: string
  readonly created: string
  /** Its place among the PaymentIntent's refunds, for their order within one clock tick. */
  readonly seq?: number
}

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
        code: pi.data.decline_code || "card_declined",
        message: pi.data.decline_message || "Your card was declined."
      }
  }
}

/**
 * A hold's answer, as Stripe's idempotent replay gives it: the placing's outcome, whatever
 * happened to the hold since (captured or cancelled, it was held).
 */
const holdOfRecord = (pi: SandboxRecord): HoldResult => {
  if (pi.status === "requires_action") return { _tag: "NeedsAuthentication", paymentIntentId: pi.id }
  return Option.match(lastErrorOf(pi), {
    onNone: () => ({ _tag: "Held", paymentIntentId: pi.id, amountPence: pence(pi.amountPence ?? 0) }) as const,
    onSome: (e) =>
      ({ _tag: "Declined", paymentIntentId: Option.some(pi.id), code: e.code, message: e.message }) as const
  })
}

const providerPaymentOf = (r: SandboxRecord): Option.Option<ProviderPayment> =>
  Option.map(field(r, "session_id"), (sessionId) => ({
    paymentIntentId: r.id,
    sessionId: sessionId as SessionId,
    purpose: isHold(r) ? "hold" : "charge",
    status: paymentStatus(r.status),
    amountPence: pence(r.amountPence ?? 0),
    receivedPence: pence(receivedOf(r)),
    refundedPence: pence(refundedOf(r)),
    createdAt: createdAtOf(r)
  }))

/** What a card does when paid with on-session (the pay page), by its number. */
const onSessionOutcome = (
  number: string,
  manual: boolean
): { readonly status: ProviderPayment["status"]; readonly error: Option.Option<PaymentError> } => {
  const behaviour = behaviourOfCard[number]
  switch (behaviour) {
    case "succeeds":
      return { status: manual ? "requires_capture" : "succeeded", error: Option.none() }
    case "needs_authentication":
      return { status: "requires_action", error: Option.none() }
    case "declined_at_confirm":
      return { status: "requires_payment_method", error: Option.some(declineOf.declines) }
    case undefined:
      return {
        status: "requires_payment_method",
        error: Option.some({
          code: "invalid_number",
          message: "Your card number is not a test card the sandbox knows."
        })
      }
    default:
      return { status: "requires_payment_method", error: Option.some(declineOf[behaviour]) }
  }
}

export const makeSandboxPayments = (ledger: SandboxLedgerShape) => {
  const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

  /** A PaymentIntent as it stands now: an uncaptured hold past its lifetime has lapsed (cancelled). */
  const current = (r: SandboxRecord) =>
    Effect.gen(function* () {
      if (r.status !== "requires_capture") return r
      const at = yield* now
      if (at.getTime() - createdAtOf(r).getTime() < Duration.toMillis(HOLD_LIFETIME)) return r
      const lapsed = { cancellation_reason: "automatic" }
      yield* ledger.update(r.id, "canceled", lapsed)
      return { ...r, status: "canceled", data: { ...r.data, ...lapsed } }
    })

  const paymentIntent = (id: string) =>
    Effect.flatMap(ledger.get(id), (found) =>
      Option.isSome(found) && found.value.object === "payment_intent"
        ? Effect.map(current(found.value), Option.some)
        : Effect.succeed(Option.none<SandboxRecord>())
    )

  const behaviourOfPaymentMethod = (paymentMethodId: string) =>
    Effect.map(ledger.findBy("setup_intent", "payment_method", paymentMethodId), (setup) =>
      Option.map(setup, (s) => (s.data.behaviour ?? "declines") as Behaviour)
    )

  /** How an off-session PaymentIntent ends up with a saved card: its status and why it failed. */
  const offSessionOutcome = (behaviour: Option.Option<Behaviour>, manual: boolean) =>
    Option.match(behaviour, {
      onNone: () => ({ status: "requires_payment_method", error: Option.some(UNKNOWN_PAYMENT_METHOD) }),
      onSome: (b) =>
        b === "succeeds"
          ? { status: manual ? "requires_capture" : "succeeded", error: Option.none<PaymentError>() }
          : b === "needs_authentication"
            ? { status: "requires_action", error: Option.none<PaymentError>() }
            : { status: "requires_payment_method", error: Option.some(declineOf[b]) }
    })

  /** Creates (or, for a repeated key, finds) a PaymentIntent off-session with a saved card. */
  const offSession = (request: {
    readonly sessionId: SessionId
    readonly amountPence: Pence
    readonly customerId: string
    readonly paymentMethodId: string
    readonly idempotencyKey: string
    readonly manual: boolean
    readonly extra: Readonly<Record<string, string>>
  }) =>
    Effect.gen(function* () {
      const outcome = offSessionOutcome(yield* behaviourOfPaymentMethod(request.paymentMethodId), request.manual)
      const created = yield* now
      const id = randomId("pi")
      return yield* ledger.insert({
        id,
        object: "payment_intent",
        idempotencyKey: request.idempotencyKey,
        status: outcome.status,
        amountPence: request.amountPence,
        data: {
          session_id: request.sessionId,
          customer: request.customerId,
          payment_method: request.paymentMethodId,
          currency: CHARGE_CURRENCY,
          capture_method: request.manual ? "manual" : "automatic",
          client_secret: clientSecretFor(id),
          created: created.toISOString(),
          ...(outcome.status === "succeeded" ? { amount_received: String(request.amountPence) } : {}),
          ...errorFields(outcome.error),
          ...request.extra
        },
        createdAt: created
      })
    })

  const refundOf = (
    pi: SandboxRecord,
    amount: number,
    key: string | null,
    reason: string
  ): Effect.Effect<ProviderRefund, RefundRefused> =>
    Effect.gen(function* () {
      if (key !== null) {
        const earlier = field(pi, `refund_key:${key}`)
        if (Option.isSome(earlier)) {
          const found = refundsIn(pi).find((r) => r.refundId === earlier.value)
          if (found !== undefined) return found
        }
      }
      if (pi.status !== "succeeded") {
        return yield* new RefundRefused({
          paymentIntentId: pi.id,
          reason: `it has not been paid (status ${pi.status}): nothing to refund`
        })
      }
      const left = receivedOf(pi) - refundedOf(pi)
      if (!Number.isInteger(amount) || amount <= 0 || amount > left) {
        return yield* new RefundRefused({
          paymentIntentId: pi.id,
          reason: `refund of ${amount}p asked, ${left}p of ${receivedOf(pi)}p received is left to refund`
        })
      }
      const created = yield* now
      const stored: StoredRefund = {
        id: randomId("re"),
        amount,
        status: "succeeded",
        key,
        reason,
        created: created.toISOString(),
        seq: refundsIn(pi).length + 1
      }
      yield* ledger.update(pi.id, pi.status, {
        [`refund:${stored.id}`]: JSON.stringify(stored),
        ...(key === null ? {} : { [`refund_key:${key}`]: stored.id })
      })
      return {
        refundId: stored.id,
        paymentIntentId: pi.id,
        amountPence: pence(amount),
        status: stored.status,
        key: Option.fromNullable(key)
      }
    })

  const noSuchPayment = (paymentIntentId: string) =>
    new RefundRefused({ paymentIntentId, reason: "the sandbox has no such PaymentIntent" })

  const payments: PaymentsShape = {
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
            client_secret: clientSecretFor(id),
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
      Effect.map(
        offSession({
          ...request,
          manual: false,
          // `charge_of`: what `readCharge` finds a session's charges by (holds and pay-page payments are not).
          extra: { receipt_email: request.receiptEmail, purpose: "charge", charge_of: request.sessionId }
        }),
        (pi) => chargeOfRecord(pi) as ChargeResult
      ),
    readCharge: ({ sessionId, paymentIntentId }) =>
      Effect.gen(function* () {
        if (Option.isSome(paymentIntentId)) {
          return Option.map(yield* paymentIntent(paymentIntentId.value), chargeOfRecord)
        }
        const charge = yield* ledger.findBy("payment_intent", "charge_of", sessionId)
        if (Option.isSome(charge)) return Option.some(chargeOfRecord(charge.value))
        // Charges the sandbox made before it marked them: the session's newest PaymentIntent.
        const older = yield* ledger.findBy("payment_intent", "session_id", sessionId)
        return Option.map(
          Option.filter(older, (r) => r.data.purpose === undefined),
          chargeOfRecord
        )
      }),
    placeHold: (request) =>
      Effect.map(
        offSession({
          ...request,
          manual: true,
          extra: { purpose: "hold", setup_intent: request.setupIntentId }
        }),
        holdOfRecord
      ),
    captureHold: ({ paymentIntentId, amountPence, idempotencyKey }) =>
      Effect.gen(function* () {
        const found = yield* paymentIntent(paymentIntentId)
        if (Option.isNone(found) || !isHold(found.value)) return { _tag: "NotCapturable", status: "missing" } as const
        const hold = found.value
        if (hold.status === "succeeded") {
          // A repeated capture answers the first; another key finds it already captured, as Stripe says.
          return hold.data.capture_key === idempotencyKey
            ? ({ _tag: "Captured", amountPence: pence(receivedOf(hold)) } as const)
            : ({ _tag: "NotCapturable", status: hold.status } as const)
        }
        if (hold.status !== "requires_capture") return { _tag: "NotCapturable", status: hold.status } as const
        if (amountPence <= 0 || amountPence > (hold.amountPence ?? 0)) {
          return yield* Effect.dieMessage(
            `captureHold: ${amountPence}p asked of a ${hold.amountPence}p hold on ${paymentIntentId} (Stripe refuses it; the caller captures 1p up to the hold)`
          )
        }
        // The rest of the hold is released with the capture, as Stripe does.
        yield* ledger.update(hold.id, "succeeded", {
          amount_received: String(amountPence),
          capture_key: idempotencyKey
        })
        return { _tag: "Captured", amountPence } satisfies CaptureResult
      }),
    releaseHold: ({ paymentIntentId }) =>
      Effect.gen(function* () {
        const found = yield* paymentIntent(paymentIntentId)
        if (Option.isNone(found)) return "released" as const
        const hold = found.value
        if (hold.status === "succeeded") return "captured" as const
        if (hold.status !== "canceled") {
          yield* ledger.update(hold.id, "canceled", { cancellation_reason: "requested_by_customer" })
        }
        return "released" as const
      }),
    refund: ({ paymentIntentId, amountPence, idempotencyKey, reason }) =>
      Effect.gen(function* () {
        const found = yield* paymentIntent(paymentIntentId)
        if (Option.isNone(found)) return yield* noSuchPayment(paymentIntentId)
        return yield* refundOf(found.value, amountPence, idempotencyKey, reason)
      }),
    refundsOf: (paymentIntentId) =>
      Effect.map(paymentIntent(paymentIntentId), Option.match({ onNone: () => [], onSome: refundsIn })),
    sessionPayments: ({ since, until }) =>
      Effect.gen(function* () {
        const all = yield* ledger.allOf("payment_intent")
        const inWindow = all.filter((r) => {
          const at = createdAtOf(r).getTime()
          return at >= since.getTime() && at < until.getTime() && Option.isSome(field(r, "session_id"))
        })
        const settled = yield* Effect.forEach(inWindow, current)
        return settled.flatMap((r) => Option.toArray(providerPaymentOf(r)))
      }),
    paymentForCustomer: (request) =>
      Effect.gen(function* () {
        const given = Option.isSome(request.paymentIntentId)
          ? yield* paymentIntent(request.paymentIntentId.value)
          : Option.none<SandboxRecord>()
        // A cancelled PaymentIntent cannot be paid: the customer gets a new one, as without one.
        const open = Option.filter(given, (r) => r.status !== "canceled")
        const pi = Option.isSome(open)
          ? open.value
          : yield* Effect.gen(function* () {
              const created = yield* now
              const id = randomId("pi")
              return yield* ledger.insert({
                id,
                object: "payment_intent",
                idempotencyKey: request.idempotencyKey,
                status: "requires_payment_method",
                amountPence: request.amountPence,
                data: {
                  session_id: request.sessionId,
                  customer: request.customerId,
                  currency: CHARGE_CURRENCY,
                  capture_method: "automatic",
                  purpose: "charge",
                  client_secret: clientSecretFor(id),
                  created: created.toISOString()
                },
                createdAt: created
              })
            })
        return {
          paymentIntentId: pi.id,
          clientSecret: pi.data.client_secret ?? clientSecretFor(pi.id),
          status: paymentStatus(pi.status),
          amountPence: pence(pi.amountPence ?? 0)
        } satisfies PaymentForCustomer
      }),
    readPayment: (paymentIntentId) => Effect.map(paymentIntent(paymentIntentId), Option.flatMap(providerPaymentOf))
  }

  const statusOf = (r: SandboxRecord, status: string, error: Option.Option<PaymentError>): SandboxPaymentStatus => ({
    paymentIntentId: r.id,
    status: paymentStatus(status),
    lastPaymentError: error
  })

  const openPaymentIntent = (paymentIntentId: string) =>
    Effect.flatMap(paymentIntent(paymentIntentId), (found) =>
      Option.match(found, {
        onNone: () => Effect.fail(new SandboxPaymentNotFound({ paymentIntentId })),
        onSome: Effect.succeed
      })
    )

  const authentication: SandboxAuthenticationShape = {
    complete: (paymentIntentId, outcome) =>
      Effect.gen(function* () {
        const pi = yield* openPaymentIntent(paymentIntentId)
        if (pi.status !== "requires_action") {
          return yield* new SandboxPaymentNotOpen({
            paymentIntentId,
            status: pi.status,
            reason: "it is not waiting for the customer's authentication"
          })
        }
        const error = outcome === "succeeded" ? Option.none() : Option.some(AUTHENTICATION_FAILED)
        const status = outcome === "failed" ? "requires_payment_method" : isHold(pi) ? "requires_capture" : "succeeded"
        yield* ledger.update(pi.id, status, {
          ...errorFields(error),
          ...(status === "succeeded" ? { amount_received: String(pi.amountPence ?? 0) } : {})
        })
        return statusOf(pi, status, error)
      }),
    payWithCard: (paymentIntentId, number) =>
      Effect.gen(function* () {
        const pi = yield* openPaymentIntent(paymentIntentId)
        if (
          pi.status !== "requires_payment_method" &&
          pi.status !== "requires_confirmation" &&
          pi.status !== "requires_action"
        ) {
          return yield* new SandboxPaymentNotOpen({
            paymentIntentId,
            status: pi.status,
            reason: "only a PaymentIntent waiting for a payment method can be paid"
          })
        }
        const card = cardNumber(number)
        const { status, error } = onSessionOutcome(card, isHold(pi))
        yield* ledger.update(pi.id, status, {
          payment_method: randomId("pm"),
          card_last4: card.slice(-4),
          ...errorFields(error),
          ...(status === "succeeded" ? { amount_received: String(pi.amountPence ?? 0) } : {})
        })
        return statusOf(pi, status, error)
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
        const number = cardNumber(card.cardNumber)
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
    ),
    refundFromDashboard: (paymentIntentId, amountPence) =>
      Effect.gen(function* () {
        const found = yield* paymentIntent(paymentIntentId)
        if (Option.isNone(found)) return yield* noSuchPayment(paymentIntentId)
        return yield* refundOf(found.value, amountPence, null, "requested_by_customer")
      })
  }
  return { payments, console, authentication }
}

/** `Payments`, `SandboxConsole` and `SandboxAuthentication` over the `SandboxLedger` in context. */
export const layerSandboxPayments = Layer.effectContext(
  Effect.map(SandboxLedger, (ledger) => {
    const { payments, console, authentication } = makeSandboxPayments(ledger)
    return Context.make(Payments, payments).pipe(
      Context.add(SandboxConsole, console),
      Context.add(SandboxAuthentication, authentication)
    )
  })
)
