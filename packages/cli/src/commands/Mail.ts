/**
 * `qwip mail list | show`: the embedded default's outbox (emails kept instead of sent).
 */
import { Args, Command } from "@effect/cli"
import { Data, Effect, Option } from "effect"
import { adapters, limit, onPlatform, readOptions } from "../Common.js"
import { bold, note, printJson, printTable, say, when } from "../Output.js"

interface Rendered {
  readonly subject?: string
  readonly text?: string
  readonly html?: string
}

export class EmailNotFound extends Data.TaggedError("EmailNotFound")<{ readonly message: string }> {}

const rendered = (value: unknown): Rendered => (typeof value === "object" && value !== null ? (value as Rendered) : {})

const outboxNote = Effect.flatMap(adapters, (a) =>
  Effect.flatMap(a.PlatformInfo, (info) =>
    info.mail === "resend"
      ? note("Mail goes through Resend here: the outbox holds only what was kept before.")
      : Effect.void
  )
)

const list = Command.make("list", { ...readOptions, limit: limit(50) }, (o) =>
  onPlatform(o.dataDir)(
    Effect.gen(function* () {
      const records = yield* (yield* adapters).StoreRecords
      const entries = yield* records.listOutbox(o.limit)
      if (o.json) {
        return yield* printJson(
          entries.map((e) => ({
            id: e.id,
            kind: e.kind,
            recipient: e.recipient,
            subject: rendered(e.rendered).subject ?? null,
            messageKey: e.messageKey,
            createdAt: e.createdAt.toISOString()
          }))
        )
      }
      yield* outboxNote
      yield* printTable(
        ["ID", "WHEN", "KIND", "TO", "SUBJECT"],
        entries.map((e) => [e.id, when(e.createdAt), e.kind, e.recipient, rendered(e.rendered).subject ?? ""]),
        "the outbox is empty"
      )
    })
  )
).pipe(Command.withDescription("emails in the outbox, newest first"))

const email = Args.text({ name: "ID" }).pipe(Args.withDescription("the email's id, from qwip mail list"))

const show = Command.make("show", { ...readOptions, id: email }, (o) =>
  onPlatform(o.dataDir)(
    Effect.gen(function* () {
      const records = yield* (yield* adapters).StoreRecords
      const entry = yield* records.outboxEntry(o.id.trim())
      if (Option.isNone(entry)) {
        return yield* new EmailNotFound({ message: `no email ${o.id} in the outbox; see qwip mail list` })
      }
      const e = entry.value
      const r = rendered(e.rendered)
      if (o.json) {
        return yield* printJson({
          id: e.id,
          kind: e.kind,
          recipient: e.recipient,
          messageKey: e.messageKey,
          createdAt: e.createdAt.toISOString(),
          subject: r.subject ?? null,
          text: r.text ?? null,
          html: r.html ?? null
        })
      }
      yield* say(`${bold("To:")}      ${e.recipient}`)
      yield* say(`${bold("Subject:")} ${r.subject ?? ""}`)
      yield* say(`${bold("Kept:")}    ${when(e.createdAt)} (${e.kind}, key ${e.messageKey})`)
      yield* say("")
      yield* say(r.text ?? "(no text part)")
    })
  )
).pipe(Command.withDescription("one email from the outbox, as its text part"))

export const mail = Command.make("mail").pipe(
  Command.withDescription(
    "emails to customers and staff that the embedded setup keeps instead of sending: list, show. Example: qwip mail show 12"
  ),
  Command.withSubcommands([list, show])
)
