/**
 * Logs: one JSON object per line, or Effect's pretty output when `LOG_LEVEL=debug` on a TTY.
 * `LOG_LEVEL` takes today's names (`DEBUG`, `INFO`, `WARNING`, `ERROR`), any case.
 */
import { Config, ConfigError, Effect, Either, Layer, Logger, LogLevel } from "effect"

const levels: Record<string, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  critical: LogLevel.Fatal,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

export const logLevelFromEnv = Config.string("LOG_LEVEL").pipe(
  Config.withDefault("info"),
  Config.mapOrFail((raw) => {
    const level = levels[raw.trim().toLowerCase()]
    return level === undefined
      ? Either.left(ConfigError.InvalidData(["LOG_LEVEL"], `must be one of ${Object.keys(levels).join(", ")}`))
      : Either.right(level)
  })
)

/**
 * Effect's JSON lines (`Logger.json`'s format), written to stdout directly: `console.log` would
 * format the already formatted line again, on every request's log line.
 */
const jsonToStdout = Logger.map(Logger.jsonLogger, (line) => {
  process.stdout.write(`${line}\n`)
})

export const layerLogging = (options: { readonly level: LogLevel.LogLevel; readonly tty: boolean }) =>
  Layer.mergeAll(
    // `NodeRuntime.runMain` swaps the default logger for its pretty one: take both out, so each
    // entry is written once, in the chosen format.
    Logger.remove(Logger.prettyLoggerDefault),
    options.level === LogLevel.Debug && options.tty
      ? Logger.pretty
      : Logger.replace(Logger.defaultLogger, jsonToStdout),
    Logger.minimumLogLevel(options.level)
  )

/** Logging as `LOG_LEVEL` and the terminal ask. */
export const LoggingFromEnv = Layer.unwrapEffect(
  Effect.map(logLevelFromEnv, (level) => layerLogging({ level, tty: process.stdout.isTTY === true }))
)
