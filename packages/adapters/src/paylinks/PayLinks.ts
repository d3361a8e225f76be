/**
 * The core's `PayLinks` over signed tokens: an HS256 JWT naming the session (`pay.session_id`)
 * with `exp`, issued by Qwip for its own audience `qwip-pay`, in `${PUBLIC_URL}/pay/<token>`.
 *
 * The key is derived (HKDF-SHA256) from the access tokens' `JWT_SECRET_KEY`, so nothing new is
 * configured, and a pay token is refused as an app token twice over: another key, another
 * audience (and an app token is refused here the same way). The link carries no `iat` or `jti`,
 * so the same session and expiry always give the same link: an email sent again is the same.
 * Retired secrets (`JWT_PREVIOUS_SECRET_KEYS`) still verify links sent before a rotation.
 */
import { hkdfSync } from "node:crypto"
import { type PayLinksShape, SessionId } from "@qwip/core"
import { Clock, Effect, Option, Redacted, Schema } from "effect"
import { jwtVerify, SignJWT } from "jose"
import { ISSUER } from "../tokens/AccessTokens.js"

/** Pay links' own audience: never `qwip-app`, so the app never takes one for a session token. */
export const PAY_AUDIENCE = "qwip-pay"

export interface PayLinksOptions {
  /** `JWT_SECRET_KEY`; the pay links' key is derived from it. */
  readonly secret: Redacted.Redacted<string>
  /** `JWT_PREVIOUS_SECRET_KEYS`: links signed before a rotation keep working until they expire. */
  readonly previousSecrets?: ReadonlyArray<Redacted.Redacted<string>>
  /** The service's public origin (`PUBLIC_URL`), without a trailing slash. */
  readonly publicUrl: string
}

const PayClaims = Schema.Struct({ session_id: SessionId })

/** The pay links' key from an access-token secret: one-way, so it reveals nothing of that secret. */
const payKey = (secret: Redacted.Redacted<string>): Uint8Array =>
  new Uint8Array(hkdfSync("sha256", Redacted.value(secret), "", "qwip pay link v1", 32))

export const makePayLinks = (options: PayLinksOptions): PayLinksShape => {
  const current = payKey(options.secret)
  const keys = [current, ...(options.previousSecrets ?? []).map(payKey)]
  const base = options.publicUrl.replace(/\/+$/, "")

  const tokenFor = (sessionId: SessionId, expiresAt: Date) =>
    Effect.promise(() =>
      new SignJWT({ pay: { session_id: sessionId } })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer(ISSUER)
        .setAudience(PAY_AUDIENCE)
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(current)
    )

  const verifyWith = (
    token: string,
    key: Uint8Array,
    currentDate: Date
  ): Effect.Effect<Option.Option<typeof PayClaims.Type>> =>
    Effect.tryPromise(() =>
      jwtVerify(token, key, { algorithms: ["HS256"], issuer: ISSUER, audience: PAY_AUDIENCE, currentDate })
    ).pipe(
      Effect.flatMap(
        ({ payload }): Effect.Effect<typeof PayClaims.Type, unknown> =>
          // `exp` is required: a link that never expires must not exist.
          payload.exp === undefined
            ? Effect.fail("no expiry")
            : Schema.decodeUnknown(PayClaims)((payload as Record<string, unknown>).pay)
      ),
      Effect.option
    )

  return {
    linkFor: (sessionId, expiresAt) =>
      Effect.map(tokenFor(sessionId, expiresAt), (token) => `${base}/pay/${token}`).pipe(
        Effect.withSpan("PayLinks.linkFor", { attributes: { sessionId } })
      ),
    sessionOf: (token) =>
      Effect.gen(function* () {
        // A token is short; anything longer or with characters no JWT has is not one of ours.
        if (token.length === 0 || token.length > 2048 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) {
          return Option.none()
        }
        const currentDate = new Date(yield* Clock.currentTimeMillis)
        for (const key of keys) {
          const claims = yield* verifyWith(token, key, currentDate)
          if (Option.isSome(claims)) return Option.some(claims.value.session_id)
        }
        return Option.none()
      }).pipe(Effect.withSpan("PayLinks.sessionOf"))
  }
}
