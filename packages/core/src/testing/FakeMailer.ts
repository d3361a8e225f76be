/**
 * Records the emails the platform sends, once per message key (like Resend's idempotency).
 */
import { Context, Effect, Layer } from "effect"
import { type Message, messageKey } from "../Messages.js"
import { Mailer, type MailerShape, MailFailed } from "../ports/Mailer.js"
import { type Faults, makeFaults } from "./Faults.js"

export interface FakeMailerControl {
  readonly faults: Faults<"send">
  readonly sent: () => ReadonlyArray<Message>
}

export class FakeMailer extends Context.Tag("@qwip/core/testing/FakeMailer")<FakeMailer, FakeMailerControl>() {}

export const makeFakeMailer = () => {
  const faults = makeFaults<"send">()
  const sent = new Map<string, Message>()
  const mailer: MailerShape = {
    send: (message) =>
      Effect.suspend(() => {
        const key = messageKey(message)
        if (faults.take("send", "before")) {
          return Effect.fail(new MailFailed({ messageKey: key, reason: "mail service unavailable", retryable: true }))
        }
        if (!sent.has(key)) sent.set(key, message)
        return Effect.void
      })
  }
  return { mailer, control: { faults, sent: () => [...sent.values()] } satisfies FakeMailerControl }
}

export const layerFakeMailer = Layer.effectContext(
  Effect.sync(() => {
    const { mailer, control } = makeFakeMailer()
    return Context.make(Mailer, mailer).pipe(Context.add(FakeMailer, control))
  })
)
