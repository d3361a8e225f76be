/**
 * Every error the service answers, in one place. The body is today's `{"detail": ...}` (what
 * the frontend reads) plus a stable `error` code and the `request_id`:
 *
 *   {"detail": "pod pod-9 does not exist", "error": "pod_not_found", "request_id": "..."}
 *
 * Handlers fail only with `ApiProblem`; `problemOf` translates the domain's errors through one
 * table (error tag → status, code, detail). Client mistakes are 4xx and say what to fix; 5xx
 * is only for our faults and never carries internal text.
 */

import { HttpApiSchema } from "@effect/platform"
import type {
  CardDeclined,
  CardNotSetUp,
  CheckoutPhotoRequired,
  DeviceNotFound,
  IllegalTransition,
  InvalidEndTime,
  LockRejected,
  LockUnavailable,
  PaymentsUnavailable,
  PhotoTooLarge,
  PodInUse,
  PodMisconfigured,
  PodNotFound,
  SessionAlreadyEnded,
  SessionNotFound,
  SetupIntentMismatch,
  SetupIntentNotFound,
  StaleSession,
  UnsupportedPhoto,
  WorkNotDone
} from "@qwip/core"
import { Data, Effect, Schema } from "effect"
import type {
  InvalidToken,
  InvalidWebhookSignature,
  MalformedWebhookEvent,
  SandboxCardDeclined,
  SandboxPaymentNotFound,
  SandboxPaymentNotOpen
} from "./Adapters.js"

/** A failure to answer with: the status, a stable code and a message for the person. */
export class ApiProblem extends Data.TaggedError("ApiProblem")<{
  readonly status: number
  readonly error: string
  readonly detail: string
  readonly headers?: Readonly<Record<string, string>> | undefined
}> {
  override get message() {
    return `${this.status} ${this.error}: ${this.detail}`
  }
}

export const problem = (status: number, error: string, detail: string, headers?: Record<string, string>) =>
  new ApiProblem({ status, error, detail, headers })

/** The JSON body of every error response. */
export const ProblemBody = Schema.Struct({
  detail: Schema.String.annotations({ description: "What went wrong, for the person (the frontend shows it)" }),
  error: Schema.String.annotations({ description: "A stable code, e.g. pod_in_use" }),
  request_id: Schema.String.annotations({ description: "Quote it to support; also in the X-Request-ID header" })
}).annotations({ identifier: "Problem", title: "Problem" })

/** The body answering `p` for the request `requestId`. */
export const problemBody = (p: ApiProblem, requestId: string): typeof ProblemBody.Type => ({
  detail: p.detail,
  error: p.error,
  request_id: requestId
})

/**
 * `ApiProblem` as an endpoint error schema: documented as `ProblemBody`. The body itself is
 * written by the service's middleware (which knows the request id), so encoding here is a
 * fallback only.
 */
export const Problem: Schema.Schema<ApiProblem, typeof ProblemBody.Encoded> = Schema.transform(
  ProblemBody,
  Schema.declare((u): u is ApiProblem => u instanceof ApiProblem),
  {
    strict: true,
    decode: (body) => new ApiProblem({ status: 0, error: body.error, detail: body.detail }),
    encode: (p) => ({ detail: p.detail, error: p.error, request_id: "" })
  }
)

// ---- the domain's errors ----------------------------------------------------------

type Known =
  | DeviceNotFound
  | PodNotFound
  | PodInUse
  | SessionNotFound
  | CardNotSetUp
  | CardDeclined
  | SetupIntentMismatch
  | SetupIntentNotFound
  | IllegalTransition
  | SessionAlreadyEnded
  | StaleSession
  | PodMisconfigured
  | InvalidEndTime
  | WorkNotDone
  | PaymentsUnavailable
  | LockUnavailable
  | LockRejected
  | CheckoutPhotoRequired
  | UnsupportedPhoto
  | PhotoTooLarge
  | InvalidToken
  | SandboxCardDeclined
  | SandboxPaymentNotFound
  | SandboxPaymentNotOpen
  | InvalidWebhookSignature
  | MalformedWebhookEvent

type Entry<E> = (e: E) => readonly [status: number, error: string, detail: string]

const tokenEntry: Entry<InvalidToken> = (e) => {
  // Missing or malformed bearer tokens are 403, as today; a token that is ours but no longer
  // (or not here) valid is 401.
  switch (e.reason) {
    case "missing":
      return [403, "token_missing", e.message]
    case "malformed":
      return [403, "token_malformed", e.message]
    case "bad_signature":
      return [401, "token_invalid", e.message]
    case "expired":
      return [401, "token_expired", e.message]
    case "not_yet_valid":
      return [401, "token_not_yet_valid", e.message]
    case "wrong_scope":
      return [401, "token_wrong_scope", e.message]
    case "wrong_issuer":
      return [401, "token_wrong_issuer", e.message]
  }
}

/** The table: each error the domain and adapters raise, as the client sees it. */
const table: { readonly [K in Known["_tag"]]: Entry<Extract<Known, { readonly _tag: K }>> } = {
  DeviceNotFound: () => [404, "device_not_found", "No pod has this lock device"],
  PodNotFound: (e) => [404, "pod_not_found", `Pod ${e.podId} does not exist`],
  PodInUse: (e) => [409, "pod_in_use", `Pod ${e.podId} is in use by another session`],
  SessionNotFound: (e) => [404, "session_not_found", `Session ${e.sessionId} does not exist`],
  CardNotSetUp: (e) => [
    409,
    "card_not_set_up",
    `The card has not been set up yet (status ${e.status}); confirm the card, then finalize again`
  ],
  // What the frontend shows: the booking is refused, nothing charged, the pod stays free.
  CardDeclined: (e) => [
    402,
    "card_declined",
    `Your card was declined (${e.code}): ${e.reason}. Nothing was charged; please book again with another card`
  ],
  SetupIntentMismatch: () => [409, "setup_intent_mismatch", "The card set-up was made for another pod"],
  SetupIntentNotFound: () => [404, "setup_intent_not_found", "The card set-up does not exist"],
  IllegalTransition: (e) => [409, "invalid_session_state", `The session is ${e.from} and cannot ${e.event}`],
  SessionAlreadyEnded: (e) => [
    409,
    "session_already_ended",
    `This session already ended at ${e.endedAt.toISOString()}`
  ],
  StaleSession: () => [409, "session_busy", "The session changed while we were updating it; try again"],
  PodMisconfigured: () => [500, "pod_misconfigured", "This pod cannot be booked right now; please contact Qwip"],
  InvalidEndTime: (e) => [400, "invalid_end_time", `Cannot end at ${e.endedAt.toISOString()}: ${e.reason}`],
  WorkNotDone: () => [503, "try_again", "This could not be done right now; try again shortly"],
  PaymentsUnavailable: () => [503, "payments_unavailable", "The payment provider is unavailable; try again shortly"],
  LockUnavailable: () => [503, "lock_unavailable", "The pod's lock cannot be reached; try again shortly"],
  LockRejected: () => [502, "lock_error", "The pod's lock refused the request"],
  CheckoutPhotoRequired: () => [
    400,
    "checkout_photo_required",
    "Upload a checkout photo (POST /api/session/upload-checkout-photo) before ending the session"
  ],
  UnsupportedPhoto: (e) => [400, "unsupported_photo_type", e.reason],
  PhotoTooLarge: (e) => [400, "photo_too_large", e.message],
  InvalidToken: tokenEntry,
  SandboxCardDeclined: (e) => [402, "card_declined", e.reason],
  SandboxPaymentNotFound: (e) => [404, "payment_not_found", e.message],
  SandboxPaymentNotOpen: (e) => [409, "payment_not_open", e.message],
  InvalidWebhookSignature: (e) => [400, "invalid_signature", e.message],
  MalformedWebhookEvent: (e) => [400, "invalid_event", e.message]
}

/**
 * When a client should ask again after a 503 (an outside service did not answer within the
 * customer's wait): soon, since the work it waits on is bounded by the same few seconds.
 */
export const RETRY_AFTER_SECONDS = "5"

/** The problem a domain error is, per the table; a 503 says when to ask again. */
export const problemOf = (e: Known | ApiProblem): ApiProblem => {
  if (e._tag === "ApiProblem") return e
  const entry = table[e._tag] as Entry<Known>
  const [status, error, detail] = entry(e)
  return new ApiProblem({
    status,
    error,
    detail,
    headers: status === 503 ? { "retry-after": RETRY_AFTER_SECONDS } : undefined
  })
}

/** Translates a use case's errors to problems: `useCase.pipe(orProblem)`. */
export const orProblem = <A, E extends Known | ApiProblem, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, ApiProblem, R> => Effect.mapError(self, problemOf)

// ---- the service's own ---------------------------------------------------------------

export const notFound = (method: string, path: string) =>
  problem(404, "not_found", `No endpoint ${method} ${path}; see /docs for the API`)

export const malformedJson = () => problem(400, "malformed_json", "The request body is not valid JSON")

export const internalError = () =>
  problem(500, "internal_error", "Something went wrong on our side; please try again or contact Qwip")

/** `Problem` as the error an endpoint declares with `code`, described for the OpenAPI document. */
export const problemAt = (code: number, description: string) =>
  Problem.annotations({ ...HttpApiSchema.annotations({ status: code }), description })
