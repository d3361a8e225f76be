/**
 * Mail from the environment: Resend when `RESEND_API_KEY` is set (with `STAFF_EMAILS`), else
 * the store's outbox (`qwip mail list`). Either way a customer's email links to their session
 * at `APP_ORIGIN` with a fresh session token.
 */
import { Mailer, type SessionId } from "@qwip/core"
import { Config, type Duration, Effect, Layer, Option } from "effect"
import { makeOutboxMailer, type OutboxShape } from "../mail/OutboxMailer.js"
import { makeResendMailer, resendConfig } from "../mail/ResendMailer.js"
import { manageSessionUrl } from "../mail/Templates.js"
import { StoreRecords, type StoreRecordsShape } from "../store/Records.js"
import type { AccessTokensShape } from "../tokens/AccessTokens.js"
import { fromConfigError, type PlatformStartError } from "./StartError.js"

export interface PlatformMail {
  readonly kind: "resend" | "outbox"
  readonly layer: Layer.Layer<Mailer, never, StoreRecords>
}

/** The store's outbox as the mailer's `Outbox`. */
const outboxOver = (records: StoreRecordsShape): OutboxShape => ({
  record: (entry) =>
    records.addToOutbox({
      messageKey: entry.messageKey,
      recipient: entry.recipient,
      kind: entry.kind,
      message: entry.message,
      rendered: entry.rendered
    }),
  list: (limit) =>
    Effect.map(records.listOutbox(limit), (entries) =>
      entries.map((e) => ({
        id: e.id,
        messageKey: e.messageKey,
        recipient: e.recipient,
        kind: e.kind as never,
        rendered: e.rendered as never,
        createdAt: e.createdAt
      }))
    ),
  get: () => Effect.succeed(Option.none())
})

export const mailFromEnv = (options: {
  readonly tokens: AccessTokensShape
  /** Each call to Resend gives up after this. */
  readonly callDeadline: Duration.Duration
}): Effect.Effect<PlatformMail, PlatformStartError> =>
  Effect.gen(function* () {
    const appOrigin = yield* Config.string("APP_ORIGIN").pipe(
      Config.withDefault("https://qwip.co.uk"),
      Effect.mapError(fromConfigError)
    )
    const manageLink = (sessionId: SessionId) =>
      Effect.map(options.tokens.mintSession({ session_id: sessionId }), (t) => manageSessionUrl(t, appOrigin))
    const resend = yield* resendConfig.pipe(Effect.mapError(fromConfigError))
    return Option.match(resend, {
      onSome: (r): PlatformMail => ({
        kind: "resend",
        layer: Layer.succeed(
          Mailer,
          makeResendMailer({
            apiKey: r.apiKey,
            staffEmails: r.staffEmails,
            manageLink,
            deadline: options.callDeadline,
            ...(Option.isSome(r.baseUrl) ? { baseUrl: r.baseUrl.value } : {})
          })
        )
      }),
      onNone: (): PlatformMail => ({
        kind: "outbox",
        layer: Layer.effect(
          Mailer,
          Effect.map(StoreRecords, (records) => makeOutboxMailer({ outbox: outboxOver(records), manageLink }))
        )
      })
    })
  })
