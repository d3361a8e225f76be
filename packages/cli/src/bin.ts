/**
 * The `qwip` executable (packages/cli/bin/qwip.js loads this file from dist/).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Layer, Logger } from "effect"
import { main } from "./Cli.js"
import { serving } from "./commands/Serve.js"
import { plainWhenPiped } from "./Output.js"

// Logs go to stderr, so stdout stays for output scripts read (`--json`). `serve` logs as the
// service does (LOG_LEVEL, JSON lines).
const isServe = process.argv.slice(2).find((a) => !a.startsWith("-")) === "serve"
const StderrLogger = isServe
  ? Layer.empty
  : Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

NodeRuntime.runMain(
  main(process.argv).pipe(
    Effect.provide(NodeContext.layer),
    Effect.provide(StderrLogger),
    plainWhenPiped,
    Effect.flatMap((code) => (code === 0 ? Effect.void : Effect.fail(code)))
  ),
  {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (exit._tag === "Success") return onExit(0)
      // Ctrl-C or SIGTERM: the service stops normally; any other command reports 130.
      if (Cause.isInterruptedOnly(exit.cause)) return onExit(serving.active ? 0 : 130)
      const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      onExit(typeof failure === "number" ? failure : 1)
    }
  }
)
