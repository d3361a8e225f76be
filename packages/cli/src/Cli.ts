/**
 * `qwip`: staff tooling for Qwip's pods, sessions, codes and payments. `main` parses the
 * arguments (`["node", "qwip", ...]`), runs the command and returns the exit code:
 * 0 done, 1 failed (one line on stderr saying what to do), 2 usage error, 130 interrupted.
 */
import { createRequire } from "node:module"
import { Command, ValidationError } from "@effect/cli"
import { Cause, Console, Effect, Exit, Logger, LogLevel, Option } from "effect"
import { codes } from "./commands/Codes.js"
import { db } from "./commands/Db.js"
import { keys } from "./commands/Keys.js"
import { mail } from "./commands/Mail.js"
import { payments } from "./commands/Payments.js"
import { pods } from "./commands/Pods.js"
import { serve, serving } from "./commands/Serve.js"
import { sessions } from "./commands/Sessions.js"
import { red, stderrIsTty } from "./Output.js"

const version: string = (() => {
  try {
    return (createRequire(import.meta.url)("../package.json") as { version: string }).version
  } catch {
    return "0.0.0"
  }
})()

export const root = Command.make("qwip").pipe(
  Command.withDescription("Staff tooling for Qwip: pods, sessions, payments, door codes, keys, mail and the database."),
  Command.withSubcommands([serve, db, pods, sessions, payments, codes, keys, mail])
)

const cli = Command.run(root, { name: "qwip", version })

const GROUPS = new Set(["db", "pods", "sessions", "payments", "codes", "keys", "mail"])

/** Hints for errors whose own message does not say what to do next. */
const hint = (e: { readonly _tag?: string; readonly message: string; readonly action?: unknown }): string => {
  switch (e._tag) {
    case "PodHeld":
      return e.action === "release"
        ? `${e.message}: end it first (qwip sessions end ID), or pass --force --reason TEXT`
        : `${e.message}: end it first (qwip sessions end ID)`
    case "SessionAlreadyEnded":
      return `${e.message}: nothing to do, nothing charged again (see qwip sessions show ID)`
    case "SessionNotFound":
      return `${e.message}: check the id with qwip sessions list`
    case "PodNotFound":
      return `${e.message}: check the id with qwip pods list`
    case "IllegalTransition":
      return `${e.message} (see qwip sessions show ID)`
    case "PaymentsUnavailable":
      return `${e.message}: nothing was charged; try again later`
    case "InvalidEndTime":
      return `${e.message}: give --at between the session's start and now`
    default:
      return e.message
  }
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim()

const errorText = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return hint(error as { _tag?: string; message: string })
  }
  return String(error)
}

const report = (text: string) => Console.error(`${red("qwip:", stderrIsTty())} ${oneLine(text)}`)

/** Runs the CLI on `argv` (starting with "node", "qwip") and returns its exit code. */
export const main = (argv: ReadonlyArray<string>) => {
  // `qwip` and `qwip pods` alone show their help.
  const args = argv.slice(2)
  const withHelp = args.length === 0 || (args.length === 1 && GROUPS.has(args[0] ?? "")) ? [...argv, "--help"] : argv
  const serve = args.find((a) => !a.startsWith("-")) === "serve"
  return cli(withHelp).pipe(
    serve
      ? (self) => self
      : Logger.withMinimumLogLevel(process.env.QWIP_DEBUG === "1" ? LogLevel.Debug : LogLevel.Warning),
    Effect.exit,
    Effect.flatMap((exit): Effect.Effect<number> => {
      if (Exit.isSuccess(exit)) return Effect.succeed(0)
      const cause = exit.cause
      if (Cause.isInterruptedOnly(cause)) return Effect.succeed(serving.active ? 0 : 130)
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure)) {
        const error = failure.value
        // @effect/cli has already printed what is wrong with the command line.
        if (ValidationError.isValidationError(error)) return Effect.succeed(2)
        const tag = (error as { _tag?: string })._tag
        return Effect.as(report(errorText(error)), tag === "UsageError" ? 2 : 1)
      }
      const defect = Cause.squash(cause)
      return Effect.as(
        Effect.zipRight(
          report(`unexpected failure: ${errorText(defect)} (set QWIP_DEBUG=1 for details)`),
          process.env.QWIP_DEBUG === "1" ? Console.error(Cause.pretty(cause)) : Effect.void
        ),
        1
      )
    })
  )
}
