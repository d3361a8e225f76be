/**
 * The bearer tokens the customer's app carries: HS256 JWTs in today's payload layout
 * (`{"provisioning": {...}}` or `{"session": {...}}` plus `exp`), now with `iss`, `aud`, `iat`
 * and `jti`. Tokens minted by the old service (no `iss`/`aud`) keep verifying while legacy
 * acceptance is on, and tokens signed with a retired secret keep verifying during a rotation.
 * Time comes from Effect's `Clock`, so expiry is testable.
 */

import { PodId, ProvisioningId, SessionId, SetupIntentId } from "@qwip/core"
import { Clock, Config, Context, Duration, Effect, Either, Layer, Option, Redacted, Schema } from "effect"
import { errors as joseErrors, jwtVerify, SignJWT } from "jose"

export const ISSUER = "qwip-platform"
export const AUDIENCE = "qwip-app"
/** Secrets shorter than this are refused at start: HS256 needs at least 256 bits. */
export const MIN_SECRET_BYTES = 32

export const ProvisioningClaims = Schema.Struct({
  setup_intent_id: SetupIntentId,
  pod_id: PodId,
  provisioning_id: ProvisioningId
})
export type ProvisioningClaims = typeof ProvisioningClaims.Type

export const SessionClaims = Schema.Struct({ session_id: SessionId })
export type SessionClaims = typeof SessionClaims.Type

export type TokenScope = "provisioning" | "session"

/** Why a token was refused; safe to show (never contains the token or its payload). */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  reason: Schema.Literal(
    "missing",
    "malformed",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_scope",
    "wrong_issuer"
  ),
  scope: Schema.String
}) {
  override get message() {
    const what = `${this.scope} token`
    const messages: Record<InvalidToken["reason"], string> = {
      missing: `a ${what} is required (Authorization: Bearer <token>)`,
      malformed: `the ${what} is malformed`,
      bad_signature: `the ${what} has an invalid signature`,
      expired: `the ${what} has expired`,
      not_yet_valid: `the ${what} is not valid yet (its nbf is in the future)`,
      wrong_scope: `this is not a ${what}`,
      wrong_issuer: `the ${what} was not issued for this app`
    }
    return messages[this.reason]
  }
}

/** A token setting that makes the service refuse to start. */
export class TokenConfigError extends Schema.TaggedError<TokenConfigError>()("TokenConfigError", {
  variable: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.variable}: ${this.reason}`
  }
}

export interface AccessTokensOptions {
  readonly secret: Redacted.Redacted<string>
  readonly previousSecrets?: ReadonlyArray<Redacted.Redacted<string>>
  /** Accept tokens without `iss`/`aud`, as the old service minted them. */
  readonly acceptLegacy?: boolean
  readonly provisioningTtl?: Duration.DurationInput
  readonly sessionTtl?: Duration.DurationInput
}

export interface AccessTokensShape {
  readonly mintProvisioning: (claims: ProvisioningClaims) => Effect.Effect<string>
  readonly mintSession: (claims: SessionClaims) => Effect.Effect<string>
  readonly verifyProvisioning: (token: string) => Effect.Effect<ProvisioningClaims, InvalidToken>
  readonly verifySession: (token: string) => Effect.Effect<SessionClaims, InvalidToken>
}

export class AccessTokens extends Context.Tag("@qwip/adapters/AccessTokens")<AccessTokens, AccessTokensShape>() {}

const encoder = new TextEncoder()

const checkSecret = (variable: string, secret: Redacted.Redacted<string>) =>
  encoder.encode(Redacted.value(secret)).byteLength >= MIN_SECRET_BYTES
    ? Either.right(encoder.encode(Redacted.value(secret)))
    : Either.left(new TokenConfigError({ variable, reason: `must be at least ${MIN_SECRET_BYTES} bytes` }))

export const makeAccessTokens = (options: AccessTokensOptions): Effect.Effect<AccessTokensShape, TokenConfigError> =>
  Effect.gen(function* () {
    const currentBytes = yield* checkSecret("JWT_SECRET_KEY", options.secret)
    const previousBytes: Array<Uint8Array> = []
    for (const s of options.previousSecrets ?? []) previousBytes.push(yield* checkSecret("JWT_PREVIOUS_SECRET_KEYS", s))
    // Imported once: jose would otherwise import a raw secret on every sign and verify.
    const importHmac = (bytes: Uint8Array) =>
      Effect.promise(() =>
        globalThis.crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"])
      )
    const current = yield* importHmac(currentBytes)
    const keys = [current, ...(yield* Effect.forEach(previousBytes, importHmac))]
    const acceptLegacy = options.acceptLegacy ?? true
    const ttl = {
      provisioning: Duration.decode(options.provisioningTtl ?? Duration.minutes(10)),
      session: Duration.decode(options.sessionTtl ?? Duration.hours(24))
    }

    const mint = (scope: TokenScope, claims: object) =>
      Effect.gen(function* () {
        const nowSeconds = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const jti = globalThis.crypto.randomUUID()
        return yield* Effect.promise(() =>
          new SignJWT({ [scope]: claims })
            .setProtectedHeader({ alg: "HS256", typ: "JWT" })
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setIssuedAt(nowSeconds)
            .setExpirationTime(nowSeconds + Math.floor(Duration.toSeconds(ttl[scope])))
            .setJti(jti)
            .sign(current)
        )
      })

    const verify = <A, I>(scope: TokenScope, schema: Schema.Schema<A, I>, token: string) =>
      Effect.gen(function* () {
        const fail = (reason: InvalidToken["reason"]) => Effect.fail(new InvalidToken({ reason, scope }))
        if (token.length === 0) return yield* fail("missing")
        const currentDate = new Date(yield* Clock.currentTimeMillis)
        let lastError: InvalidToken["reason"] = "bad_signature"
        for (const key of keys) {
          const result = yield* Effect.either(
            Effect.tryPromise({
              try: () => jwtVerify(token, key, { algorithms: ["HS256"], currentDate }),
              catch: (e) => e
            })
          )
          if (Either.isLeft(result)) {
            const e = result.left
            if (e instanceof joseErrors.JWSSignatureVerificationFailed) {
              lastError = "bad_signature"
              continue // maybe signed with a previous secret
            }
            if (e instanceof joseErrors.JWTExpired) return yield* fail("expired")
            // Signed by us, but dated later than our clock: not a malformed token.
            if (e instanceof joseErrors.JWTClaimValidationFailed && e.claim === "nbf" && e.reason === "check_failed") {
              return yield* fail("not_yet_valid")
            }
            return yield* fail("malformed")
          }
          const payload = result.right.payload
          const hasIssuer = payload.iss !== undefined || payload.aud !== undefined
          if (hasIssuer) {
            const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud]
            if (payload.iss !== ISSUER || !audiences.includes(AUDIENCE)) return yield* fail("wrong_issuer")
          } else if (!acceptLegacy) {
            return yield* fail("wrong_issuer")
          }
          // Today's tokens require `exp`; a token without one never expires, so refuse it.
          if (payload.exp === undefined) return yield* fail("malformed")
          const inner = (payload as Record<string, unknown>)[scope]
          if (inner === undefined) return yield* fail("wrong_scope")
          return yield* Schema.decodeUnknown(schema)(inner).pipe(Effect.orElse(() => fail("malformed")))
        }
        return yield* fail(lastError)
      })

    return {
      mintProvisioning: (claims) => mint("provisioning", claims),
      mintSession: (claims) => mint("session", claims),
      verifyProvisioning: (token) => verify("provisioning", ProvisioningClaims, token),
      verifySession: (token) => verify("session", SessionClaims, token)
    }
  })

const commaSeparatedSecrets = (name: string) =>
  Config.string(name).pipe(
    Config.withDefault(""),
    Config.map((raw) =>
      raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
        .map(Redacted.make)
    )
  )

/** `JWT_SECRET_KEY` (required, ≥ 32 bytes), `JWT_PREVIOUS_SECRET_KEYS`, `JWT_ACCEPT_LEGACY` (default on). */
export const accessTokensConfig = Config.all({
  secret: Config.redacted("JWT_SECRET_KEY"),
  previousSecrets: commaSeparatedSecrets("JWT_PREVIOUS_SECRET_KEYS"),
  acceptLegacy: Config.boolean("JWT_ACCEPT_LEGACY").pipe(Config.withDefault(true)),
  sessionTtl: Config.duration("SESSION_TOKEN_TTL").pipe(Config.withDefault(Duration.hours(24)))
})

export const layer = (options: AccessTokensOptions) => Layer.effect(AccessTokens, makeAccessTokens(options))

export const layerFromConfig = (config: Config.Config<AccessTokensOptions> = accessTokensConfig) =>
  Layer.effect(AccessTokens, Effect.flatMap(config, makeAccessTokens))

/** The token from an `Authorization: Bearer <token>` header, if there is one. */
export const bearerToken = (header: string | undefined): Option.Option<string> => {
  if (header === undefined) return Option.none()
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return Option.fromNullable(match?.[1])
}
