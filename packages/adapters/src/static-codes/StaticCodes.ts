/**
 * `StaticCodes` for pods with a fixed list of door codes: the list comes from the store, the
 * tokens from `StaticCodeCipher`. Keys come from `STATIC_CODE_B64_KEY` (current) and
 * `STATIC_CODE_PREVIOUS_KEYS` (comma-separated, still accepted for reading).
 */
import { randomBytes } from "node:crypto"
import { type AccessCode, type PodId, StaticCodes, type StaticCodesShape } from "@qwip/core"
import { Config, ConfigError, Effect, Layer, Option, Redacted } from "effect"
import {
  CURRENT_KEY_VARIABLE,
  encodeBase64UrlPadded,
  KEY_BYTES,
  makeStaticCodeCipher,
  PREVIOUS_KEYS_VARIABLE,
  type StaticCodeCipher
} from "./StaticCodeCipher.js"

export interface StaticCodesOptions {
  readonly cipher: StaticCodeCipher
  /** The pod's code list; kept a parameter because the store owns it. */
  readonly codesFor: (podId: PodId) => Effect.Effect<ReadonlyArray<AccessCode>>
}

export const makeStaticCodes = (options: StaticCodesOptions): StaticCodesShape => ({
  codesFor: (podId) => options.codesFor(podId).pipe(Effect.withSpan("StaticCodes.codesFor", { attributes: { podId } })),
  seal: options.cipher.seal,
  open: options.cipher.open
})

/** Splits `a,b,,c` into redacted entries, ignoring blanks so a trailing comma is harmless. */
const splitKeys = (value: Redacted.Redacted<string>): ReadonlyArray<Redacted.Redacted<string>> =>
  Redacted.value(value)
    .split(",")
    .map((key) => key.trim())
    .filter((key) => key.length > 0)
    .map((key) => Redacted.make(key))

/**
 * The cipher from the environment. A key of the wrong length or encoding is a `ConfigError`
 * naming its variable, so start-up stops with one clear line.
 */
export const cipherFromConfig: Effect.Effect<StaticCodeCipher, ConfigError.ConfigError> = Effect.gen(function* () {
  const current = yield* Config.redacted(CURRENT_KEY_VARIABLE)
  const previous = yield* Config.option(Config.redacted(PREVIOUS_KEYS_VARIABLE))
  return yield* makeStaticCodeCipher({
    current,
    previous: Option.match(previous, { onNone: () => [], onSome: splitKeys })
  }).pipe(
    Effect.mapError((e) =>
      ConfigError.InvalidData(
        [e.variable.startsWith(PREVIOUS_KEYS_VARIABLE) ? PREVIOUS_KEYS_VARIABLE : e.variable],
        e.message
      )
    )
  )
})

/** `StaticCodes` from the environment, with the pod code list supplied by the caller. */
export const staticCodesLayer = (
  codesFor: StaticCodesOptions["codesFor"]
): Layer.Layer<StaticCodes, ConfigError.ConfigError> =>
  Layer.effect(
    StaticCodes,
    Effect.map(cipherFromConfig, (cipher) => makeStaticCodes({ cipher, codesFor }))
  )

/** A new random 32-byte key as base64url with padding, ready for `STATIC_CODE_B64_KEY`. */
export const generateKey = (): string => encodeBase64UrlPadded(randomBytes(KEY_BYTES))
