import { describe, expect, it } from "@effect/vitest"
import { type AccessCode, accessCode, type PodId, StaticCodes } from "@qwip/core"
import { ConfigProvider, Effect } from "effect"
import { encodeBase64UrlPadded } from "../../src/static-codes/StaticCodeCipher.js"
import { cipherFromConfig, generateKey, makeStaticCodes, staticCodesLayer } from "../../src/static-codes/StaticCodes.js"

const keyA = encodeBase64UrlPadded(Buffer.alloc(32, 0x11))
const keyB = encodeBase64UrlPadded(Buffer.alloc(32, 0x22))
const keyC = encodeBase64UrlPadded(Buffer.alloc(32, 0x33))

const withEnv =
  (env: Record<string, string>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.withConfigProvider(self, ConfigProvider.fromMap(new Map(Object.entries(env))))

const podA = "pod-a" as PodId
const lists: Record<string, ReadonlyArray<AccessCode>> = { [podA]: [accessCode("04726"), accessCode("12345")] }
const codesFor = (podId: PodId) => Effect.succeed(lists[podId] ?? [])

describe("cipherFromConfig", () => {
  it.effect("reads the current key and opens what it seals", () =>
    Effect.gen(function* () {
      const cipher = yield* cipherFromConfig.pipe(withEnv({ STATIC_CODE_B64_KEY: keyA }))
      expect(yield* cipher.open(yield* cipher.seal(accessCode("00007")))).toBe("00007")
    })
  )

  it.effect("reads comma-separated previous keys, ignoring blanks and spaces", () =>
    Effect.gen(function* () {
      const old = yield* (yield* cipherFromConfig.pipe(withEnv({ STATIC_CODE_B64_KEY: keyC }))).seal(
        accessCode("58391")
      )
      const cipher = yield* cipherFromConfig.pipe(
        withEnv({ STATIC_CODE_B64_KEY: keyA, STATIC_CODE_PREVIOUS_KEYS: ` ${keyB} ,, ${keyC},` })
      )
      expect(yield* cipher.open(old)).toBe("58391")
      expect(yield* cipher.needsRekey(old)).toBe(true)
    })
  )

  it.effect("fails naming STATIC_CODE_B64_KEY when it is missing", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(cipherFromConfig.pipe(withEnv({})))
      expect(String(error)).toContain("STATIC_CODE_B64_KEY")
    })
  )

  it.effect("fails naming STATIC_CODE_B64_KEY when the key is not 32 bytes", () =>
    Effect.gen(function* () {
      const short = encodeBase64UrlPadded(Buffer.alloc(31, 1))
      const error = yield* Effect.flip(cipherFromConfig.pipe(withEnv({ STATIC_CODE_B64_KEY: short })))
      expect(error._op).toBe("InvalidData")
      expect(error.message).toBe("STATIC_CODE_B64_KEY: must decode to 32 bytes for AES-256, got 31")
      expect(String(error)).not.toContain(short)
    })
  )

  it.effect("fails naming STATIC_CODE_PREVIOUS_KEYS when a previous key is bad", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        cipherFromConfig.pipe(withEnv({ STATIC_CODE_B64_KEY: keyA, STATIC_CODE_PREVIOUS_KEYS: `${keyB},short` }))
      )
      expect(error.message).toContain("STATIC_CODE_PREVIOUS_KEYS (entry 2)")
    })
  )
})

describe("makeStaticCodes", () => {
  it.effect("answers the pod's code list from the function it was given", () =>
    Effect.gen(function* () {
      const cipher = yield* cipherFromConfig.pipe(withEnv({ STATIC_CODE_B64_KEY: keyA }))
      const codes = makeStaticCodes({ cipher, codesFor })
      expect(yield* codes.codesFor(podA)).toEqual(["04726", "12345"])
      expect(yield* codes.codesFor("pod-b" as PodId)).toEqual([])
      expect(yield* codes.open(yield* codes.seal(accessCode("04726")))).toBe("04726")
    })
  )

  it.effect("staticCodesLayer provides StaticCodes from the environment", () =>
    Effect.gen(function* () {
      const codes = yield* StaticCodes
      expect(yield* codes.codesFor(podA)).toHaveLength(2)
      const error = yield* Effect.flip(codes.open("bm90IGEgdG9rZW4="))
      expect(error._tag).toBe("UnreadableAccessToken")
    }).pipe(Effect.provide(staticCodesLayer(codesFor)), withEnv({ STATIC_CODE_B64_KEY: keyA }))
  )
})

describe("generateKey", () => {
  it.effect("makes distinct 32-byte keys as padded base64url that the cipher accepts", () =>
    Effect.gen(function* () {
      const keys = Array.from({ length: 20 }, generateKey)
      expect(new Set(keys).size).toBe(20)
      for (const key of keys) {
        expect(key).toMatch(/^[A-Za-z0-9_-]{43}=$/)
        expect(Buffer.from(key, "base64url")).toHaveLength(32)
      }
      const first = keys[0] ?? ""
      const cipher = yield* cipherFromConfig.pipe(withEnv({ STATIC_CODE_B64_KEY: first }))
      expect(yield* cipher.open(yield* cipher.seal(accessCode("4321")))).toBe("4321")
    })
  )
})
