/**
 * How the platform's start-up fails: one line naming the setting to fix, never its value.
 */
import { Config, type ConfigError, Effect, Option, Redacted, Schema } from "effect"

/** Start-up stopped: `setting` is what to fix. */
export class PlatformStartError extends Schema.TaggedError<PlatformStartError>()("PlatformStartError", {
  setting: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.setting}: ${this.reason}`
  }
}

/** A `ConfigError` as one line naming the variable it is about. */
export const fromConfigError = (e: ConfigError.ConfigError): PlatformStartError => {
  const text = String(e)
  const setting = /at ([A-Z0-9_]+)/.exec(text)?.[1] ?? "configuration"
  return new PlatformStartError({ setting, reason: text.replace(/^\(|\)$/g, "") })
}

/** A secret that may be unset; empty counts as unset. */
export const optionalSecret = (name: string) =>
  Config.option(Config.redacted(name)).pipe(
    Config.map(Option.filter((v) => Redacted.value(v).trim() !== "")),
    Effect.mapError(fromConfigError)
  )
