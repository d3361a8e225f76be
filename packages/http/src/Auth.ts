/**
 * Bearer tokens: read from `Authorization: Bearer <token>` (exactly; anything else is a
 * missing or malformed token, 403 as today) and verified by `AccessTokens`. Neither the token
 * nor its claims are ever logged.
 */
import { HttpServerRequest } from "@effect/platform"
import type { SessionId } from "@qwip/core"
import { Effect, Layer, Option } from "effect"
import { AccessTokens, bearerToken, InvalidToken } from "./Adapters.js"
import { ProvisioningAuth, SessionAuth } from "./Api.js"
import { type ApiProblem, problem, problemOf } from "./Problem.js"

const authorization = Effect.map(HttpServerRequest.HttpServerRequest, (request) => request.headers.authorization)

/** The raw bearer token of the request, or the 403 today's clients expect. */
const requireBearer = (scope: "session" | "provisioning") =>
  Effect.flatMap(authorization, (header) =>
    Option.match(bearerToken(header), {
      onNone: () =>
        Effect.fail(problemOf(new InvalidToken({ reason: header === undefined ? "missing" : "malformed", scope }))),
      onSome: Effect.succeed
    })
  )

export const SessionAuthLive = Layer.effect(
  SessionAuth,
  Effect.map(AccessTokens, (tokens) =>
    SessionAuth.of({
      sessionToken: () =>
        requireBearer("session").pipe(
          Effect.flatMap((token) => Effect.mapError(tokens.verifySession(token), problemOf))
        )
    })
  )
)

export const ProvisioningAuthLive = Layer.effect(
  ProvisioningAuth,
  Effect.map(AccessTokens, (tokens) =>
    ProvisioningAuth.of({
      provisioningToken: () =>
        requireBearer("provisioning").pipe(
          Effect.flatMap((token) => Effect.mapError(tokens.verifyProvisioning(token), problemOf))
        )
    })
  )
)

export const AuthLive = Layer.mergeAll(SessionAuthLive, ProvisioningAuthLive)

/**
 * The session a read is about: from the session token when one is sent (it wins), else from
 * `session_id` as today's frontend sends it. Neither: 403, as for a missing token.
 */
export const sessionFromTokenOrQuery = (
  sessionId: Option.Option<SessionId>
): Effect.Effect<SessionId, ApiProblem, AccessTokens | HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function* () {
    const header = yield* authorization
    if (header !== undefined) {
      const token = yield* requireBearer("session")
      const tokens = yield* AccessTokens
      const claims = yield* Effect.mapError(tokens.verifySession(token), problemOf)
      return claims.session_id
    }
    if (Option.isSome(sessionId)) return sessionId.value
    return yield* Effect.fail(
      problem(403, "token_missing", "Send the session token (Authorization: Bearer <token>) or session_id")
    )
  })
