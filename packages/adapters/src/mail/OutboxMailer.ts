/**
 * The embedded default's `Mailer`: every email is rendered as Resend would send it and kept
 * in the store's outbox (`qwip mail list`), once per message key. One summary line is
 * logged per email: kind, recipient domain and key, never a door code or a link's token.
 */
import { isForStaff, Mailer, type MailerShape, type Message, messageKey } from "@qwip/core"
import { Context, Effect, Layer, Option } from "effect"
import { type ManageLink, type RenderedEmail, renderMessage } from "./Templates.js"

export interface OutboxEntry {
  readonly id: string
  readonly messageKey: string
  readonly recipient: string
  readonly kind: Message["_tag"]
  readonly rendered: RenderedEmail
  readonly createdAt: Date
}

export interface OutboxShape {
  /** Keeps the email unless its key is already there; true when it was new. */
  readonly record: (
    entry: Omit<OutboxEntry, "id" | "createdAt"> & { readonly message: Message }
  ) => Effect.Effect<boolean>
  /** Emails, newest first. */
  readonly list: (limit: number) => Effect.Effect<ReadonlyArray<OutboxEntry>>
  readonly get: (id: string) => Effect.Effect<Option.Option<OutboxEntry>>
}

export class Outbox extends Context.Tag("@qwip/adapters/Outbox")<Outbox, OutboxShape>() {}

/** Where staff mail goes when nothing is configured. */
export const LOCAL_STAFF_ADDRESS = "staff@qwip.local"

export const makeOutboxMailer = (options: {
  readonly outbox: OutboxShape
  readonly manageLink: ManageLink
  readonly staffEmails?: ReadonlyArray<string>
}): MailerShape => ({
  send: (message) =>
    Effect.gen(function* () {
      const key = messageKey(message)
      const recipient = isForStaff(message)
        ? (options.staffEmails ?? [LOCAL_STAFF_ADDRESS]).join(", ")
        : "to" in message
          ? message.to
          : LOCAL_STAFF_ADDRESS
      const rendered = yield* renderMessage(message, { manageLink: options.manageLink })
      const fresh = yield* options.outbox.record({ messageKey: key, recipient, kind: message._tag, rendered, message })
      if (fresh) {
        yield* Effect.logInfo("email kept in outbox").pipe(
          Effect.annotateLogs({ kind: message._tag, to: recipient.replace(/^[^@,]*@/, "*@"), key })
        )
      }
    }).pipe(Effect.withSpan("Outbox.send"))
})

/** An outbox in memory, for tests. */
export const makeMemoryOutbox = (): OutboxShape => {
  const entries: Array<OutboxEntry> = []
  return {
    record: (entry) =>
      Effect.sync(() => {
        if (entries.some((e) => e.messageKey === entry.messageKey)) return false
        entries.push({
          id: String(entries.length + 1),
          messageKey: entry.messageKey,
          recipient: entry.recipient,
          kind: entry.kind,
          rendered: entry.rendered,
          createdAt: new Date()
        })
        return true
      }),
    list: (limit) => Effect.sync(() => [...entries].reverse().slice(0, limit)),
    get: (id) => Effect.sync(() => Option.fromNullable(entries.find((e) => e.id === id)))
  }
}

/** `Mailer` over the `Outbox` in context. */
export const layerOutboxMailer = (options: {
  readonly manageLink: ManageLink
  readonly staffEmails?: ReadonlyArray<string>
}) =>
  Layer.effect(
    Mailer,
    Effect.map(Outbox, (outbox) => makeOutboxMailer({ outbox, ...options }))
  )
