/**
 * Seals door codes into the `access_code_id` tokens today's service writes, and opens them.
 *
 * Format (fixed by the rows already in `pod_sessions`): AES-256-GCM, a fresh 12-byte nonce per
 * token, no associated data, token = base64url WITH padding of nonce || ciphertext || 16-byte tag,
 * plaintext = the code's ASCII digits. Sealing always uses the current key; opening also tries
 * previous keys, so a key can be rotated without breaking sessions that are still live.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import { AccessCode, UnreadableAccessToken } from "@qwip/core"
import { Effect, Option, Redacted, Schema } from "effect"

export const NONCE_BYTES = 12
export const TAG_BYTES = 16
export const KEY_BYTES = 32
const ALGORITHM = "aes-256-gcm"

/** A key that cannot be used, named by the variable it came from so the fix is obvious. */
export class InvalidStaticCodeKey extends Schema.TaggedError<InvalidStaticCodeKey>()("InvalidStaticCodeKey", {
  variable: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.variable}: ${this.reason}`
  }
}

export interface StaticCodeCipher {
  /** Seals a code under the current key with a fresh random nonce. */
  readonly seal: (code: AccessCode) => Effect.Effect<string>
  /** Opens a token with the current key, then each previous key in order. */
  readonly open: (token: string) => Effect.Effect<AccessCode, UnreadableAccessToken>
  /** True when only a previous key opens the token (it should be re-sealed). */
  readonly needsRekey: (token: string) => Effect.Effect<boolean, UnreadableAccessToken>
  /** Opens with any key and seals again under the current key. */
  readonly rekey: (token: string) => Effect.Effect<string, UnreadableAccessToken>
}

export interface StaticCodeKeys {
  /** `STATIC_CODE_B64_KEY`: base64url of 32 bytes. */
  readonly current: Redacted.Redacted<string>
  /** `STATIC_CODE_PREVIOUS_KEYS`, oldest last or first: each is tried after the current key. */
  readonly previous?: ReadonlyArray<Redacted.Redacted<string>>
}

export const CURRENT_KEY_VARIABLE = "STATIC_CODE_B64_KEY"
export const PREVIOUS_KEYS_VARIABLE = "STATIC_CODE_PREVIOUS_KEYS"

/** Standard base64 with `-`/`_` for `+`/`/`, keeping the `=` padding (Python's urlsafe_b64encode). */
export const encodeBase64UrlPadded = (bytes: Uint8Array): string =>
  Buffer.from(bytes).toString("base64").replace(/\+/g, "-").replace(/\//g, "_")

// Node's decoder silently skips characters outside the alphabet, so check the shape first.
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/
// Keys may have been generated with standard base64 elsewhere; Python accepts both alphabets.
const BASE64_ANY = /^[A-Za-z0-9_+/-]*={0,2}$/

const decodeBase64 = (text: string, pattern: RegExp): Option.Option<Buffer> => {
  if (!pattern.test(text)) return Option.none()
  const unpadded = text.replace(/=+$/, "")
  // A single leftover character cannot encode a byte: the text was cut short.
  if (unpadded.length % 4 === 1) return Option.none()
  if (text.length !== unpadded.length && text.length % 4 !== 0) return Option.none()
  return Option.some(Buffer.from(unpadded.replace(/\+/g, "-").replace(/\//g, "_"), "base64url"))
}

/** Decodes one key, failing with the variable's name and what is wrong (never the key itself). */
export const decodeStaticCodeKey = (
  variable: string,
  key: Redacted.Redacted<string>
): Effect.Effect<Redacted.Redacted<Buffer>, InvalidStaticCodeKey> => {
  const text = Redacted.value(key).trim()
  if (text.length === 0) {
    return Effect.fail(new InvalidStaticCodeKey({ variable, reason: "is empty; expected base64url of 32 bytes" }))
  }
  const bytes = decodeBase64(text, BASE64_ANY)
  if (Option.isNone(bytes)) {
    return Effect.fail(new InvalidStaticCodeKey({ variable, reason: "is not valid base64url" }))
  }
  if (bytes.value.length !== KEY_BYTES) {
    return Effect.fail(
      new InvalidStaticCodeKey({
        variable,
        reason: `must decode to ${KEY_BYTES} bytes for AES-256, got ${bytes.value.length}`
      })
    )
  }
  return Effect.succeed(Redacted.make(bytes.value))
}

const sealWith = (key: Redacted.Redacted<Buffer>, code: AccessCode): string => {
  // A fresh random nonce per token: GCM is broken if a nonce repeats under one key.
  const nonce = randomBytes(NONCE_BYTES)
  const cipher = createCipheriv(ALGORITHM, Redacted.value(key), nonce, { authTagLength: TAG_BYTES })
  const ciphertext = Buffer.concat([cipher.update(code, "ascii"), cipher.final()])
  return encodeBase64UrlPadded(Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]))
}

/** The plaintext, or none when the key does not authenticate the token. */
const openWith = (key: Redacted.Redacted<Buffer>, sealed: Buffer): Option.Option<string> => {
  const nonce = sealed.subarray(0, NONCE_BYTES)
  const ciphertext = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)
  const tag = sealed.subarray(sealed.length - TAG_BYTES)
  try {
    const decipher = createDecipheriv(ALGORITHM, Redacted.value(key), nonce, { authTagLength: TAG_BYTES })
    decipher.setAuthTag(tag)
    return Option.some(Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("ascii"))
  } catch {
    // GCM authentication failed: wrong key or a tampered token.
    return Option.none()
  }
}

const unreadable = (reason: string) => new UnreadableAccessToken({ reason })

const parseToken = (token: string): Effect.Effect<Buffer, UnreadableAccessToken> => {
  const bytes = decodeBase64(token.trim(), BASE64URL)
  if (Option.isNone(bytes)) return Effect.fail(unreadable("it is not base64url"))
  // At least one plaintext byte besides the nonce and the tag.
  if (bytes.value.length < NONCE_BYTES + TAG_BYTES + 1) {
    return Effect.fail(unreadable(`it is ${bytes.value.length} bytes, too short to hold a sealed code`))
  }
  return Effect.succeed(bytes.value)
}

const decodeCode = Schema.decodeUnknownOption(AccessCode)

/** Builds a cipher from already-decoded keys (the first is current). */
const fromDecodedKeys = (
  current: Redacted.Redacted<Buffer>,
  previous: ReadonlyArray<Redacted.Redacted<Buffer>>
): StaticCodeCipher => {
  const all = [current, ...previous]

  // Which key opened the token (0 = current) and the code inside.
  const openIndexed = (token: string) =>
    Effect.gen(function* () {
      const sealed = yield* parseToken(token)
      for (const [index, key] of all.entries()) {
        const plain = openWith(key, sealed)
        if (Option.isNone(plain)) continue
        const code = decodeCode(plain.value)
        if (Option.isNone(code)) return yield* unreadable("it opens but does not hold 4 to 12 digits")
        return { index, code: code.value }
      }
      return yield* unreadable(
        previous.length === 0
          ? `the current key (${CURRENT_KEY_VARIABLE}) does not open it`
          : `neither the current key nor any of ${previous.length} previous keys opens it`
      )
    })

  const seal = (code: AccessCode) =>
    Effect.sync(() => sealWith(current, code)).pipe(Effect.withSpan("StaticCodes.seal"))

  return {
    seal,
    open: (token) =>
      openIndexed(token).pipe(
        Effect.map(({ code }) => code),
        Effect.withSpan("StaticCodes.open")
      ),
    needsRekey: (token) =>
      openIndexed(token).pipe(
        Effect.map(({ index }) => index > 0),
        Effect.withSpan("StaticCodes.needsRekey")
      ),
    rekey: (token) =>
      openIndexed(token).pipe(
        Effect.flatMap(({ code }) => seal(code)),
        Effect.withSpan("StaticCodes.rekey")
      )
  }
}

/**
 * Builds the cipher, checking every key up front so a bad deployment fails at start-up
 * rather than on the first door code.
 */
export const makeStaticCodeCipher = (keys: StaticCodeKeys): Effect.Effect<StaticCodeCipher, InvalidStaticCodeKey> =>
  Effect.gen(function* () {
    const current = yield* decodeStaticCodeKey(CURRENT_KEY_VARIABLE, keys.current)
    const previous = yield* Effect.forEach(keys.previous ?? [], (key, i) =>
      decodeStaticCodeKey(`${PREVIOUS_KEYS_VARIABLE} (entry ${i + 1})`, key)
    )
    return fromDecodedKeys(current, previous)
  })
