/**
 * `qwip codes list | rotate | rekey`.
 */
import { readFile } from "node:fs/promises"
import { Command, Options } from "@effect/cli"
import {
  type AccessCode,
  maskCode,
  PodNotFound,
  SessionStore,
  StaffCodes,
  StaffStore,
  StaticCodes,
  sealedCodeOf
} from "@qwip/core"
import { Duration, Effect, Option } from "effect"
import { actorName, changeOptions, confirm, onPlatform, podIdOf, readOptions, UsageError } from "../Common.js"
import { dim, green, printJson, printTable, progress, say, yellow } from "../Output.js"
import { NotDone } from "./Payments.js"

const pod = Options.text("pod").pipe(Options.withDescription("the pod whose door codes these are (e.g. pod-7)"))

const list = Command.make(
  "list",
  {
    ...readOptions,
    pod,
    reveal: Options.boolean("reveal").pipe(Options.withDescription("show the digits (recorded in the audit log)")),
    actor: changeOptions.actor
  },
  (o) =>
    Effect.gen(function* () {
      const podId = yield* podIdOf(o.pod)
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          const store = yield* SessionStore
          const staff = yield* StaffStore
          const sealed = yield* StaticCodes
          const status = yield* store.podStatus(podId)
          if (Option.isNone(status)) return yield* new PodNotFound({ podId })
          const codes = yield* staff.podCodes(podId)
          const live = yield* store.liveSessionsOnPod(podId)
          const holders = new Map<string, string>()
          for (const s of live) {
            const token = Option.flatMap(s.access, sealedCodeOf)
            if (Option.isNone(token)) continue
            const code = yield* Effect.option(sealed.open(token.value))
            if (Option.isSome(code)) holders.set(code.value, s.id)
          }
          if (o.reveal) {
            yield* staff.appendAudit({
              actor: actorName(o.actor),
              action: "codes.reveal",
              subject: podId,
              before: null,
              after: { count: codes.length }
            })
          }
          const shown = (c: AccessCode) => (o.reveal ? c : maskCode(c))
          if (o.json) {
            return yield* printJson({
              podId,
              accessMode: status.value.pod.accessMode,
              revealed: o.reveal,
              codes: codes.map((c) => ({ code: shown(c), heldBy: holders.get(c) ?? null }))
            })
          }
          if (status.value.pod.accessMode !== "static") {
            yield* say(yellow(`Pod ${podId} uses its smart lock; these codes apply only with USE_STATIC_CODES=true.`))
          }
          yield* printTable(
            ["CODE", "HELD BY LIVE SESSION"],
            codes.map((c) => [shown(c), holders.get(c) ?? "-"]),
            `pod ${podId} has no static codes`
          )
        })
      )
    })
).pipe(Command.withDescription("a pod's static door codes, masked unless --reveal"))

/** Codes in a file: one per line (or separated by commas or spaces); `#` starts a comment. */
const codesInFile = (path: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (e) => new UsageError({ message: `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(
    Effect.map((text) =>
      text
        .split(/\r?\n/)
        .map((line) => line.replace(/#.*$/, ""))
        .flatMap((line) => line.split(/[\s,;]+/))
        .map((c) => c.trim())
        .filter((c) => c.length > 0)
    )
  )

const rotate = Command.make(
  "rotate",
  {
    ...changeOptions,
    pod,
    fromFile: Options.text("from-file").pipe(
      Options.withDescription("the new codes, one per line ('#' comments allowed)"),
      Options.optional
    ),
    generate: Options.integer("generate").pipe(Options.withDescription("make N random codes"), Options.optional),
    digits: Options.integer("digits").pipe(
      Options.withDescription("digits of generated codes (default 5)"),
      Options.withDefault(5)
    )
  },
  (o) =>
    Effect.gen(function* () {
      const podId = yield* podIdOf(o.pod)
      if (Option.isSome(o.fromFile) === Option.isSome(o.generate)) {
        return yield* new UsageError({ message: "give exactly one of --from-file FILE and --generate N" })
      }
      const fromFile = Option.isSome(o.fromFile) ? Option.some(yield* codesInFile(o.fromFile.value)) : Option.none()
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          const staff = yield* StaffStore
          const store = yield* SessionStore
          if (Option.isNone(yield* store.pod(podId))) return yield* new PodNotFound({ podId })
          const codes = Option.isSome(fromFile)
            ? fromFile.value
            : yield* StaffCodes.generateCodes(
                Option.getOrElse(o.generate, () => 0),
                o.digits
              )
          const before = yield* staff.podCodes(podId)
          yield* confirm(
            o.yes,
            `Replace pod ${podId}'s ${before.length} door codes with ${codes.length} new ones? New sessions get a new code; live sessions keep theirs until they end.`
          )
          const result = yield* StaffCodes.rotateCodes(podId, codes, { by: actorName(o.actor) })
          yield* say(green(`Pod ${podId} now has ${result.after.length} door codes (had ${result.before}).`))
          if (result.liveSessions > 0) {
            yield* say(
              yellow(
                `${result.liveSessions} live session(s) keep their old code until they end: keep it working on the door until then.`
              )
            )
          }
          if (Option.isSome(o.generate)) {
            yield* say("New codes (program them on the pod's door now):")
            for (const c of result.after) yield* say(c)
          }
        })
      )
    })
).pipe(
  Command.withDescription(
    "replace a pod's static code list (--from-file FILE | --generate N); live sessions keep their code until they end"
  )
)

const rekey = Command.make(
  "rekey",
  {
    ...changeOptions,
    batchSize: Options.integer("batch-size").pipe(
      Options.withDescription("sessions per batch (default 100)"),
      Options.withDefault(100)
    ),
    limit: Options.integer("limit").pipe(
      Options.withDescription("stop after this many sessions (run again to continue)"),
      Options.optional
    ),
    pauseMs: Options.integer("pause-ms").pipe(
      Options.withDescription("pause between batches, to go easy on a busy database (default 0)"),
      Options.withDefault(0)
    )
  },
  (o) =>
    Effect.gen(function* () {
      if (o.batchSize < 1) return yield* new UsageError({ message: "--batch-size must be at least 1" })
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          const staff = yield* StaffStore
          const total = yield* staff.countSealedCodeSessions
          yield* confirm(
            o.yes,
            `Seal the door codes stored on ${total} sessions again under the current key (STATIC_CODE_B64_KEY)?`
          )
          const bar = progress("rekey", total)
          const report = yield* StaffCodes.rekeyAccessCodes({
            by: actorName(o.actor),
            batchSize: o.batchSize,
            limit: Option.getOrUndefined(o.limit),
            pause: o.pauseMs > 0 ? Duration.millis(o.pauseMs) : undefined,
            onProgress: (p) => bar.update(p.examined, `(${p.rekeyed} resealed)`)
          }).pipe(Effect.ensuring(bar.finish()))
          yield* say(
            `Resealed ${report.rekeyed}, already current ${report.current}, unreadable ${report.unreadable.length} (${report.examined} of ${report.total} sessions with a stored code).`
          )
          if (report.unreadable.length > 0) {
            return yield* new NotDone({
              message: `${report.unreadable.length} stored code(s) open with no known key (sessions ${report.unreadable.slice(0, 5).join(", ")}${report.unreadable.length > 5 ? ", …" : ""}): add the key that sealed them to STATIC_CODE_PREVIOUS_KEYS and run codes rekey again`
            })
          }
          if (report.examined < report.total) {
            yield* say(dim("Stopped at --limit: run codes rekey again to continue."))
          } else {
            yield* say(dim("Every stored code opens with the current key: the previous keys can be retired."))
          }
        })
      )
    })
).pipe(
  Command.withDescription("seal every stored door code again under the current key; resumable and safe to interrupt")
)

export const codes = Command.make("codes").pipe(
  Command.withDescription(
    "the static door codes customers get for pods without a smart lock: list, rotate, rekey. Example: qwip codes rotate --pod pod-7 --generate 10"
  ),
  Command.withSubcommands([list, rotate, rekey])
)
