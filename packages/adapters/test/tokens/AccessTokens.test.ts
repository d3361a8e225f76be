import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Redacted, TestClock } from "effect"
import { SignJWT } from "jose"
import { makeAccessTokens } from "../../src/tokens/AccessTokens.js"

const SECRET = "a-very-long-test-secret-of-at-least-32-bytes!"
const OLD_SECRET = "the-retired-secret-that-was-also-32-bytes-long"
const provisioning = {
  setup_intent_id: "seti_123",
  pod_id: "pod-1",
  provisioning_id: "0b7c9a44-2f57-4b6b-8a32-1d7f3e0c5a22"
}
const session = { session_id: "6f1d3c52-1b7a-4c1e-9d59-0d2b8a1c9e11" }

const tokens = (options: { acceptLegacy?: boolean; previous?: Array<string>; secret?: string } = {}) =>
  makeAccessTokens({
    secret: Redacted.make(options.secret ?? SECRET),
    previousSecrets: (options.previous ?? []).map(Redacted.make),
    acceptLegacy: options.acceptLegacy ?? true
  })

/** A token as the old Python service minted it: scope key + exp only. */
const legacyToken = (payload: object, secret = SECRET, expSeconds = 3 * 3600, alg = "HS256") =>
  Effect.promise(() =>
    new SignJWT({ ...payload })
      .setProtectedHeader({ alg })
      .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
      .sign(new TextEncoder().encode(secret))
  )

const reasonOf = <A>(e: Either.Either<A, { readonly reason: string }>) => (Either.isLeft(e) ? e.left.reason : "ok")

describe("access tokens", () => {
  it.effect("mints today's layout plus iss, aud, iat, jti and verifies it per scope", () =>
    Effect.gen(function* () {
      const t = yield* tokens()
      const token = yield* t.mintProvisioning(provisioning as never)
      const [, body] = token.split(".")
      const payload = JSON.parse(Buffer.from(body as string, "base64url").toString())
      expect(payload.provisioning).toEqual(provisioning)
      expect(payload.iss).toBe("qwip-platform")
      expect(payload.aud).toBe("qwip-app")
      expect(payload.exp - payload.iat).toBe(600)
      expect(typeof payload.jti).toBe("string")
      expect(yield* t.verifyProvisioning(token)).toEqual(provisioning)
      expect(reasonOf(yield* Effect.either(t.verifySession(token)))).toBe("wrong_scope")
    })
  )

  it.effect("enforces expiry on the Effect clock", () =>
    Effect.gen(function* () {
      const t = yield* tokens()
      const token = yield* t.mintProvisioning(provisioning as never)
      yield* TestClock.adjust(Duration.minutes(9))
      expect(reasonOf(yield* Effect.either(t.verifyProvisioning(token)))).toBe("ok")
      yield* TestClock.adjust(Duration.minutes(2))
      expect(reasonOf(yield* Effect.either(t.verifyProvisioning(token)))).toBe("expired")
    })
  )

  it.effect("a token not valid yet (nbf in the future) is refused as not_yet_valid, then accepted once due", () =>
    Effect.gen(function* () {
      const t = yield* tokens()
      yield* TestClock.setTime(Date.UTC(2026, 0, 1))
      const nowSeconds = Math.floor(Date.UTC(2026, 0, 1) / 1000)
      const early = yield* Effect.promise(() =>
        new SignJWT({ session })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer("qwip-platform")
          .setAudience("qwip-app")
          .setNotBefore(nowSeconds + 60)
          .setExpirationTime(nowSeconds + 3600)
          .sign(new TextEncoder().encode(SECRET))
      )
      const refused = yield* Effect.flip(t.verifySession(early))
      expect(refused.reason).toBe("not_yet_valid")
      expect(refused.message).toBe("the session token is not valid yet (its nbf is in the future)")
      yield* TestClock.adjust(Duration.seconds(60))
      expect(yield* t.verifySession(early)).toEqual(session)
    })
  )

  it.live("keeps old-service tokens working while legacy acceptance is on", () =>
    Effect.gen(function* () {
      const old = yield* legacyToken({ session })
      expect(yield* (yield* tokens()).verifySession(old)).toEqual(session)
      expect(reasonOf(yield* Effect.either((yield* tokens({ acceptLegacy: false })).verifySession(old)))).toBe(
        "wrong_issuer"
      )
    })
  )

  it.live("accepts a retired secret listed as previous, and nothing else", () =>
    Effect.gen(function* () {
      const old = yield* legacyToken({ session }, OLD_SECRET)
      expect(reasonOf(yield* Effect.either((yield* tokens()).verifySession(old)))).toBe("bad_signature")
      expect(yield* (yield* tokens({ previous: [OLD_SECRET] })).verifySession(old)).toEqual(session)
    })
  )

  it.live("pins HS256 and refuses tampering and junk", () =>
    Effect.gen(function* () {
      const t = yield* tokens()
      const hs512 = yield* legacyToken({ session }, SECRET, 3600, "HS512")
      expect(reasonOf(yield* Effect.either(t.verifySession(hs512)))).toBe("malformed")
      const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ session, exp: 9e9 })).toString("base64url")}.`
      expect(reasonOf(yield* Effect.either(t.verifySession(none)))).not.toBe("ok")
      const good = yield* t.mintSession(session as never)
      const [h, , s] = good.split(".")
      const forged = `${h}.${Buffer.from(JSON.stringify({ session: { session_id: "00000000-0000-4000-8000-000000000000" }, exp: 9e9 })).toString("base64url")}.${s}`
      expect(reasonOf(yield* Effect.either(t.verifySession(forged)))).toBe("bad_signature")
      expect(reasonOf(yield* Effect.either(t.verifySession("not-a-jwt")))).toBe("malformed")
      expect(reasonOf(yield* Effect.either(t.verifySession("")))).toBe("missing")
      const badClaims = yield* legacyToken({ session: { session_id: "not-a-uuid" } })
      expect(reasonOf(yield* Effect.either(t.verifySession(badClaims)))).toBe("malformed")
    })
  )

  it.effect("refuses to start with a short secret, naming the variable", () =>
    Effect.gen(function* () {
      const short = yield* Effect.flip(tokens({ secret: "too-short" }))
      expect(short.message).toBe("JWT_SECRET_KEY: must be at least 32 bytes")
      const shortOld = yield* Effect.flip(tokens({ previous: ["short"] }))
      expect(shortOld.message).toContain("JWT_PREVIOUS_SECRET_KEYS")
    })
  )
})
