/**
 * Pay links: the link names its session and works until its expiry on the test clock; a
 * tampered, expired, foreign or app token is refused, and a pay token is never an app token;
 * a rotation keeps old links working; the same session and expiry give the same link.
 */
import { describe, expect, it } from "@effect/vitest"
import type { SessionId } from "@qwip/core"
import { Effect, Option, Redacted, TestClock } from "effect"
import { SignJWT } from "jose"
import { makePayLinks } from "../../src/paylinks/PayLinks.js"
import { makeAccessTokens } from "../../src/tokens/AccessTokens.js"

const SECRET = Redacted.make("pay-links-test-secret-that-is-long-enough-for-hs256")
const OTHER = Redacted.make("another-secret-entirely-that-is-also-long-enough!!")
const SESSION = "7c8f0a5e-3b1d-4a7e-9c2f-1d2e3f4a5b6c" as SessionId
const DAY = 86_400_000

const tokenOf = (link: string) => link.slice(link.lastIndexOf("/") + 1)

describe("PayLinks", () => {
  it.effect("names the session under PUBLIC_URL/pay/ until it expires", () =>
    Effect.gen(function* () {
      const links = makePayLinks({ secret: SECRET, publicUrl: "https://qwip.example/" })
      const link = yield* links.linkFor(SESSION, new Date(14 * DAY))
      expect(link).toMatch(/^https:\/\/qwip\.example\/pay\/[\w-]+\.[\w-]+\.[\w-]+$/)
      expect(yield* links.sessionOf(tokenOf(link))).toEqual(Option.some(SESSION))
      // The same session and expiry: the same link, so an email sent again is the same email.
      expect(yield* links.linkFor(SESSION, new Date(14 * DAY))).toBe(link)
      yield* TestClock.adjust(14 * DAY - 2000)
      expect(yield* links.sessionOf(tokenOf(link))).toEqual(Option.some(SESSION))
      yield* TestClock.adjust(3000)
      expect(yield* links.sessionOf(tokenOf(link))).toEqual(Option.none())
    })
  )

  it.effect("refuses tampered, foreign and malformed tokens", () =>
    Effect.gen(function* () {
      const links = makePayLinks({ secret: SECRET, publicUrl: "http://localhost:8000" })
      const token = tokenOf(yield* links.linkFor(SESSION, new Date(DAY)))
      const [header, payload, signature] = token.split(".") as [string, string, string]
      const forged = Buffer.from(
        JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), pay: { session_id: "x" } })
      ).toString("base64url")
      for (const bad of [
        `${header}.${forged}.${signature}`,
        `${header}.${payload}.${signature.slice(0, -2)}AA`,
        tokenOf(yield* makePayLinks({ secret: OTHER, publicUrl: "x" }).linkFor(SESSION, new Date(DAY))),
        "",
        "not-a-token",
        `${token}<script>`,
        "a".repeat(5000)
      ]) {
        expect(yield* links.sessionOf(bad)).toEqual(Option.none())
      }
    })
  )

  it.effect("a pay token is not an app token, and an app token is not a pay token", () =>
    Effect.gen(function* () {
      const links = makePayLinks({ secret: SECRET, publicUrl: "x" })
      const tokens = yield* makeAccessTokens({ secret: SECRET })
      const payToken = tokenOf(yield* links.linkFor(SESSION, new Date(DAY)))
      const refused = yield* Effect.flip(tokens.verifySession(payToken))
      expect(refused._tag).toBe("InvalidToken")
      const sessionToken = yield* tokens.mintSession({ session_id: SESSION })
      expect(yield* links.sessionOf(sessionToken)).toEqual(Option.none())
      // Even signed with the raw JWT secret and the pay audience, it is not ours: the key differs.
      const raw = yield* Effect.promise(() =>
        new SignJWT({ pay: { session_id: SESSION } })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer("qwip-platform")
          .setAudience("qwip-pay")
          .setExpirationTime(Math.floor(DAY / 1000))
          .sign(new TextEncoder().encode(Redacted.value(SECRET)))
      )
      expect(yield* links.sessionOf(raw)).toEqual(Option.none())
    })
  )

  it.effect("links signed before a rotation keep working with the old secret listed", () =>
    Effect.gen(function* () {
      const before = makePayLinks({ secret: OTHER, publicUrl: "x" })
      const token = tokenOf(yield* before.linkFor(SESSION, new Date(DAY)))
      const rotated = makePayLinks({ secret: SECRET, previousSecrets: [OTHER], publicUrl: "x" })
      expect(yield* rotated.sessionOf(token)).toEqual(Option.some(SESSION))
      const forgotten = makePayLinks({ secret: SECRET, publicUrl: "x" })
      expect(yield* forgotten.sessionOf(token)).toEqual(Option.none())
    })
  )
})
