/**
 * Sends the platform's emails (Resend in production; an outbox in the store when embedded).
 */
import { Context, type Effect, Schema } from "effect"
import type { Message } from "../Messages.js"

export class MailFailed extends Schema.TaggedError<MailFailed>()("MailFailed", {
  messageKey: Schema.String,
  reason: Schema.String,
  /** False when retrying cannot help (e.g. the address is invalid). */
  retryable: Schema.Boolean
}) {
  override get message() {
    return `email ${this.messageKey} not sent: ${this.reason}`
  }
}

export interface MailerShape {
  /** Sends once per message key: a repeat with the same key sends nothing new. */
  readonly send: (message: Message) => Effect.Effect<void, MailFailed>
}

export class Mailer extends Context.Tag("@qwip/core/Mailer")<Mailer, MailerShape>() {}
