/**
 * `qwip db status | migrate`.
 */
import { Command } from "@effect/cli"
import { StaffStore } from "@qwip/core"
import { Effect } from "effect"
import { access, actorName, adapters, changeOptions, confirm, onPlatform, readOptions } from "../Common.js"
import { green, printJson, say, yellow } from "../Output.js"

const status = Command.make("status", readOptions, (o) =>
  Effect.gen(function* () {
    const { schemaStatus } = yield* adapters
    const s = yield* Effect.flatMap(access(o.dataDir), schemaStatus)
    if (o.json) return yield* printJson(s)
    yield* say(`store:            ${s.store}`)
    yield* say(`database schema:  version ${s.databaseVersion}`)
    yield* say(`this build:       version ${s.codeVersion}`)
    if (s.databaseVersion > s.codeVersion) {
      return yield* say(yellow("The database is newer than this build: use a newer qwip."))
    }
    yield* say(
      s.pending.length === 0
        ? green("Up to date.")
        : yellow(
            `Pending: ${s.pending.map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`).join(", ")} (apply with qwip db migrate)`
          )
    )
  })
).pipe(Command.withDescription("the database's schema version against this build's; applies nothing"))

const migrate = Command.make("migrate", changeOptions, (o) =>
  Effect.gen(function* () {
    const { migrateStore, schemaStatus } = yield* adapters
    const where = yield* access(o.dataDir)
    const before = yield* schemaStatus(where)
    if (before.pending.length === 0 && before.databaseVersion <= before.codeVersion) {
      return yield* say(`Already at version ${before.databaseVersion}: nothing to apply (${before.store}).`)
    }
    yield* confirm(o.yes, `Apply ${before.pending.length} migration(s) to ${before.store}?`)
    const report = yield* migrateStore(where)
    yield* onPlatform(o.dataDir)(
      Effect.flatMap(StaffStore, (staff) =>
        staff.appendAudit({
          actor: actorName(o.actor),
          action: "db.migrate",
          subject: undefined,
          before: { version: report.from },
          after: { version: report.to, applied: report.applied }
        })
      )
    )
    yield* say(
      green(
        `Migrated ${report.store} from version ${report.from} to ${report.to} (applied ${report.applied.join(", ") || "nothing"}).`
      )
    )
  })
).pipe(Command.withDescription("apply this build's pending migrations (each in its own transaction)"))

export const db = Command.make("db").pipe(
  Command.withDescription(
    "the database schema the service and staff commands share: status, migrate. Example: qwip db status"
  ),
  Command.withSubcommands([status, migrate])
)
