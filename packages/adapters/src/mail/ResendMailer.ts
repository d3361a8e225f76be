/**
 * `Mailer` over Resend. Each message is sent with `Idempotency-Key = messageKey(message)`, so
 * a retry (ours, or the work queue's after a crash) never sends a second email within Resend's
 * 24-hour window. Staff messages go to `STAFF_EMAILS`; customers' to the address on the message.
 */
import { isForStaff, Mailer, type MailerShape, MailFailed, type Message, messageKey } from "@qwip/core"
import { Config, ConfigError, Duration, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { Resend } from "resend"
import { type ManageLink, type RenderedEmail, renderMessage } from "./Templates.js"

export const DEFAULT_FROM = "hello@qwip.co.uk"
export const DEFAULT_BASE_URL = "https://api.resend.com"

/** A few quick attempts for blips; anything longer is the work queue's job (`retryable`). */
export const defaultRetrySchedule: Schedule.Schedule<unknown> = Schedule.exponential("200 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(3))
)

export interface ResendMailerOptions {
  readonly apiKey: Redacted.Redacted<string>
  readonly from?: string
  /** Where `PaymentProblem` and `StaffAlert` go. */
  readonly staffEmails: ReadonlyArray<string>
  /** Resend's API origin; a local stand-in in tests. */
  readonly baseUrl?: string
  readonly manageLink: ManageLink
  /** Retries within one `send`, for transient failures only. */
  readonly retrySchedule?: Schedule.Schedule<unknown>
  /** Bounds one HTTP attempt; the SDK itself has no timeout. */
  readonly attemptTimeout?: Duration.DurationInput
  /**
   * Bounds a whole send, its retries included: the policy's `outsideCallDeadline`. Past it the
   * send fails as retryable (the message key makes a later send safe). Default 10 s.
   */
  readonly deadline?: Duration.DurationInput
}

/** The SDK's error result (it returns `{ data, error }` rather than throwing). */
interface ResendError {
  readonly name?: string
  readonly message?: string
  readonly statusCode?: number | null
}

type Outcome =
  | { readonly _tag: "Sent"; readonly id: string }
  /** The key was already used for a send; see `classifyResendError`. */
  | { readonly _tag: "AlreadySent" }

// Retrying now can help: the server or network blinked, or we were asked to slow down.
const TRANSIENT = new Set([
  "rate_limit_exceeded",
  "application_error",
  "internal_server_error",
  "concurrent_idempotent_requests"
])
// Retrying later can help, but not within seconds.
const LATER = new Set(["daily_quota_exceeded", "monthly_quota_exceeded"])

interface Classified {
  readonly retryable: boolean
  readonly retryNow: boolean
}

/** Decides what a Resend error means for retries. Validation and other 4xx are permanent. */
export const classifyResendError = (error: ResendError): Classified => {
  const status = error.statusCode ?? null
  const name = error.name ?? ""
  if (LATER.has(name)) return { retryable: true, retryNow: false }
  // The SDK reports network failures (and unparseable responses) with no status code.
  if (status === null || status >= 500 || status === 429 || TRANSIENT.has(name)) {
    return { retryable: true, retryNow: true }
  }
  return { retryable: false, retryNow: false }
}

class AttemptFailed {
  readonly _tag = "AttemptFailed"
  constructor(
    readonly failure: MailFailed,
    readonly retryNow: boolean
  ) {}
}

const domainOf = (address: string) => {
  const at = address.lastIndexOf("@")
  return at >= 0 ? address.slice(at + 1).toLowerCase() : "(no domain)"
}

export const makeResendMailer = (options: ResendMailerOptions): MailerShape => {
  const client = new Resend(Redacted.value(options.apiKey), { baseUrl: options.baseUrl ?? DEFAULT_BASE_URL })
  const from = options.from ?? DEFAULT_FROM
  const schedule = options.retrySchedule ?? defaultRetrySchedule
  const deadline = Duration.decode(options.deadline ?? Duration.seconds(10))
  const attemptTimeout = Duration.min(Duration.decode(options.attemptTimeout ?? Duration.seconds(10)), deadline)

  const recipientsFor = (message: Message, key: string): Effect.Effect<ReadonlyArray<string>, MailFailed> => {
    if (isForStaff(message)) {
      return options.staffEmails.length > 0
        ? Effect.succeed(options.staffEmails)
        : Effect.fail(
            new MailFailed({ messageKey: key, reason: "no staff addresses (STAFF_EMAILS)", retryable: false })
          )
    }
    // Customer messages carry their address; staff messages are handled above.
    return Effect.succeed("to" in message ? [message.to] : [])
  }

  // One HTTP attempt, mapped to an outcome or a failure that says whether to try again now.
  const attempt = (key: string, to: ReadonlyArray<string>, email: RenderedEmail) =>
    Effect.tryPromise({
      try: (signal) =>
        client.emails.send(
          { from, to: [...to], subject: email.subject, html: email.html, text: email.text },
          { idempotencyKey: key, signal }
        ),
      catch: (cause) =>
        new AttemptFailed(
          new MailFailed({ messageKey: key, reason: `Resend call failed: ${String(cause)}`, retryable: true }),
          true
        )
    }).pipe(
      Effect.timeoutFail({
        duration: attemptTimeout,
        onTimeout: () =>
          new AttemptFailed(
            new MailFailed({
              messageKey: key,
              reason: `Resend did not answer within ${Duration.format(attemptTimeout)}`,
              retryable: true
            }),
            true
          )
      }),
      Effect.flatMap((result): Effect.Effect<Outcome, AttemptFailed> => {
        if (result.error === null) return Effect.succeed({ _tag: "Sent", id: result.data.id })
        const error: ResendError = result.error
        // Resend only remembers a key once a send with it was accepted, so a clash means this
        // message already went out (a later render differs only in its freshly minted link).
        if (error.name === "invalid_idempotent_request") return Effect.succeed({ _tag: "AlreadySent" })
        const { retryNow, retryable } = classifyResendError(error)
        const status = error.statusCode ?? "no status"
        return Effect.fail(
          new AttemptFailed(
            new MailFailed({
              messageKey: key,
              reason: `Resend ${error.name ?? "error"} (${status}): ${error.message ?? "no message"}`,
              retryable
            }),
            retryNow
          )
        )
      })
    )

  const send = (message: Message) =>
    Effect.gen(function* () {
      const key = messageKey(message)
      const to = yield* recipientsFor(message, key)
      // Rendered once per send, so our own retries repeat the exact payload Resend saw.
      const email = yield* renderMessage(message, { manageLink: options.manageLink })
      const summary = {
        kind: message._tag,
        recipientDomain: [...new Set(to.map(domainOf))].join(","),
        messageKey: key
      }
      const outcome = yield* attempt(key, to, email).pipe(
        Effect.retry({ schedule, while: (e) => e.retryNow }),
        Effect.mapError((e) => e.failure),
        Effect.timeoutFail({
          duration: deadline,
          onTimeout: () =>
            new MailFailed({
              messageKey: key,
              reason: `Resend did not answer within ${Duration.format(deadline)}, retries included`,
              retryable: true
            })
        }),
        Effect.tapError((e) =>
          Effect.logWarning("mail not sent").pipe(
            Effect.annotateLogs({ ...summary, reason: e.reason, retryable: e.retryable })
          )
        )
      )
      yield* Effect.logInfo(outcome._tag === "Sent" ? "mail sent" : "mail already sent").pipe(
        Effect.annotateLogs(outcome._tag === "Sent" ? { ...summary, emailId: outcome.id } : summary)
      )
    }).pipe(Effect.withSpan("Mailer.send", { attributes: { kind: message._tag, messageKey: messageKey(message) } }))

  return { send }
}

// --- Configuration -------------------------------------------------------------------------

export interface ResendConfig {
  readonly apiKey: Redacted.Redacted<string>
  readonly staffEmails: ReadonlyArray<string>
  readonly baseUrl: Option.Option<string>
}

const parseStaffEmails = (raw: string): Effect.Effect<ReadonlyArray<string>, ConfigError.ConfigError> => {
  const emails = raw
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e.length > 0)
  const bad = emails.find((e) => !/^[^\s@]+@[^\s@]+$/.test(e))
  if (emails.length === 0) {
    return Effect.fail(ConfigError.InvalidData(["STAFF_EMAILS"], "STAFF_EMAILS lists no addresses"))
  }
  if (bad !== undefined) {
    return Effect.fail(ConfigError.InvalidData(["STAFF_EMAILS"], `STAFF_EMAILS has an invalid address: ${bad}`))
  }
  return Effect.succeed(emails)
}

/**
 * Resend settings, or none when `RESEND_API_KEY` is unset (the entry point then uses the
 * store's outbox). With a key, `STAFF_EMAILS` is required: staff alerts must go somewhere.
 */
export const resendConfig: Effect.Effect<Option.Option<ResendConfig>, ConfigError.ConfigError> = Effect.gen(
  function* () {
    const apiKey = yield* Config.option(Config.redacted("RESEND_API_KEY"))
    if (Option.isNone(apiKey) || Redacted.value(apiKey.value).trim() === "") return Option.none()
    const staff = yield* Config.option(Config.string("STAFF_EMAILS"))
    if (Option.isNone(staff)) {
      return yield* Effect.fail(
        ConfigError.MissingData(
          ["STAFF_EMAILS"],
          "STAFF_EMAILS is required when RESEND_API_KEY is set (comma-separated)"
        )
      )
    }
    const staffEmails = yield* parseStaffEmails(staff.value)
    const baseUrl = yield* Config.option(Config.nonEmptyString("RESEND_BASE_URL"))
    return Option.some({ apiKey: apiKey.value, staffEmails, baseUrl })
  }
)

/** `Mailer` over Resend from the environment; fails naming `RESEND_API_KEY` when it is unset. */
export const layerFromConfig = (deps: {
  readonly manageLink: ManageLink
  readonly from?: string
}): Layer.Layer<Mailer, ConfigError.ConfigError> =>
  Layer.effect(
    Mailer,
    Effect.gen(function* () {
      const config = yield* resendConfig
      if (Option.isNone(config)) {
        return yield* Effect.fail(
          ConfigError.MissingData(["RESEND_API_KEY"], "RESEND_API_KEY is required to send email")
        )
      }
      const { apiKey, staffEmails, baseUrl } = config.value
      return makeResendMailer({
        apiKey,
        staffEmails,
        manageLink: deps.manageLink,
        ...(deps.from === undefined ? {} : { from: deps.from }),
        ...(Option.isSome(baseUrl) ? { baseUrl: baseUrl.value } : {})
      })
    })
  )
