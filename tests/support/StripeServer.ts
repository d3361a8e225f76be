/**
 * A local stand-in for the parts of Stripe's API that Qwip uses, for the real `stripe` SDK to
 * talk to over HTTP on 127.0.0.1: customers, setup intents, payment intents (create, retrieve,
 * search, list, capture, cancel; manual capture for holds) and refunds (create, list). Bodies are form-encoded as Stripe expects; answers are Stripe-shaped objects
 * (typed with the SDK's own types) and Stripe's error bodies with their status codes.
 *
 * Like Stripe, a POST with an `Idempotency-Key` is answered once and replayed after: the same
 * key with the same parameters gets the stored answer (`Idempotent-Replayed: true`), the same
 * key with other parameters an `idempotency_error`. Successes and card errors are stored;
 * validation errors and injected faults are not.
 *
 * It records every request (route, parameters, idempotency key, API version, never the API
 * key) so tests can assert what was sent, and lets tests script behaviour: cards that decline,
 * need authentication or stay processing, by behaviour or by test card number (`TestCards`);
 * what only a person or Stripe itself does (paying on the pay page with Stripe.js, a refund in
 * the dashboard, a hold expiring after seven days, the time objects are created at); faults per route (an error reply, a dropped
 * connection before or after Stripe acted, a request that never gets an answer); a search
 * index that lags. Anything it does not implement is answered with a 404 naming the request,
 * so a test using it fails loudly.
 */
import { randomBytes } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Context, Effect, Layer } from "effect"
import type Stripe from "stripe"

export type Route =
  | "customers.create"
  | "setupIntents.create"
  | "setupIntents.retrieve"
  | "paymentIntents.create"
  | "paymentIntents.retrieve"
  | "paymentIntents.search"
  | "paymentIntents.list"
  | "paymentIntents.capture"
  | "paymentIntents.cancel"
  | "refunds.create"
  | "refunds.list"

/** Decoded form or query parameters: `metadata[pod_id]=x` is `{ metadata: { pod_id: "x" } }`. */
export interface Params {
  readonly [key: string]: string | Params
}

/** How a saved card answers an off-session charge. */
export type CardBehaviour =
  | { readonly _tag: "Succeeds" }
  | { readonly _tag: "Declines"; readonly declineCode: string; readonly message: string }
  /** Stripe's off-session SCA answer: 402 `authentication_required`. */
  | { readonly _tag: "NeedsAuthentication" }
  /** The intent comes back `requires_action` (200), as for an on-session confirm. */
  | { readonly _tag: "RequiresAction" }
  | { readonly _tag: "Processing" }

export const Cards = {
  succeeds: { _tag: "Succeeds" },
  insufficientFunds: {
    _tag: "Declines",
    declineCode: "insufficient_funds",
    message: "Your card has insufficient funds."
  },
  needsAuthentication: { _tag: "NeedsAuthentication" },
  requiresAction: { _tag: "RequiresAction" },
  processing: { _tag: "Processing" },
  /** Stripe's `4000000000000341`: attaches, then every charge is declined. */
  declined: { _tag: "Declines", declineCode: "generic_decline", message: "Your card was declined." },
  lostCard: { _tag: "Declines", declineCode: "lost_card", message: "Your card was declined." }
} as const satisfies Record<string, CardBehaviour>

/**
 * The test card numbers the stand-in honours, as in the sandbox. Stripe has no saved-card
 * numbers per decline code, so the last two are ours (sandbox-only, agreed with the sandbox):
 * they save, then every charge and hold is declined with that code.
 */
export const TestCards = {
  pays: "4242424242424242",
  declinedAtSetUp: "4000000000000002",
  chargesDeclined: "4000000000000341",
  needsAuthentication: "4000002760003184",
  insufficientFunds: "4242420000009951",
  lostCard: "4242420000009985"
} as const

/** How a test card behaves once saved; `SetUpDeclined` for the card refused at set-up. */
export const behaviourOfCard = (number: string): CardBehaviour | "SetUpDeclined" => {
  switch (number.replace(/[\s-]/g, "")) {
    case TestCards.pays:
      return Cards.succeeds
    case TestCards.declinedAtSetUp:
      return "SetUpDeclined"
    case TestCards.chargesDeclined:
      return Cards.declined
    case TestCards.needsAuthentication:
      return Cards.needsAuthentication
    case TestCards.insufficientFunds:
      return Cards.insufficientFunds
    case TestCards.lostCard:
      return Cards.lostCard
    default:
      throw new Error(`StripeServer: ${number} is not a test card it knows (see TestCards)`)
  }
}

/** Stripe's error body (`{ error: ... }`), as far as Qwip reads it. */
export interface StripeErrorBody {
  readonly type: "api_error" | "card_error" | "idempotency_error" | "invalid_request_error"
  readonly message: string
  readonly code?: string
  readonly decline_code?: string
  readonly param?: string
  readonly charge?: string
  readonly doc_url?: string
  readonly payment_intent?: Stripe.PaymentIntent
  readonly payment_method?: Stripe.PaymentMethod
}

export type Fault =
  /** Answers with this status and error body instead of handling the request. */
  | { readonly _tag: "Reply"; readonly status: number; readonly error: StripeErrorBody }
  /** Resets the connection before anything happens: Stripe never saw the request. */
  | { readonly _tag: "DropBeforeHandling" }
  /** Handles the request (and stores its idempotent answer), then resets the connection. */
  | { readonly _tag: "DropAfterHandling" }
  /** Never answers: the SDK's timeout fires. */
  | { readonly _tag: "Hang" }
  /** Handles the request (and stores its idempotent answer), then never answers. */
  | { readonly _tag: "HangAfterHandling" }
  /** Handles the request (and stores its idempotent answer), then answers with this error instead. */
  | { readonly _tag: "ReplyAfterHandling"; readonly status: number; readonly error: StripeErrorBody }

export const Faults = {
  serverError: {
    _tag: "Reply",
    status: 500,
    error: { type: "api_error", message: "Something went wrong on Stripe's end." }
  },
  rateLimited: {
    _tag: "Reply",
    status: 429,
    error: { type: "invalid_request_error", code: "rate_limit", message: "Too many requests hit the API too quickly." }
  },
  badApiKey: {
    _tag: "Reply",
    status: 401,
    error: { type: "invalid_request_error", message: "Invalid API Key provided: sk_test_****" }
  },
  /** Stripe's answer while a request with the same key is still running. */
  keyInUse: {
    _tag: "Reply",
    status: 409,
    error: {
      type: "invalid_request_error",
      code: "idempotency_key_in_use",
      message:
        "There is currently another in-progress request using this Stripe-Idempotency-Key header; try again later."
    }
  },
  serverErrorAfterStoring: {
    _tag: "ReplyAfterHandling",
    status: 500,
    error: { type: "api_error", message: "Something went wrong on Stripe's end." }
  },
  hangAfterHandling: { _tag: "HangAfterHandling" },
  dropBeforeHandling: { _tag: "DropBeforeHandling" },
  dropAfterHandling: { _tag: "DropAfterHandling" },
  hang: { _tag: "Hang" }
} as const satisfies Record<string, Fault>

export interface RecordedRequest {
  readonly route: Route | undefined
  readonly method: string
  readonly path: string
  readonly params: Params
  readonly idempotencyKey: string | undefined
  readonly stripeVersion: string | undefined
  /** `faulted` when a scripted fault answered (or dropped) instead. */
  readonly outcome: "handled" | "replayed" | "faulted"
}

export interface SavedCard {
  readonly email?: string | null
  /** A test card number (`TestCards`); its behaviour wins over `behaviour`. */
  readonly number?: string
  readonly behaviour?: CardBehaviour
}

export interface StripeServerShape {
  /** Options for the SDK's `host`/`port`/`protocol`. */
  readonly apiBase: { readonly host: string; readonly port: number; readonly protocol: "http" }
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  readonly requestsFor: (route: Route) => Effect.Effect<ReadonlyArray<RecordedRequest>>
  readonly customers: Effect.Effect<ReadonlyArray<Stripe.Customer>>
  readonly paymentIntents: Effect.Effect<ReadonlyArray<Stripe.PaymentIntent>>
  readonly refunds: Effect.Effect<ReadonlyArray<Stripe.Refund>>
  /** A PaymentIntent's charge as Stripe shows it (amounts captured and refunded), for events. */
  readonly chargeOf: (paymentIntentId: string) => Effect.Effect<Stripe.Charge>
  /** Forgets everything: objects, stored answers, faults, recorded requests. */
  readonly reset: Effect.Effect<void>
  /** The next `times` requests to `route` meet `fault`. */
  readonly failNext: (route: Route, fault: Fault, times?: number) => Effect.Effect<void>
  /** While off, new payment intents are missing from search (as when Stripe's index lags). */
  readonly setSearchIndexing: (on: boolean) => Effect.Effect<void>
  /** What Stripe.js does in the browser: attaches a card to the set-up and confirms it. */
  readonly completeCardSetUp: (setupIntentId: string, card?: SavedCard) => Effect.Effect<Stripe.PaymentMethod>
  readonly updateSetupIntent: (setupIntentId: string, patch: Partial<Stripe.SetupIntent>) => Effect.Effect<void>
  /**
   * What Stripe.js's `confirmCardPayment` does on the pay page: confirms the PaymentIntent
   * on-session with the saved card (`paymentMethodId`) or a new `card`; `authenticated` is
   * the outcome of the 3-D Secure step for a card that asks for it (default: passed).
   */
  readonly payOnSession: (
    paymentIntentId: string,
    with_: { readonly paymentMethodId?: string; readonly card?: SavedCard; readonly authenticated?: boolean }
  ) => Effect.Effect<Stripe.PaymentIntent>
  /** A refund made in Stripe's dashboard: no idempotency key, no metadata. The whole rest by default. */
  readonly refundInDashboard: (paymentIntentId: string, amount?: number) => Effect.Effect<Stripe.Refund>
  /** Stripe cancels an uncaptured hold after seven days (`cancellation_reason: automatic`). */
  readonly expireHold: (paymentIntentId: string) => Effect.Effect<void>
  /** Sets the clock new objects' `created` is read from (seconds); `undefined` for the real one. */
  readonly setNow: (seconds: number | undefined) => Effect.Effect<void>
  /** A customer with a saved card, without going through a set-up. */
  readonly savedCard: (
    card?: SavedCard
  ) => Effect.Effect<{ readonly customerId: string; readonly paymentMethodId: string }>
}

export class StripeServer extends Context.Tag("test/StripeServer")<StripeServer, StripeServerShape>() {
  static readonly layer: Layer.Layer<StripeServer> = Layer.scoped(
    StripeServer,
    Effect.gen(function* () {
      const fake = new FakeStripe()
      const server = yield* Effect.acquireRelease(listen(fake), (server) => close(server))
      const { port } = server.address() as AddressInfo
      return fake.shape({ host: "127.0.0.1", port, protocol: "http" })
    })
  )
}

// ---------------------------------------------------------------------------------------------
// Stripe-shaped objects

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`
const nowSeconds = () => Math.floor(Date.now() / 1000)

export const customerFixture = (overrides: Partial<Stripe.Customer> = {}): Stripe.Customer => ({
  id: newId("cus"),
  object: "customer",
  balance: 0,
  created: nowSeconds(),
  default_source: null,
  description: null,
  email: null,
  invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
  livemode: false,
  metadata: {},
  shipping: null,
  ...overrides
})

export const paymentMethodFixture = (overrides: Partial<Stripe.PaymentMethod> = {}): Stripe.PaymentMethod => ({
  id: newId("pm"),
  object: "payment_method",
  billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
  card: {
    brand: "visa",
    checks: null,
    country: "GB",
    display_brand: "visa",
    exp_month: 12,
    exp_year: 2034,
    funding: "credit",
    generated_from: null,
    last4: "4242",
    networks: null,
    regulated_status: null,
    three_d_secure_usage: null,
    wallet: null
  },
  created: nowSeconds(),
  customer: null,
  customer_account: null,
  livemode: false,
  metadata: {},
  type: "card",
  ...overrides
})

export const setupIntentFixture = (overrides: Partial<Stripe.SetupIntent> = {}): Stripe.SetupIntent => {
  const id = overrides.id ?? newId("seti")
  return {
    id,
    object: "setup_intent",
    allowed_payment_method_types: ["card"],
    application: null,
    automatic_payment_methods: null,
    cancellation_reason: null,
    client_secret: `${id}_secret_${randomBytes(8).toString("hex")}`,
    created: nowSeconds(),
    customer: null,
    description: null,
    excluded_payment_method_types: null,
    last_setup_error: null,
    latest_attempt: null,
    livemode: false,
    mandate: null,
    metadata: {},
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: null,
    payment_method_types: ["card"],
    single_use_mandate: null,
    status: "requires_payment_method",
    usage: "off_session",
    ...overrides
  }
}

export const paymentIntentFixture = (overrides: Partial<Stripe.PaymentIntent> = {}): Stripe.PaymentIntent => {
  const id = overrides.id ?? newId("pi")
  return {
    id,
    object: "payment_intent",
    allowed_payment_method_types: ["card"],
    amount: 0,
    amount_capturable: 0,
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic",
    client_secret: `${id}_secret_${randomBytes(8).toString("hex")}`,
    confirmation_method: "automatic",
    created: nowSeconds(),
    currency: "gbp",
    customer: null,
    customer_account: null,
    description: null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: {},
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: null,
    payment_method_types: ["card"],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: "requires_payment_method",
    transfer_group: null,
    ...overrides
  }
}

export const refundFixture = (overrides: Partial<Stripe.Refund> = {}): Stripe.Refund => ({
  id: newId("re"),
  object: "refund",
  amount: 0,
  balance_transaction: null,
  charge: null,
  created: nowSeconds(),
  currency: "gbp",
  customer: null,
  customer_account: null,
  metadata: {},
  payment_intent: null,
  payment_method: null,
  reason: null,
  receipt_number: null,
  source_transfer_reversal: null,
  status: "succeeded",
  transfer_reversal: null,
  ...overrides
})

/** A card Charge as Stripe shows it; a PaymentIntent's charge carries the intent's metadata. */
export const chargeFixture = (overrides: Partial<Stripe.Charge> = {}): Stripe.Charge => ({
  id: newId("ch"),
  object: "charge",
  amount: 0,
  amount_captured: 0,
  amount_refunded: 0,
  application: null,
  application_fee: null,
  application_fee_amount: null,
  balance_transaction: null,
  billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
  calculated_statement_descriptor: null,
  captured: false,
  created: nowSeconds(),
  currency: "gbp",
  customer: null,
  description: null,
  disputed: false,
  failure_balance_transaction: null,
  failure_code: null,
  failure_message: null,
  fraud_details: null,
  livemode: false,
  metadata: {},
  on_behalf_of: null,
  outcome: null,
  paid: false,
  payment_intent: null,
  payment_method: null,
  payment_method_details: null,
  receipt_email: null,
  receipt_number: null,
  receipt_url: null,
  refunded: false,
  review: null,
  shipping: null,
  source: null,
  source_transfer: null,
  statement_descriptor: null,
  statement_descriptor_suffix: null,
  status: "succeeded",
  transfer_data: null,
  transfer_group: null,
  ...overrides
})

// ---------------------------------------------------------------------------------------------
// Requests

interface Reply {
  readonly status: number
  readonly body: unknown
}

const ok = (body: unknown): Reply => ({ status: 200, body })
const failure = (status: number, error: StripeErrorBody): Reply => ({ status, body: { error } })
const missing = (kind: string, id: string, param: string) =>
  failure(404, { type: "invalid_request_error", code: "resource_missing", param, message: `No such ${kind}: '${id}'` })
const badParam = (code: string, param: string, message: string) =>
  failure(400, { type: "invalid_request_error", code, param, message })

/** Stripe's bracket notation (`a[b][0]=c`) into nested objects; arrays stay index-keyed objects. */
export const parseForm = (text: string): Params => {
  const root: Record<string, string | Params> = {}
  for (const [key, value] of new URLSearchParams(text)) {
    const path = key.split(/[[\]]/).filter((part) => part !== "")
    let node = root
    path.forEach((part, index) => {
      if (index === path.length - 1) {
        node[part] = value
      } else {
        const next = node[part]
        const child: Record<string, string | Params> = typeof next === "object" ? { ...next } : {}
        node[part] = child
        node = child
      }
    })
  }
  return root
}

const text = (params: Params, key: string): string | undefined => {
  const value = params[key]
  return typeof value === "string" ? value : undefined
}
const nested = (params: Params, key: string): Params => {
  const value = params[key]
  return typeof value === "object" ? value : {}
}
const strings = (params: Params): Record<string, string> =>
  Object.fromEntries(Object.entries(params).filter((entry): entry is [string, string] => typeof entry[1] === "string"))
const list = (params: Params, key: string): ReadonlyArray<string> => Object.values(strings(nested(params, key)))

const ALLOWED: Record<Route, ReadonlyArray<string>> = {
  "customers.create": ["metadata", "email", "description", "name", "expand"],
  "setupIntents.create": [
    "customer",
    "usage",
    "metadata",
    "allowed_payment_method_types",
    "automatic_payment_methods",
    "description",
    "expand"
  ],
  "setupIntents.retrieve": ["expand", "client_secret"],
  "paymentIntents.create": [
    "amount",
    "currency",
    "customer",
    "payment_method",
    "confirm",
    "off_session",
    "receipt_email",
    "metadata",
    "allowed_payment_method_types",
    "capture_method",
    "description",
    "expand"
  ],
  "paymentIntents.retrieve": ["expand", "client_secret"],
  "paymentIntents.search": ["query", "limit", "page", "expand"],
  "paymentIntents.list": ["created", "customer", "limit", "starting_after", "ending_before", "expand"],
  "paymentIntents.capture": ["amount_to_capture", "metadata", "expand"],
  "paymentIntents.cancel": ["cancellation_reason", "expand"],
  "refunds.create": ["payment_intent", "charge", "amount", "metadata", "reason", "expand"],
  "refunds.list": ["payment_intent", "charge", "limit", "starting_after", "ending_before", "expand"]
}

const routeOf = (method: string, path: string): { readonly route: Route; readonly id?: string } | undefined => {
  const parts = path.split("/").filter((part) => part !== "")
  if (parts[0] !== "v1") return undefined
  const [, resource, id, action, ...rest] = parts
  if (rest.length > 0 || resource === undefined) return undefined
  if (action !== undefined) {
    if (method === "POST" && resource === "payment_intents" && id !== undefined) {
      if (action === "capture") return { route: "paymentIntents.capture", id }
      if (action === "cancel") return { route: "paymentIntents.cancel", id }
    }
    return undefined
  }
  if (method === "POST" && resource === "customers" && id === undefined) return { route: "customers.create" }
  if (resource === "setup_intents") {
    if (method === "POST" && id === undefined) return { route: "setupIntents.create" }
    if (method === "GET" && id !== undefined) return { route: "setupIntents.retrieve", id }
  }
  if (resource === "payment_intents") {
    if (method === "POST" && id === undefined) return { route: "paymentIntents.create" }
    if (method === "GET" && id === "search") return { route: "paymentIntents.search" }
    if (method === "GET" && id !== undefined) return { route: "paymentIntents.retrieve", id }
    if (method === "GET") return { route: "paymentIntents.list" }
  }
  if (resource === "refunds" && id === undefined) {
    if (method === "POST") return { route: "refunds.create" }
    if (method === "GET") return { route: "refunds.list" }
  }
  return undefined
}

const SEARCH_BY_METADATA = /^metadata\['([^'\\]+)'\]:'((?:[^'\\]|\\.)*)'$/

class FakeStripe {
  private customers = new Map<string, Stripe.Customer>()
  private paymentMethods = new Map<string, Stripe.PaymentMethod>()
  private setupIntents = new Map<string, Stripe.SetupIntent>()
  /** In creation order; lists answer newest first, as Stripe does. */
  private paymentIntents = new Map<string, Stripe.PaymentIntent>()
  private searchable = new Set<string>()
  private searchIndexing = true
  private behaviours = new Map<string, CardBehaviour>()
  /** In creation order, like payment intents. */
  private refunds = new Map<string, Stripe.Refund>()
  private nowOverride: number | undefined = undefined
  private stored = new Map<string, { readonly fingerprint: string; readonly reply: Reply }>()
  private faults: Array<{ readonly route: Route; readonly fault: Fault; remaining: number }> = []
  private recorded: Array<RecordedRequest> = []

  shape(apiBase: StripeServerShape["apiBase"]): StripeServerShape {
    return {
      apiBase,
      requests: Effect.sync(() => [...this.recorded]),
      requestsFor: (route) => Effect.sync(() => this.recorded.filter((request) => request.route === route)),
      customers: Effect.sync(() => [...this.customers.values()]),
      paymentIntents: Effect.sync(() => [...this.paymentIntents.values()]),
      refunds: Effect.sync(() => [...this.refunds.values()]),
      chargeOf: (paymentIntentId) =>
        Effect.sync(() => {
          const intent = this.paymentIntents.get(paymentIntentId)
          const charge = intent === undefined ? undefined : this.chargeView(intent)
          if (charge === undefined) throw new Error(`StripeServer: PaymentIntent ${paymentIntentId} has no charge`)
          return charge
        }),
      payOnSession: (paymentIntentId, with_) => Effect.sync(() => this.payOnSession(paymentIntentId, with_)),
      refundInDashboard: (paymentIntentId, amount) =>
        Effect.sync(() => {
          const reply = this.createRefund({ paymentIntentId, amount, metadata: {} })
          if (reply.status !== 200) throw new Error(`StripeServer: cannot refund: ${JSON.stringify(reply.body)}`)
          return reply.body as Stripe.Refund
        }),
      expireHold: (paymentIntentId) =>
        Effect.sync(() => {
          const intent = this.paymentIntents.get(paymentIntentId)
          if (intent?.status !== "requires_capture") {
            throw new Error(`StripeServer: ${paymentIntentId} is not an uncaptured hold`)
          }
          this.paymentIntents.set(paymentIntentId, {
            ...intent,
            status: "canceled",
            amount_capturable: 0,
            canceled_at: this.now(),
            cancellation_reason: "automatic"
          })
        }),
      setNow: (seconds) =>
        Effect.sync(() => {
          this.nowOverride = seconds
        }),
      reset: Effect.sync(() => this.reset()),
      failNext: (route, fault, times = 1) =>
        Effect.sync(() => void this.faults.push({ route, fault, remaining: times })),
      setSearchIndexing: (on) =>
        Effect.sync(() => {
          this.searchIndexing = on
          if (on) for (const id of this.paymentIntents.keys()) this.searchable.add(id)
        }),
      completeCardSetUp: (setupIntentId, card) => Effect.sync(() => this.completeCardSetUp(setupIntentId, card)),
      updateSetupIntent: (setupIntentId, patch) =>
        Effect.sync(() => {
          const intent = this.setupIntents.get(setupIntentId)
          if (intent === undefined) throw new Error(`StripeServer: no SetupIntent ${setupIntentId}`)
          this.setupIntents.set(setupIntentId, { ...intent, ...patch })
        }),
      savedCard: (card) =>
        Effect.sync(() => {
          const customer = customerFixture()
          this.customers.set(customer.id, customer)
          const method = this.newCard(customer.id, card)
          return { customerId: customer.id, paymentMethodId: method.id }
        })
    }
  }

  private reset() {
    this.customers.clear()
    this.paymentMethods.clear()
    this.setupIntents.clear()
    this.paymentIntents.clear()
    this.refunds.clear()
    this.nowOverride = undefined
    this.searchable.clear()
    this.searchIndexing = true
    this.behaviours.clear()
    this.stored.clear()
    this.faults = []
    this.recorded = []
  }

  private now() {
    return this.nowOverride ?? nowSeconds()
  }

  private newCard(customerId: string | null, card: SavedCard = {}) {
    const byNumber = card.number === undefined ? undefined : behaviourOfCard(card.number)
    if (byNumber === "SetUpDeclined") throw new Error(`StripeServer: card ${card.number} cannot be saved`)
    const plain = paymentMethodFixture({
      customer: customerId,
      billing_details: { address: null, email: card.email ?? null, name: null, phone: null, tax_id: null }
    })
    const method =
      card.number === undefined || plain.card === undefined
        ? plain
        : { ...plain, card: { ...plain.card, last4: card.number.replace(/[\s-]/g, "").slice(-4) } }
    this.paymentMethods.set(method.id, method)
    this.behaviours.set(method.id, byNumber ?? card.behaviour ?? Cards.succeeds)
    return method
  }

  /**
   * What Stripe.js's `confirmCardSetup` does. The card declined at set-up (`4000000000000002`)
   * leaves the SetupIntent `requires_payment_method` with its error, and nothing saved.
   */
  private completeCardSetUp(setupIntentId: string, card?: SavedCard) {
    const intent = this.setupIntents.get(setupIntentId)
    if (intent === undefined) throw new Error(`StripeServer: no SetupIntent ${setupIntentId}`)
    if (card?.number !== undefined && behaviourOfCard(card.number) === "SetUpDeclined") {
      const method = paymentMethodFixture()
      this.setupIntents.set(setupIntentId, {
        ...intent,
        status: "requires_payment_method",
        last_setup_error: {
          type: "card_error",
          code: "card_declined",
          decline_code: "generic_decline",
          message: "Your card was declined."
        }
      })
      return method
    }
    const customerId = typeof intent.customer === "string" ? intent.customer : (intent.customer?.id ?? null)
    const method = this.newCard(customerId, card)
    this.setupIntents.set(setupIntentId, { ...intent, status: "succeeded", payment_method: method.id })
    return method
  }

  /** The charge behind a PaymentIntent's `latest_charge`, with what has been refunded of it. */
  private chargeView(intent: Stripe.PaymentIntent): Stripe.Charge | undefined {
    const id = typeof intent.latest_charge === "string" ? intent.latest_charge : intent.latest_charge?.id
    if (id === undefined) return undefined
    const refunded = this.refundedOf(intent.id)
    const captured = intent.status === "succeeded"
    const error = intent.last_payment_error
    return chargeFixture({
      id,
      amount: intent.amount,
      amount_captured: intent.amount_received,
      amount_refunded: refunded,
      captured,
      created: intent.created,
      customer: intent.customer,
      metadata: intent.metadata,
      paid: captured || intent.status === "requires_capture",
      payment_intent: intent.id,
      payment_method: typeof intent.payment_method === "string" ? intent.payment_method : null,
      refunded: captured && refunded >= intent.amount_received,
      status: error !== null ? "failed" : intent.status === "processing" ? "pending" : "succeeded",
      failure_code: error?.code ?? null,
      failure_message: error?.message ?? null
    })
  }

  private refundedOf(paymentIntentId: string) {
    return [...this.refunds.values()]
      .filter((refund) => refund.payment_intent === paymentIntentId && refund.status !== "failed")
      .reduce((sum, refund) => sum + refund.amount, 0)
  }

  /** `latest_charge` (or `data.latest_charge` in a list) expanded, when asked. */
  private expanded(intent: Stripe.PaymentIntent, expand: ReadonlyArray<string>, prefix = "") {
    if (!expand.includes(`${prefix}latest_charge`)) return intent
    return { ...intent, latest_charge: this.chargeView(intent) ?? null }
  }

  /** Confirms a PaymentIntent on-session, as the pay page does with Stripe.js. */
  private payOnSession(
    paymentIntentId: string,
    with_: { readonly paymentMethodId?: string; readonly card?: SavedCard; readonly authenticated?: boolean }
  ) {
    const intent = this.paymentIntents.get(paymentIntentId)
    if (intent === undefined) throw new Error(`StripeServer: no PaymentIntent ${paymentIntentId}`)
    if (!["requires_payment_method", "requires_confirmation", "requires_action"].includes(intent.status)) {
      throw new Error(`StripeServer: PaymentIntent ${paymentIntentId} is ${intent.status}; it cannot be confirmed`)
    }
    const customerId = typeof intent.customer === "string" ? intent.customer : (intent.customer?.id ?? null)
    const methodId =
      with_.paymentMethodId ??
      (with_.card !== undefined
        ? this.newCard(customerId, with_.card).id
        : typeof intent.payment_method === "string"
          ? intent.payment_method
          : undefined)
    if (methodId === undefined || !this.paymentMethods.has(methodId)) {
      throw new Error(`StripeServer: no card to confirm ${paymentIntentId} with`)
    }
    const behaviour = this.behaviours.get(methodId) ?? Cards.succeeds
    const charge = newId("ch")
    const base = { ...intent, payment_method: methodId, latest_charge: charge, next_action: null }
    const paid = (): Stripe.PaymentIntent =>
      intent.capture_method === "manual"
        ? { ...base, status: "requires_capture", amount_capturable: intent.amount, last_payment_error: null }
        : { ...base, status: "succeeded", amount_received: intent.amount, last_payment_error: null }
    const failed = (code: string, declineCode: string | undefined, message: string): Stripe.PaymentIntent => ({
      ...base,
      status: "requires_payment_method",
      last_payment_error: {
        type: "card_error",
        code,
        ...(declineCode === undefined ? {} : { decline_code: declineCode }),
        message,
        charge
      }
    })
    let next: Stripe.PaymentIntent
    switch (behaviour._tag) {
      case "Succeeds":
        next = paid()
        break
      case "Declines":
        next = failed("card_declined", behaviour.declineCode, behaviour.message)
        break
      case "NeedsAuthentication":
      case "RequiresAction":
        next =
          with_.authenticated === false
            ? failed(
                "payment_intent_authentication_failure",
                undefined,
                "We are unable to authenticate your payment method."
              )
            : paid()
        break
      case "Processing":
        next = { ...base, status: "processing" }
        break
    }
    this.paymentIntents.set(paymentIntentId, next)
    return next
  }

  private takeFault(route: Route | undefined): Fault | undefined {
    const index = this.faults.findIndex((entry) => entry.route === route && entry.remaining > 0)
    const entry = this.faults[index]
    if (entry === undefined) return undefined
    entry.remaining -= 1
    if (entry.remaining <= 0) this.faults.splice(index, 1)
    return entry.fault
  }

  respond(request: Http.IncomingMessage, response: Http.ServerResponse, body: string) {
    const method = request.method ?? "GET"
    const url = new URL(request.url ?? "/", "http://stripe.fake")
    const params = parseForm(method === "GET" ? url.search.slice(1) : body)
    const matched = routeOf(method, url.pathname)
    const header = (name: string) => {
      const value = request.headers[name]
      return typeof value === "string" ? value : undefined
    }
    const idempotencyKey = header("idempotency-key")
    const record = (outcome: RecordedRequest["outcome"]) =>
      this.recorded.push({
        route: matched?.route,
        method,
        path: url.pathname,
        params,
        idempotencyKey,
        stripeVersion: header("stripe-version"),
        outcome
      })
    const send = (reply: Reply, replayed: boolean) => {
      response.writeHead(reply.status, {
        "Content-Type": "application/json",
        "Request-Id": newId("req"),
        ...(replayed ? { "Idempotent-Replayed": "true" } : {})
      })
      response.end(JSON.stringify(reply.body))
    }

    const fault = this.takeFault(matched?.route)
    const afterHandling =
      fault?._tag === "DropAfterHandling" || fault?._tag === "HangAfterHandling" || fault?._tag === "ReplyAfterHandling"
    if (fault !== undefined && !afterHandling) {
      record("faulted")
      if (fault._tag === "Reply") send(failure(fault.status, fault.error), false)
      if (fault._tag === "DropBeforeHandling") request.socket.destroy()
      return // Hang: no answer at all
    }
    if (!/^Bearer \S+$/.test(header("authorization") ?? "")) {
      record("handled")
      return send(failure(401, { type: "invalid_request_error", message: "You did not provide an API key." }), false)
    }

    const handle = (): Reply => {
      if (matched === undefined) {
        return failure(404, {
          type: "invalid_request_error",
          message: `StripeServer (test fake) does not implement ${method} ${url.pathname}`
        })
      }
      const unknown = Object.keys(params).find((key) => !ALLOWED[matched.route].includes(key))
      if (unknown !== undefined) return badParam("parameter_unknown", unknown, `Received unknown parameter: ${unknown}`)
      return this.handle(matched.route, matched.id, params)
    }

    let reply: Reply
    let replayed = false
    if (method === "POST" && idempotencyKey !== undefined) {
      const fingerprint = `${method} ${url.pathname} ${JSON.stringify(params)}`
      const stored = this.stored.get(idempotencyKey)
      if (stored === undefined) {
        reply = handle()
        if (reply.status < 400 || reply.status === 402) this.stored.set(idempotencyKey, { fingerprint, reply })
      } else if (stored.fingerprint === fingerprint) {
        reply = stored.reply
        replayed = true
      } else {
        reply = failure(400, {
          type: "idempotency_error",
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`
        })
      }
    } else {
      reply = handle()
    }
    record(replayed ? "replayed" : "handled")
    if (fault?._tag === "DropAfterHandling") return void request.socket.destroy()
    if (fault?._tag === "HangAfterHandling") return
    if (fault?._tag === "ReplyAfterHandling") return send(failure(fault.status, fault.error), false)
    send(reply, replayed)
  }

  private handle(route: Route, id: string | undefined, params: Params): Reply {
    switch (route) {
      case "customers.create": {
        const customer = customerFixture({
          metadata: strings(nested(params, "metadata")),
          email: text(params, "email") ?? null
        })
        this.customers.set(customer.id, customer)
        return ok(customer)
      }
      case "setupIntents.create": {
        const customer = text(params, "customer")
        if (customer !== undefined && !this.customers.has(customer)) return missing("customer", customer, "customer")
        const types = list(params, "allowed_payment_method_types")
        const intent = setupIntentFixture({
          customer: customer ?? null,
          usage: text(params, "usage") ?? "off_session",
          metadata: strings(nested(params, "metadata")),
          allowed_payment_method_types: types.length > 0 ? [...types] : null,
          payment_method_types: types.length > 0 ? [...types] : ["card"]
        })
        this.setupIntents.set(intent.id, intent)
        return ok(intent)
      }
      case "setupIntents.retrieve": {
        const intent = id === undefined ? undefined : this.setupIntents.get(id)
        if (id === undefined || intent === undefined) return missing("setupintent", id ?? "", "intent")
        const methodId = typeof intent.payment_method === "string" ? intent.payment_method : undefined
        const method = methodId === undefined ? undefined : this.paymentMethods.get(methodId)
        const expand = list(params, "expand").includes("payment_method")
        return ok(expand && method !== undefined ? { ...intent, payment_method: method } : intent)
      }
      case "paymentIntents.create":
        return this.createPaymentIntent(params)
      case "paymentIntents.retrieve": {
        const intent = id === undefined ? undefined : this.paymentIntents.get(id)
        return id === undefined || intent === undefined
          ? missing("payment_intent", id ?? "", "intent")
          : ok(this.expanded(intent, list(params, "expand")))
      }
      case "paymentIntents.capture":
        return this.capture(id ?? "", params)
      case "paymentIntents.cancel":
        return this.cancel(id ?? "", params)
      case "refunds.create": {
        const paymentIntentId = text(params, "payment_intent")
        if (paymentIntentId === undefined) {
          return badParam("parameter_missing", "payment_intent", "Missing required param: payment_intent.")
        }
        const amountText = text(params, "amount")
        const amount = amountText === undefined ? undefined : Number(amountText)
        if (amount !== undefined && !(Number.isInteger(amount) && amount > 0)) {
          return badParam("parameter_invalid_integer", "amount", "Invalid positive integer: amount")
        }
        return this.createRefund({ paymentIntentId, amount, metadata: strings(nested(params, "metadata")) })
      }
      case "refunds.list": {
        const paymentIntentId = text(params, "payment_intent")
        const data = [...this.refunds.values()]
          .reverse()
          .filter((refund) => paymentIntentId === undefined || refund.payment_intent === paymentIntentId)
        return ok(this.page(data, params, "/v1/refunds"))
      }
      case "paymentIntents.search": {
        const query = text(params, "query") ?? ""
        const match = SEARCH_BY_METADATA.exec(query)
        if (match === null) {
          return badParam("parameter_invalid_string", "query", `StripeServer (test fake) cannot search for ${query}`)
        }
        const [, key = "", raw = ""] = match
        const value = raw.replace(/\\(.)/g, "$1")
        const data = this.newestFirst().filter(
          (intent) => this.searchable.has(intent.id) && intent.metadata[key] === value
        )
        const limit = Number(text(params, "limit") ?? "10")
        return ok({
          object: "search_result",
          data: data.slice(0, limit),
          has_more: data.length > limit,
          next_page: null,
          url: "/v1/payment_intents/search"
        } satisfies Stripe.ApiSearchResult<Stripe.PaymentIntent>)
      }
      case "paymentIntents.list": {
        const created = nested(params, "created")
        const bound = (key: string) => (text(created, key) === undefined ? undefined : Number(text(created, key)))
        const [gte, gt, lte, lt] = [bound("gte"), bound("gt"), bound("lte"), bound("lt")]
        const customer = text(params, "customer")
        let data = this.newestFirst().filter(
          (intent) =>
            (gte === undefined || intent.created >= gte) &&
            (gt === undefined || intent.created > gt) &&
            (lte === undefined || intent.created <= lte) &&
            (lt === undefined || intent.created < lt) &&
            (customer === undefined || intent.customer === customer)
        )
        const expand = list(params, "expand")
        data = data.map((intent) => this.expanded(intent, expand, "data."))
        return ok(this.page(data, params, "/v1/payment_intents"))
      }
    }
  }

  /** One page of a list, newest first: `limit` (at most 100), `starting_after`, `has_more`. */
  private page<T extends { readonly id: string }>(all: ReadonlyArray<T>, params: Params, url: string) {
    const after = text(params, "starting_after")
    const data = after === undefined ? all : all.slice(all.findIndex((item) => item.id === after) + 1)
    const limit = Math.min(Number(text(params, "limit") ?? "10"), 100)
    return {
      object: "list",
      data: data.slice(0, limit),
      has_more: data.length > limit,
      url
    } satisfies Stripe.ApiList<T>
  }

  private unexpectedState(intent: Stripe.PaymentIntent, message: string) {
    return failure(400, {
      type: "invalid_request_error",
      code: "payment_intent_unexpected_state",
      message,
      payment_intent: intent
    })
  }

  /** Captures a manual-capture intent, up to what it holds; Stripe releases the rest. */
  private capture(id: string, params: Params): Reply {
    const intent = this.paymentIntents.get(id)
    if (intent === undefined) return missing("payment_intent", id, "intent")
    if (intent.status !== "requires_capture") {
      return this.unexpectedState(
        intent,
        `This PaymentIntent could not be captured because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`
      )
    }
    const amountText = text(params, "amount_to_capture")
    const amount = amountText === undefined ? intent.amount_capturable : Number(amountText)
    if (!Number.isInteger(amount) || amount <= 0) {
      return badParam("parameter_invalid_integer", "amount_to_capture", "Invalid positive integer: amount_to_capture")
    }
    if (amount > intent.amount_capturable) {
      return badParam(
        "amount_too_large",
        "amount_to_capture",
        `The amount_to_capture (${amount}) must be less than or equal to the amount_capturable (${intent.amount_capturable}).`
      )
    }
    const captured: Stripe.PaymentIntent = {
      ...intent,
      status: "succeeded",
      amount_received: amount,
      amount_capturable: 0
    }
    this.paymentIntents.set(id, captured)
    return ok(captured)
  }

  private cancel(id: string, params: Params): Reply {
    const intent = this.paymentIntents.get(id)
    if (intent === undefined) return missing("payment_intent", id, "intent")
    if (intent.status === "succeeded" || intent.status === "canceled") {
      return this.unexpectedState(
        intent,
        `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`
      )
    }
    const reason = text(params, "cancellation_reason") as Stripe.PaymentIntent.CancellationReason | undefined
    const canceled: Stripe.PaymentIntent = {
      ...intent,
      status: "canceled",
      amount_capturable: 0,
      canceled_at: this.now(),
      cancellation_reason: reason ?? null
    }
    this.paymentIntents.set(id, canceled)
    return ok(canceled)
  }

  /** Refunds what is left of a succeeded intent's charge, or `amount` of it; never more. */
  private createRefund(request: {
    readonly paymentIntentId: string
    readonly amount: number | undefined
    readonly metadata: Record<string, string>
  }): Reply {
    const intent = this.paymentIntents.get(request.paymentIntentId)
    if (intent === undefined) return missing("payment_intent", request.paymentIntentId, "payment_intent")
    const charge = typeof intent.latest_charge === "string" ? intent.latest_charge : null
    if (intent.status !== "succeeded" || charge === null) {
      return failure(400, {
        type: "invalid_request_error",
        code: "charge_not_refundable",
        param: "payment_intent",
        message: `This PaymentIntent (${intent.id}) does not have a successful charge to refund.`
      })
    }
    const left = intent.amount_received - this.refundedOf(intent.id)
    if (left <= 0) {
      return failure(400, {
        type: "invalid_request_error",
        code: "charge_already_refunded",
        charge,
        message: `Charge ${charge} has already been refunded.`
      })
    }
    const amount = request.amount ?? left
    if (amount > left) {
      return badParam(
        "amount_too_large",
        "amount",
        `Refund amount (£${(amount / 100).toFixed(2)}) is greater than unrefunded amount on charge (£${(left / 100).toFixed(2)})`
      )
    }
    const refund = refundFixture({
      amount,
      charge,
      created: this.now(),
      payment_intent: intent.id,
      payment_method: typeof intent.payment_method === "string" ? intent.payment_method : null,
      metadata: request.metadata,
      status: "succeeded"
    })
    this.refunds.set(refund.id, refund)
    return ok(refund)
  }

  private newestFirst() {
    return [...this.paymentIntents.values()].reverse()
  }

  private createPaymentIntent(params: Params): Reply {
    const amountText = text(params, "amount")
    if (amountText === undefined) return badParam("parameter_missing", "amount", "Missing required param: amount.")
    const amount = Number(amountText)
    if (!Number.isInteger(amount)) {
      return badParam("parameter_invalid_integer", "amount", "Invalid integer: amount")
    }
    const currency = text(params, "currency")
    if (currency === undefined) return badParam("parameter_missing", "currency", "Missing required param: currency.")
    if (currency === "gbp" && amount < 30) {
      return badParam("amount_too_small", "amount", "Amount must be at least £0.30 gbp")
    }
    const customer = text(params, "customer")
    if (customer !== undefined && !this.customers.has(customer)) return missing("customer", customer, "customer")
    const methodId = text(params, "payment_method")
    const method = methodId === undefined ? undefined : this.paymentMethods.get(methodId)
    if (methodId !== undefined && method === undefined) return missing("PaymentMethod", methodId, "payment_method")

    const manual = text(params, "capture_method") === "manual"
    const base = paymentIntentFixture({
      amount,
      currency,
      capture_method: manual ? "manual" : "automatic",
      created: this.now(),
      customer: customer ?? null,
      payment_method: methodId ?? null,
      receipt_email: text(params, "receipt_email") ?? null,
      metadata: strings(nested(params, "metadata")),
      // Without a card the customer supplies one on-session (the pay page).
      status: methodId === undefined ? "requires_payment_method" : "requires_confirmation"
    })
    const save = (intent: Stripe.PaymentIntent) => {
      this.paymentIntents.set(intent.id, intent)
      if (this.searchIndexing) this.searchable.add(intent.id)
      return intent
    }
    if (text(params, "confirm") !== "true" || method === undefined) return ok(save(base))

    const offSession = text(params, "off_session") === "true"
    const behaviour = this.behaviours.get(method.id) ?? Cards.succeeds
    const charge = newId("ch")
    const cardError = (error: { code: string; decline_code: string; message: string }) => {
      const intent = save({
        ...base,
        status: "requires_payment_method",
        latest_charge: charge,
        last_payment_error: { type: "card_error", ...error, charge, payment_method: method }
      })
      return failure(402, { type: "card_error", ...error, charge, payment_intent: intent, payment_method: method })
    }
    switch (behaviour._tag) {
      case "Succeeds":
        // A hold (manual capture) is authorised, not taken: `requires_capture` until captured.
        return ok(
          save(
            manual
              ? { ...base, status: "requires_capture", amount_capturable: amount, latest_charge: charge }
              : { ...base, status: "succeeded", amount_received: amount, latest_charge: charge }
          )
        )
      case "Declines":
        return cardError({ code: "card_declined", decline_code: behaviour.declineCode, message: behaviour.message })
      case "NeedsAuthentication":
        if (offSession) {
          return cardError({
            code: "authentication_required",
            decline_code: "authentication_required",
            message: "Your card was declined. This transaction requires authentication."
          })
        }
        return ok(save({ ...base, status: "requires_action", next_action: { type: "use_stripe_sdk" } }))
      case "RequiresAction":
        return ok(save({ ...base, status: "requires_action", next_action: { type: "use_stripe_sdk" } }))
      case "Processing":
        return ok(save({ ...base, status: "processing", latest_charge: charge }))
    }
  }
}

const listen = (fake: FakeStripe) =>
  Effect.async<Http.Server>((resume) => {
    const server = Http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        try {
          fake.respond(request, response, Buffer.concat(chunks).toString("utf8"))
        } catch (error) {
          response.writeHead(500, { "Content-Type": "application/json" })
          response.end(
            JSON.stringify({ error: { type: "api_error", message: `StripeServer crashed: ${String(error)}` } })
          )
        }
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  })

const close = (server: Http.Server) =>
  Effect.async<void>((resume) => {
    // Hung requests keep their sockets open; close them so the server can stop.
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })
