/**
 * `Payments` over Stripe. A booking gets its own Customer and an off-session card SetupIntent
 * tagged with the pod; ending a session makes one off-session PaymentIntent in GBP tagged with
 * the session, under the session's idempotency key, so every retry (ours, the SDK's, another
 * process's) is the same charge. A charge Stripe may or may not have made is
 * `PaymentsUnavailable`, never a decline.
 */
import {
  type CardSetUpResult,
  type CardSetUpStarted,
  type ChargeReading,
  type ChargeRequest,
  type ChargeResult,
  customerEmail,
  Payments,
  type PaymentsShape,
  PaymentsUnavailable,
  type PodId,
  pence,
  type SessionId,
  SetupIntentId,
  SetupIntentNotFound
} from "@qwip/core"
import { Clock, Config, ConfigError, Data, Effect, Either, Layer, Option, Redacted } from "effect"
import Stripe from "stripe"
import { StripeWebhooks } from "./StripeWebhooks.js"

/**
 * The API version requests are pinned to: the one the installed SDK's types describe. Pinned
 * here rather than left to the account's default so a dashboard upgrade cannot change the
 * objects under us; `satisfies` makes an SDK upgrade that moves the version fail to compile.
 */
export const STRIPE_API_VERSION = "2026-10-28.endive" satisfies Stripe.LatestApiVersion

/** Stripe's documented worst case for a new object to reach search (during incidents). */
const SEARCH_LAG_SECONDS = 60 * 60
/** Bounds the consistent fallback scan; Qwip makes far fewer charges than this in an hour. */
const MAX_SCANNED = 1000

export interface StripeApiBase {
  readonly host: string
  readonly port: number
  readonly protocol: "http" | "https"
}

export interface StripePaymentsOptions {
  readonly secretKey: Redacted.Redacted<string>
  /** Another API origin (a local stand-in); Stripe's own when absent. */
  readonly apiBase?: StripeApiBase
  /**
   * The SDK's own retries of one call (same idempotency key, backoff). Default 0: the core
   * retries (its policy counts every attempt against the work's lease), and its deadline on
   * each call must hold the SDK's retries too.
   */
  readonly maxNetworkRetries?: number
  /** Per request, in milliseconds: the policy's `outsideCallDeadline`. Default 10 000. */
  readonly timeoutMs?: number
}

type StripeError = Stripe.errors.StripeError

/**
 * Stripe refused a request because of how we made it: a bug, not something a caller can
 * handle, so it travels as a defect. Carries Stripe's words and request id, not the raw error
 * (whose embedded objects hold card holders' details).
 */
export class StripeRequestRejected extends Data.TaggedError("StripeRequestRejected")<{
  readonly operation: string
  readonly errorType: string
  readonly status: number | undefined
  readonly code: string | undefined
  readonly detail: string
  readonly requestId: string | undefined
}> {
  override get message() {
    const code = this.code === undefined ? "" : ` ${this.code}`
    const request = this.requestId === undefined ? "" : ` [request ${this.requestId}]`
    return `Stripe rejected ${this.operation} (${this.errorType} ${this.status ?? "?"}${code}): ${this.detail}${request}`
  }
}

const rejected = (operation: string, error: StripeError) =>
  new StripeRequestRejected({
    operation,
    errorType: error.type,
    status: error.statusCode,
    code: error.code,
    detail: error.message,
    requestId: error.requestId
  })

const withRequestId = (reason: string, error: StripeError) =>
  error.requestId === undefined ? reason : `${reason} [request ${error.requestId}]`

/**
 * Stripe's 409 `idempotency_key_in_use`: a request with the same key is still running, so
 * its outcome is not known yet. Read from the status and code, never from the error's class:
 * which class the SDK maps a 409 to is its choice, and a decline must never be recorded for it.
 */
export const isKeyInUse = (error: Pick<StripeError, "statusCode" | "code">): boolean =>
  error.statusCode === 409 && error.code === "idempotency_key_in_use"

/**
 * Failures that may pass: the network, Stripe's own faults (5xx, and 409 for a request with
 * the same key still running), rate limits, and a refused key (an operator can fix it; until
 * then a charge stays "unknown" and is settled later rather than lost). `undefined` otherwise.
 */
const transientReason = (error: StripeError): string | undefined => {
  if (isKeyInUse(error)) return "a request with the same key is still in progress at Stripe; ask again later"
  if (error instanceof Stripe.errors.StripeConnectionError) return `could not reach Stripe: ${error.message}`
  if (error instanceof Stripe.errors.StripeRateLimitError) return `Stripe is rate limiting requests: ${error.message}`
  if (error instanceof Stripe.errors.StripeAuthenticationError) {
    return "Stripe refused the API key (401): check STRIPE_SECRET"
  }
  if (error instanceof Stripe.errors.StripePermissionError) {
    return `the API key may not do this (403): ${error.message}`
  }
  if (error instanceof Stripe.errors.StripeAPIError || (error.statusCode ?? 0) >= 500) {
    return `Stripe failed (${error.statusCode ?? "no status"}): ${error.message}`
  }
  return undefined
}

/** A Stripe failure as `PaymentsUnavailable` when it may pass, else a defect. */
const unavailableOrDie =
  (operation: string) =>
  (error: StripeError): Effect.Effect<never, PaymentsUnavailable> => {
    const reason = transientReason(error)
    return reason === undefined
      ? Effect.die(rejected(operation, error))
      : Effect.fail(new PaymentsUnavailable({ operation, reason: withRequestId(reason, error) }))
  }

const isMissing = (error: StripeError) =>
  error instanceof Stripe.errors.StripeInvalidRequestError &&
  (error.code === "resource_missing" || error.statusCode === 404)

const idOf = (value: string | { readonly id: string } | null): Option.Option<string> =>
  value === null ? Option.none() : Option.some(typeof value === "string" ? value : value.id)

/**
 * Stripe's SetupIntent status in the port's words. `requires_confirmation` (a card attached
 * but not confirmed) leaves the next step with the customer, like `requires_action`.
 */
const setUpStatusOf = (status: Stripe.SetupIntent.Status): CardSetUpResult["status"] => {
  switch (status) {
    case "succeeded":
      return "succeeded"
    case "processing":
      return "processing"
    case "requires_action":
      return "requires_action"
    case "requires_payment_method":
      return "requires_payment_method"
    case "canceled":
      return "canceled"
    case "requires_confirmation":
      return "requires_action"
    default:
      // A status newer than this adapter: not usable yet, and finalize says so (409).
      return "processing"
  }
}

const emailOf = (paymentMethod: Stripe.SetupIntent["payment_method"]): string => {
  const email = typeof paymentMethod === "object" && paymentMethod !== null ? paymentMethod.billing_details.email : null
  return customerEmail(email)
}

/**
 * What a PaymentIntent says about a charge. An off-session charge that needs the card holder
 * (SCA) leaves the intent in `requires_payment_method` with `authentication_required`, so that
 * reads as `NeedsAuthentication`, as `chargeSession` answered at the time.
 */
export const readingOf = (intent: Stripe.PaymentIntent): ChargeReading => {
  switch (intent.status) {
    case "succeeded":
      return { _tag: "Succeeded", paymentIntentId: intent.id, amountPence: pence(intent.amount_received) }
    case "requires_action":
      return { _tag: "NeedsAuthentication", paymentIntentId: intent.id }
    case "requires_payment_method":
    case "canceled": {
      const error = intent.last_payment_error
      if (intent.status === "requires_payment_method" && error?.code === "authentication_required") {
        return { _tag: "NeedsAuthentication", paymentIntentId: intent.id }
      }
      const fallback =
        intent.status === "canceled"
          ? {
              code: "canceled",
              message: `the payment was canceled (${intent.cancellation_reason ?? "no reason given"})`
            }
          : { code: "requires_payment_method", message: "the payment was never attempted" }
      return {
        _tag: "Declined",
        paymentIntentId: Option.some(intent.id),
        code: error?.decline_code ?? error?.code ?? fallback.code,
        message: error?.message ?? fallback.message
      }
    }
    default:
      // processing, requires_confirmation, requires_capture, or newer: not final yet.
      return { _tag: "Processing", paymentIntentId: intent.id }
  }
}

/** Of several intents for one session (there should be one): a success, else the newest. */
const mostTelling = (intents: ReadonlyArray<Stripe.PaymentIntent>): Option.Option<Stripe.PaymentIntent> => {
  const succeeded = intents.find((intent) => intent.status === "succeeded")
  if (succeeded !== undefined) return Option.some(succeeded)
  return Option.fromNullable([...intents].sort((a, b) => b.created - a.created)[0])
}

/** Stripe's search syntax quotes values in `'`; a backslash escapes. */
const quoted = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`

/**
 * A charge refusal in the port's words. A card error is a decline, unless it asks for the card
 * holder's authentication. An invalid request for a charge is a decline too when its code is
 * about this customer's data (a Customer or PaymentMethod deleted at Stripe: `resource_missing`,
 * ...): the session then closes and the founders are told, as for any decline, where a defect
 * would leave the session retrying for ever. A parameter error (`parameter_*`) or one without a
 * code (an unknown URL) is our bug, the same for every charge, and an idempotency error means one
 * key was used for two different charges: those are defects.
 */
export const chargeFailure = (error: StripeError): Effect.Effect<ChargeResult, PaymentsUnavailable> => {
  // In progress, whatever class it arrives as: ask again later, never a decline.
  if (isKeyInUse(error)) return unavailableOrDie("chargeSession")(error)
  const intent = error.payment_intent
  if (error instanceof Stripe.errors.StripeCardError) {
    if (intent !== undefined && (error.code === "authentication_required" || intent.status === "requires_action")) {
      return Effect.succeed({ _tag: "NeedsAuthentication", paymentIntentId: intent.id })
    }
    return Effect.succeed({
      _tag: "Declined",
      paymentIntentId: Option.fromNullable(intent?.id),
      code: error.decline_code ?? error.code ?? "card_declined",
      message: error.message
    })
  }
  const code = error.code
  if (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    code !== undefined &&
    !code.startsWith("parameter_")
  ) {
    return Effect.succeed({
      _tag: "Declined",
      paymentIntentId: Option.fromNullable(intent?.id),
      code,
      message: error.message
    })
  }
  return unavailableOrDie("chargeSession")(error)
}

export const makeStripePayments = (options: StripePaymentsOptions): Effect.Effect<PaymentsShape> =>
  Effect.sync(() => {
    const client = new Stripe(Redacted.value(options.secretKey), {
      apiVersion: STRIPE_API_VERSION,
      maxNetworkRetries: options.maxNetworkRetries ?? 0,
      timeout: options.timeoutMs ?? 10_000,
      appInfo: { name: "qwip-platform" },
      ...(options.apiBase === undefined
        ? {}
        : { host: options.apiBase.host, port: options.apiBase.port, protocol: options.apiBase.protocol })
    })

    /** The one place the SDK is called: a span per call; Stripe's errors typed, anything else a defect. */
    const call = <A>(
      operation: string,
      run: (stripe: Stripe) => Promise<A>,
      attributes: Record<string, unknown> = {}
    ): Effect.Effect<A, StripeError> =>
      Effect.tryPromise({ try: () => run(client), catch: (cause) => cause }).pipe(
        Effect.catchAll((cause) =>
          cause instanceof Stripe.errors.StripeError ? Effect.fail(cause) : Effect.die(cause)
        ),
        Effect.withSpan(`Stripe.${operation}`, { attributes })
      )

    const setUpCard = Effect.fn("StripePayments.setUpCard")(
      function* (request: { readonly podId: PodId; readonly idempotencyKey: string }) {
        const metadata = { pod_id: request.podId }
        const customer = yield* call(
          "customers.create",
          (stripe) => stripe.customers.create({ metadata }, { idempotencyKey: `${request.idempotencyKey}:customer` }),
          { podId: request.podId }
        )
        const intent = yield* call(
          "setupIntents.create",
          (stripe) =>
            stripe.setupIntents.create(
              {
                customer: customer.id,
                usage: "off_session",
                // Cards only: they settle at once, off-session. Automatic methods could offer debits
                // that stay `processing` for days, which a per-minute session cannot wait for.
                allowed_payment_method_types: ["card"],
                metadata
              },
              { idempotencyKey: `${request.idempotencyKey}:setup-intent` }
            ),
          { podId: request.podId }
        )
        if (intent.client_secret === null) {
          return yield* Effect.dieMessage(`Stripe returned SetupIntent ${intent.id} without a client secret`)
        }
        return {
          setupIntentId: SetupIntentId.make(intent.id),
          clientSecret: intent.client_secret,
          customerId: customer.id
        } satisfies CardSetUpStarted
      },
      Effect.catchAll(unavailableOrDie("setUpCard"))
    )

    const readCardSetUp = Effect.fn("StripePayments.readCardSetUp")(function* (setupIntentId: SetupIntentId) {
      const intent = yield* call(
        "setupIntents.retrieve",
        (stripe) => stripe.setupIntents.retrieve(setupIntentId, { expand: ["payment_method"] }),
        { setupIntentId }
      ).pipe(
        Effect.catchAll(
          (error): Effect.Effect<never, PaymentsUnavailable | SetupIntentNotFound> =>
            isMissing(error)
              ? Effect.fail(new SetupIntentNotFound({ setupIntentId }))
              : unavailableOrDie("readCardSetUp")(error)
        )
      )
      return {
        setupIntentId,
        status: setUpStatusOf(intent.status),
        podId: Option.fromNullable(intent.metadata?.pod_id),
        customerId: idOf(intent.customer),
        paymentMethodId: idOf(intent.payment_method),
        email: emailOf(intent.payment_method)
      } satisfies CardSetUpResult
    })

    const chargeSession = Effect.fn("StripePayments.chargeSession")(function* (request: ChargeRequest) {
      return yield* call(
        "paymentIntents.create",
        (stripe) =>
          stripe.paymentIntents.create(
            {
              amount: request.amountPence,
              currency: "gbp",
              customer: request.customerId,
              payment_method: request.paymentMethodId,
              confirm: true,
              off_session: true,
              receipt_email: request.receiptEmail,
              // Explicit types keep automatic payment methods (and their return_url) out of it.
              allowed_payment_method_types: ["card"],
              metadata: { session_id: request.sessionId }
            },
            { idempotencyKey: request.idempotencyKey }
          ),
        { sessionId: request.sessionId, amountPence: request.amountPence }
      ).pipe(
        Effect.matchEffect({
          onFailure: chargeFailure,
          onSuccess: (intent): Effect.Effect<ChargeResult, PaymentsUnavailable> => {
            const reading = readingOf(intent)
            // Not a definite answer yet: the caller records "unknown" and reads it back later.
            return reading._tag === "Processing"
              ? Effect.fail(
                  new PaymentsUnavailable({
                    operation: "chargeSession",
                    reason: `PaymentIntent ${intent.id} is ${intent.status}; the outcome is not known yet`
                  })
                )
              : Effect.succeed(reading)
          }
        })
      )
    })

    /**
     * Search finds a session's intents across all time but lags writes (usually under a minute,
     * up to an hour during incidents), so a charge made moments ago may be missing from it. When
     * search finds nothing, the consistent list endpoint is scanned for the last hour too.
     * `None` therefore means no intent exists, not merely that search has not seen it.
     */
    const intentsForSession = (sessionId: SessionId, customerId: string | undefined) =>
      Effect.gen(function* () {
        // Each booking has its own customer: its list is exact and small, unlike search.
        if (customerId !== undefined) {
          const listed = yield* call(
            "paymentIntents.list",
            async (stripe) => {
              const matches: Array<Stripe.PaymentIntent> = []
              for await (const intent of stripe.paymentIntents.list({ customer: customerId, limit: 100 })) {
                if (intent.metadata?.session_id === sessionId) matches.push(intent)
              }
              return matches
            },
            { sessionId }
          )
          if (listed.length > 0) return listed
        }
        const found = yield* call(
          "paymentIntents.search",
          (stripe) =>
            stripe.paymentIntents.search({ query: `metadata['session_id']:${quoted(sessionId)}`, limit: 100 }),
          { sessionId }
        )
        if (found.data.length > 0) return found.data
        const since = Math.floor((yield* Clock.currentTimeMillis) / 1000) - SEARCH_LAG_SECONDS
        const scan = yield* call(
          "paymentIntents.list",
          async (stripe) => {
            const matches: Array<Stripe.PaymentIntent> = []
            let scanned = 0
            for await (const intent of stripe.paymentIntents.list({ created: { gte: since }, limit: 100 })) {
              if (intent.metadata?.session_id === sessionId) matches.push(intent)
              scanned += 1
              if (scanned >= MAX_SCANNED) return { matches, complete: false }
            }
            return { matches, complete: true }
          },
          { sessionId }
        )
        if (scan.matches.length === 0 && !scan.complete) {
          return yield* new PaymentsUnavailable({
            operation: "readCharge",
            reason: `search has no charge for session ${sessionId} and over ${MAX_SCANNED} charges were made in the last hour; try again once search catches up`
          })
        }
        return scan.matches
      })

    const readCharge = Effect.fn("StripePayments.readCharge")(function* (request: {
      readonly sessionId: SessionId
      readonly paymentIntentId: Option.Option<string>
      readonly customerId?: string | undefined
    }) {
      if (Option.isNone(request.paymentIntentId)) {
        const intents = yield* intentsForSession(request.sessionId, request.customerId).pipe(
          Effect.catchIf(
            (error): error is StripeError => !(error instanceof PaymentsUnavailable),
            unavailableOrDie("readCharge")
          )
        )
        return Option.map(mostTelling(intents), readingOf)
      }
      const paymentIntentId = request.paymentIntentId.value
      const intent = yield* call(
        "paymentIntents.retrieve",
        (stripe) => stripe.paymentIntents.retrieve(paymentIntentId),
        {
          sessionId: request.sessionId,
          paymentIntentId
        }
      ).pipe(
        Effect.map(Option.some),
        Effect.catchAll((error) => (isMissing(error) ? Effect.succeedNone : unavailableOrDie("readCharge")(error)))
      )
      const chargedSession = Option.flatMap(intent, (found) => Option.fromNullable(found.metadata?.session_id))
      // Another session's charge must never settle this one: a mix-up in stored ids is a bug.
      if (Option.isSome(chargedSession) && chargedSession.value !== request.sessionId) {
        return yield* Effect.dieMessage(
          `PaymentIntent ${paymentIntentId} belongs to session ${chargedSession.value}, not ${request.sessionId}`
        )
      }
      return Option.map(intent, readingOf)
    })

    return { setUpCard, readCardSetUp, chargeSession, readCharge } satisfies PaymentsShape
  })

/** `Payments` over Stripe, from explicit options. */
export const layer = (options: StripePaymentsOptions): Layer.Layer<Payments> =>
  Layer.effect(Payments, makeStripePayments(options))

/** Stripe's settings from the environment. */
export interface StripeSettings {
  readonly secretKey: Redacted.Redacted<string>
  readonly webhookSecret: Redacted.Redacted<string>
  /** `STRIPE_API_BASE`: a local stand-in's origin, for tests and development. */
  readonly apiBase: Option.Option<StripeApiBase>
}

const apiBaseOf = (url: URL): Either.Either<StripeApiBase, ConfigError.ConfigError> => {
  const protocol = url.protocol === "http:" ? "http" : url.protocol === "https:" ? "https" : undefined
  if (protocol === undefined || (url.pathname !== "/" && url.pathname !== "") || url.search !== "") {
    return Either.left(
      ConfigError.InvalidData(
        ["STRIPE_API_BASE"],
        "STRIPE_API_BASE must be an http(s) origin such as http://127.0.0.1:12111"
      )
    )
  }
  const port = url.port === "" ? (protocol === "https" ? 443 : 80) : Number(url.port)
  return Either.right({ host: url.hostname, port, protocol })
}

const nonBlank = (name: string, secret: Option.Option<Redacted.Redacted<string>>) =>
  Option.isSome(secret) && Redacted.value(secret.value).trim() === ""
    ? Either.left(ConfigError.InvalidData([name], `${name} is set but empty`))
    : Either.right(secret)

/**
 * `STRIPE_SECRET` and `STRIPE_WEBHOOK_SECRET` go together: `None` when neither is set (the
 * entry point may then use the sandbox), a one-line error naming the missing one when only one
 * is. `STRIPE_API_BASE` is optional.
 */
export const stripeSettings: Config.Config<Option.Option<StripeSettings>> = Config.all({
  secretKey: Config.option(Config.redacted("STRIPE_SECRET")),
  webhookSecret: Config.option(Config.redacted("STRIPE_WEBHOOK_SECRET")),
  apiBase: Config.option(Config.url("STRIPE_API_BASE"))
}).pipe(
  Config.mapOrFail((raw) =>
    Either.gen(function* () {
      const secretKey = yield* nonBlank("STRIPE_SECRET", raw.secretKey)
      const webhookSecret = yield* nonBlank("STRIPE_WEBHOOK_SECRET", raw.webhookSecret)
      const apiBase = Option.isSome(raw.apiBase) ? Option.some(yield* apiBaseOf(raw.apiBase.value)) : Option.none()
      if (Option.isSome(secretKey) && Option.isSome(webhookSecret)) {
        return Option.some<StripeSettings>({ secretKey: secretKey.value, webhookSecret: webhookSecret.value, apiBase })
      }
      if (Option.isSome(secretKey)) {
        return yield* Either.left(
          ConfigError.MissingData(
            ["STRIPE_WEBHOOK_SECRET"],
            "STRIPE_WEBHOOK_SECRET is not set but STRIPE_SECRET is; set both"
          )
        )
      }
      if (Option.isSome(webhookSecret)) {
        return yield* Either.left(
          ConfigError.MissingData(["STRIPE_SECRET"], "STRIPE_SECRET is not set but STRIPE_WEBHOOK_SECRET is; set both")
        )
      }
      return Option.none()
    })
  )
)

/** `Payments` and `StripeWebhooks` from the environment; both secrets are required. */
export const layerFromConfig: Layer.Layer<Payments | StripeWebhooks, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const settings = yield* stripeSettings
    if (Option.isNone(settings)) {
      return yield* Effect.fail(
        ConfigError.MissingData(["STRIPE_SECRET"], "STRIPE_SECRET and STRIPE_WEBHOOK_SECRET are not set")
      )
    }
    const { secretKey, webhookSecret, apiBase } = settings.value
    return Layer.merge(
      layer(Option.match(apiBase, { onNone: () => ({ secretKey }), onSome: (base) => ({ secretKey, apiBase: base }) })),
      StripeWebhooks.layer({ webhookSecret })
    )
  })
)
