import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { type AccessCode, accessCode } from "@qwip/core"
import { Effect, Redacted, Schema } from "effect"
import fc from "fast-check"
import {
  encodeBase64UrlPadded,
  makeStaticCodeCipher,
  NONCE_BYTES,
  TAG_BYTES
} from "../../src/static-codes/StaticCodeCipher.js"

// The old service's vectors (shared/reference/static-code-vectors.json), kept beside the test so
// `npm test` needs nothing outside the clone.
const vectorsUrl = new URL("./static-code-vectors.json", import.meta.url)

const Vectors = Schema.parseJson(
  Schema.Struct({
    vectors: Schema.Array(Schema.Struct({ key_b64url: Schema.String, token: Schema.String, code: Schema.String }))
  })
)
const { vectors } = Schema.decodeUnknownSync(Vectors)(readFileSync(vectorsUrl, "utf8"))

const keyA = encodeBase64UrlPadded(Buffer.alloc(32, 0xa1))
const keyB = encodeBase64UrlPadded(Buffer.alloc(32, 0xb2))
const keyC = encodeBase64UrlPadded(Buffer.alloc(32, 0xc3))

const cipher = (current: string, ...previous: Array<string>) =>
  makeStaticCodeCipher({ current: Redacted.make(current), previous: previous.map((k) => Redacted.make(k)) })

const BASE64URL_PADDED = /^[A-Za-z0-9_-]+={0,2}$/

const fromToken = (token: string) => Buffer.from(token, "base64url")

/** Flips one bit at `index` (negative counts from the end) and re-encodes. */
const flipBit = (token: string, index: number) => {
  const bytes = fromToken(token)
  const at = index < 0 ? bytes.length + index : index
  bytes[at] = (bytes[at] ?? 0) ^ 0x01
  return encodeBase64UrlPadded(bytes)
}

describe("StaticCodeCipher", () => {
  it("the reference file holds vectors for several keys", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(15)
    expect(new Set(vectors.map((v) => v.key_b64url)).size).toBeGreaterThanOrEqual(3)
  })

  it.effect("opens every reference vector to its code", () =>
    Effect.gen(function* () {
      for (const vector of vectors) {
        const c = yield* cipher(vector.key_b64url)
        expect(yield* c.open(vector.token)).toBe(vector.code)
      }
    })
  )

  it.effect("opens every reference vector when its key is only a previous key", () =>
    Effect.gen(function* () {
      const c = yield* cipher(keyA, ...new Set(vectors.map((v) => v.key_b64url)))
      for (const vector of vectors) {
        expect(yield* c.open(vector.token)).toBe(vector.code)
        expect(yield* c.needsRekey(vector.token)).toBe(true)
      }
    })
  )

  it.effect("writes tokens in the reference format: 44 chars of padded base64url for 5 digits", () =>
    Effect.gen(function* () {
      const c = yield* cipher(keyA)
      const token = yield* c.seal(accessCode("04726"))
      expect(token).toMatch(BASE64URL_PADDED)
      expect(token).toHaveLength(44)
      expect(fromToken(token)).toHaveLength(NONCE_BYTES + 5 + TAG_BYTES)
      expect(yield* c.open(token)).toBe("04726")
    })
  )

  it.effect("pads tokens whose length is not a multiple of 3 bytes", () =>
    Effect.gen(function* () {
      const c = yield* cipher(keyA)
      // 12 + 4 + 16 = 32 bytes: one "=" of padding, as Python's urlsafe_b64encode writes.
      const four = yield* c.seal(accessCode("0042"))
      expect(four).toHaveLength(44)
      expect(four.endsWith("=")).toBe(true)
      expect(four.endsWith("==")).toBe(false)
      // 12 + 6 + 16 = 34 bytes: two "=".
      const six = yield* c.seal(accessCode("123456"))
      expect(six).toHaveLength(48)
      expect(six.endsWith("==")).toBe(true)
      expect(yield* c.open(four)).toBe("0042")
      expect(yield* c.open(six)).toBe("123456")
    })
  )

  it.effect("lays tokens out as nonce || ciphertext || tag (checked with a decipher of its own)", () =>
    Effect.gen(function* () {
      const c = yield* cipher(keyA)
      const bytes = fromToken(yield* c.seal(accessCode("58391")))
      const decipher = createDecipheriv("aes-256-gcm", Buffer.from(keyA, "base64url"), bytes.subarray(0, 12))
      decipher.setAuthTag(bytes.subarray(bytes.length - 16))
      const plain = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()])
      expect(plain.toString("ascii")).toBe("58391")
    })
  )

  it.effect("uses a fresh nonce for every seal", () =>
    Effect.gen(function* () {
      const c = yield* cipher(keyA)
      const tokens = yield* Effect.forEach(Array.from({ length: 50 }), () => c.seal(accessCode("12345")))
      expect(new Set(tokens).size).toBe(50)
      expect(new Set(tokens.map((t) => fromToken(t).subarray(0, NONCE_BYTES).toString("hex"))).size).toBe(50)
    })
  )

  it.effect("fails with UnreadableAccessToken under a wrong key", () =>
    Effect.gen(function* () {
      const token = yield* (yield* cipher(keyA)).seal(accessCode("12345"))
      const error = yield* Effect.flip((yield* cipher(keyB)).open(token))
      expect(error._tag).toBe("UnreadableAccessToken")
      expect(error.reason).toContain("STATIC_CODE_B64_KEY")
      const withPrevious = yield* Effect.flip((yield* cipher(keyB, keyC)).open(token))
      expect(withPrevious.reason).toContain("1 previous")
    })
  )

  it.effect("rejects tampered tokens: nonce, ciphertext or tag", () =>
    Effect.gen(function* () {
      const c = yield* cipher(keyA)
      const token = yield* c.seal(accessCode("12345"))
      for (const index of [0, NONCE_BYTES + 1, -1]) {
        const error = yield* Effect.flip(c.open(flipBit(token, index)))
        expect(error._tag).toBe("UnreadableAccessToken")
      }
    })
  )

  it.effect("rejects malformed tokens with a reason", () =>
    Effect.gen(function* () {
      const c = yield* cipher(keyA)
      const reasons = yield* Effect.forEach(["", "not base64!", "AAAA", "A".repeat(45), "abc=def="], (t) =>
        Effect.flip(c.open(t)).pipe(Effect.map((e) => e.reason))
      )
      expect(reasons[0]).toContain("too short")
      expect(reasons[1]).toContain("not base64url")
      expect(reasons[2]).toContain("too short")
      expect(reasons[3]).toContain("not base64url")
      expect(reasons[4]).toContain("not base64url")
    })
  )

  it.effect("rejects a token that opens but holds no access code", () =>
    Effect.gen(function* () {
      // Sealed like a real token, but the plaintext is letters.
      const nonce = randomBytes(12)
      const enc = createCipheriv("aes-256-gcm", Buffer.from(keyA, "base64url"), nonce)
      const ct = Buffer.concat([enc.update("hello", "ascii"), enc.final()])
      const token = encodeBase64UrlPadded(Buffer.concat([nonce, ct, enc.getAuthTag()]))
      const error = yield* Effect.flip((yield* cipher(keyA)).open(token))
      expect(error.reason).toContain("4 to 12 digits")
      expect(error.reason).not.toContain("hello")
    })
  )

  describe("key rotation", () => {
    it.effect("opens a token sealed under a key now listed as previous, and seals under the current", () =>
      Effect.gen(function* () {
        const old = yield* (yield* cipher(keyA)).seal(accessCode("04726"))
        const rotated = yield* cipher(keyB, keyC, keyA)
        expect(yield* rotated.open(old)).toBe("04726")
        expect(yield* rotated.needsRekey(old)).toBe(true)

        const fresh = yield* rotated.seal(accessCode("04726"))
        expect(yield* rotated.needsRekey(fresh)).toBe(false)
        // Only the current key opens what the rotated cipher seals.
        expect(yield* (yield* cipher(keyB)).open(fresh)).toBe("04726")
        expect((yield* Effect.flip((yield* cipher(keyA)).open(fresh)))._tag).toBe("UnreadableAccessToken")
      })
    )

    it.effect("rekey re-seals under the current key", () =>
      Effect.gen(function* () {
        const old = yield* (yield* cipher(keyA)).seal(accessCode("99999"))
        const rotated = yield* cipher(keyB, keyA)
        const rekeyed = yield* rotated.rekey(old)
        expect(rekeyed).not.toBe(old)
        expect(yield* rotated.needsRekey(rekeyed)).toBe(false)
        expect(yield* (yield* cipher(keyB)).open(rekeyed)).toBe("99999")
      })
    )

    it.effect("needsRekey and rekey fail when no key opens the token", () =>
      Effect.gen(function* () {
        const stranger = yield* (yield* cipher(keyC)).seal(accessCode("12345"))
        const rotated = yield* cipher(keyB, keyA)
        expect((yield* Effect.flip(rotated.needsRekey(stranger)))._tag).toBe("UnreadableAccessToken")
        expect((yield* Effect.flip(rotated.rekey(stranger)))._tag).toBe("UnreadableAccessToken")
      })
    )
  })

  describe("keys", () => {
    it.effect("rejects a current key of the wrong length, naming STATIC_CODE_B64_KEY", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(cipher(encodeBase64UrlPadded(Buffer.alloc(16, 1))))
        expect(error._tag).toBe("InvalidStaticCodeKey")
        expect(error.message).toBe("STATIC_CODE_B64_KEY: must decode to 32 bytes for AES-256, got 16")
      })
    )

    it.effect("rejects a previous key of the wrong length, naming STATIC_CODE_PREVIOUS_KEYS and the entry", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(cipher(keyA, keyB, encodeBase64UrlPadded(Buffer.alloc(24, 1))))
        expect(error.message).toContain("STATIC_CODE_PREVIOUS_KEYS (entry 2)")
        expect(error.message).toContain("got 24")
      })
    )

    it.effect("rejects keys that are empty or not base64, without echoing them", () =>
      Effect.gen(function* () {
        expect((yield* Effect.flip(cipher(""))).message).toContain("STATIC_CODE_B64_KEY: is empty")
        const bad = yield* Effect.flip(cipher("this is not a key!"))
        expect(bad.message).toBe("STATIC_CODE_B64_KEY: is not valid base64url")
      })
    )

    it.effect("accepts keys without padding or in standard base64, as Python's decoder does", () =>
      Effect.gen(function* () {
        const raw = Buffer.alloc(32)
        raw.fill(0xfb, 0, 16)
        raw.fill(0xff, 16)
        const padded = encodeBase64UrlPadded(raw)
        const token = yield* (yield* cipher(padded)).seal(accessCode("31337"))
        expect(yield* (yield* cipher(padded.replace(/=+$/, ""))).open(token)).toBe("31337")
        expect(yield* (yield* cipher(raw.toString("base64"))).open(token)).toBe("31337")
      })
    )
  })

  const digits = fc
    .array(fc.integer({ min: 0, max: 9 }), { minLength: 4, maxLength: 12 })
    .map((ds) => ds.join("") as AccessCode)

  // Built once: the property is about codes, not key parsing.
  const current = Effect.runSync(cipher(keyA))
  const rotated = Effect.runSync(cipher(keyB, keyA))

  it.effect.prop("any access code round-trips, under the current or a previous key", [digits], ([code]) =>
    Effect.gen(function* () {
      const token = yield* current.seal(code)
      expect(token).toMatch(BASE64URL_PADDED)
      expect(token.length % 4).toBe(0)
      expect(fromToken(token)).toHaveLength(NONCE_BYTES + code.length + TAG_BYTES)
      expect(yield* current.open(token)).toBe(code)
      expect(yield* rotated.open(token)).toBe(code)
    })
  )
})
