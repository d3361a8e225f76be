/**
 * The service's HTTP API: today's paths and JSON shapes (see the contract), plus `GET /api/pods`,
 * the sandbox's customer side, health checks and the Stripe webhook. `/openapi.json` and
 * `/docs` are generated from this definition.
 */
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { PodId, SessionId } from "@qwip/core"
import { Context, Schema } from "effect"
import type { ProvisioningClaims, SessionClaims } from "./Adapters.js"
import { Problem } from "./Problem.js"

// ---- authentication ---------------------------------------------------------------------

/** The verified claims of the request's session token. */
export class CurrentSession extends Context.Tag("@qwip/http/CurrentSession")<CurrentSession, SessionClaims>() {}
/** The verified claims of the request's provisioning token. */
export class CurrentProvisioning extends Context.Tag("@qwip/http/CurrentProvisioning")<
  CurrentProvisioning,
  ProvisioningClaims
>() {}

/** `Authorization: Bearer <session token>`, as emailed in the session link. */
export class SessionAuth extends HttpApiMiddleware.Tag<SessionAuth>()("@qwip/http/SessionAuth", {
  provides: CurrentSession,
  failure: Problem.annotations(HttpApiSchema.annotations({ status: 403 })),
  security: { sessionToken: HttpApiSecurity.bearer }
}) {}

/** `Authorization: Bearer <provisioning token>`, from `POST /api/setup-intent`. */
export class ProvisioningAuth extends HttpApiMiddleware.Tag<ProvisioningAuth>()("@qwip/http/ProvisioningAuth", {
  provides: CurrentProvisioning,
  failure: Problem.annotations(HttpApiSchema.annotations({ status: 403 })),
  security: { provisioningToken: HttpApiSecurity.bearer }
}) {}

// ---- shapes -----------------------------------------------------------------------------

const problemAt = (code: number, description: string) =>
  Problem.annotations({ ...HttpApiSchema.annotations({ status: code }), description })

const Pounds = Schema.Number.annotations({ description: "Pounds, exact to the penny (2 dp)" })
const IsoTime = Schema.String.annotations({ description: "ISO 8601 time, UTC" })
const CodeInt = Schema.NullOr(Schema.Int).annotations({
  description: "The door code as an integer (leading zeros lost: use access_code_text)"
})
const CodeText = Schema.NullOr(Schema.String).annotations({ description: "The door code with its leading zeros" })

export const PodView = Schema.Struct({
  name: Schema.String,
  address: Schema.String,
  price_per_minute: Pounds,
  in_use: Schema.Boolean
})

export const PodListing = Schema.Struct({
  pods: Schema.Array(Schema.Struct({ id: Schema.String, ...PodView.fields }))
})

export const SetupIntentRequest = Schema.Struct({ pod_id: PodId })
export const SetupIntentResponse = Schema.Struct({
  client_secret: Schema.String,
  provisioning_jwt_token: Schema.String
})

export const FinalizeResponse = Schema.Struct({ session_jwt_token: Schema.String })

export const ProvisioningStatusResponse = Schema.Struct({
  status: Schema.Literal("pending", "ready", "failed"),
  access_code: CodeInt,
  access_code_text: CodeText
})

export const SessionDataResponse = Schema.Struct({
  session_data: Schema.Struct({
    start_dt: IsoTime,
    end_dt: Schema.NullOr(IsoTime),
    access_code: CodeInt,
    access_code_text: CodeText
  }),
  pod_data: Schema.Struct({ name: Schema.String, address: Schema.String, price_per_minute: Pounds })
})

/** Either the session token or, for today's frontend, `session_id` (rate-limited). */
export const SessionLookup = Schema.Struct({ session_id: Schema.optional(SessionId) })

export const PreviewResponse = Schema.Struct({
  is_complete: Schema.Boolean,
  pod_name: Schema.String,
  start_time: IsoTime,
  end_time: IsoTime.annotations({ description: "When it ended, or now for a session still running" }),
  cost: Pounds
})

export const IsCompleteResponse = Schema.Struct({ is_complete: Schema.Boolean })
export const LockStatusResponse = Schema.Struct({ is_locked: Schema.Boolean })
export const PhotoResponse = Schema.Struct({
  photo_url: Schema.String.annotations({ description: "A signed URL that works for 15 minutes" })
})
export const Success = Schema.Struct({ status: Schema.Literal("success") })

export const PhotoUpload = HttpApiSchema.MultipartStream(
  Schema.Struct({
    photo: Schema.Unknown.annotations({
      description: "A JPEG, PNG or WebP image of at most 10 MB",
      jsonSchema: { type: "string", format: "binary" }
    })
  })
)

export const SandboxConfirmRequest = Schema.Struct({
  card_number: Schema.String.annotations({ description: "One of Stripe's test card numbers" }),
  email: Schema.optionalWith(Schema.String, { default: () => "" })
})
export const SandboxConfirmResponse = Schema.Struct({ setup_intent_id: Schema.String, status: Schema.String })
export const SandboxPayments = Schema.Struct({
  payments: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      object: Schema.String,
      status: Schema.String,
      amount_pence: Schema.NullOr(Schema.Int),
      session_id: Schema.NullOr(Schema.String),
      created_at: IsoTime
    })
  )
})

export const Health = Schema.Struct({ status: Schema.Literal("ok") })
export const Ready = Schema.Struct({ status: Schema.Literal("ready"), detail: Schema.String })

// ---- groups -------------------------------------------------------------------------------

const invalid = problemAt(400, "A field is missing or malformed, or the body is not JSON")
const tokenRefused = problemAt(401, "The token is expired, for another scope, or not signed by us")
const rateLimited = problemAt(429, "Too many requests from this address; see Retry-After")
const sessionNotFound = problemAt(404, "The session does not exist")

export class PodsGroup extends HttpApiGroup.make("pods")
  .add(
    HttpApiEndpoint.get("getPod", "/pod")
      .setUrlParams(Schema.Struct({ pod_id: PodId }))
      .addSuccess(PodView)
      .addError(invalid)
      .addError(problemAt(404, "Unknown pod"))
      .addError(rateLimited)
  )
  .add(HttpApiEndpoint.get("listPods", "/pods").addSuccess(PodListing).addError(rateLimited))
  .add(
    HttpApiEndpoint.get("lockStatus", "/lock-status")
      .setUrlParams(Schema.Struct({ device_id: Schema.NonEmptyTrimmedString }))
      .addSuccess(LockStatusResponse)
      .addError(invalid)
      .addError(problemAt(404, "No pod has this lock"))
      .addError(problemAt(503, "The lock cannot be reached"))
  )
  .prefix("/api") {}

export class BookingGroup extends HttpApiGroup.make("booking")
  .add(
    HttpApiEndpoint.post("setupIntent", "/setup-intent")
      .setPayload(SetupIntentRequest)
      .addSuccess(SetupIntentResponse)
      .addError(invalid)
      .addError(problemAt(404, "Unknown pod"))
      .addError(problemAt(409, "The pod is in use"))
      .addError(rateLimited)
      .addError(problemAt(503, "The payment provider is unavailable"))
  )
  .add(
    HttpApiEndpoint.post("finalize", "/booking/finalize")
      .addSuccess(FinalizeResponse)
      .addError(tokenRefused)
      .addError(problemAt(404, "Unknown pod or card set-up"))
      .addError(problemAt(409, "The card is not set up yet, the pod is in use, or the set-up is for another pod"))
      .addError(problemAt(503, "The payment provider is unavailable"))
      .middleware(ProvisioningAuth)
  )
  .prefix("/api") {}

export class SessionsGroup extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.get("provisioningStatus", "/provisioning-status")
      .addSuccess(ProvisioningStatusResponse)
      .addError(tokenRefused)
      .addError(sessionNotFound)
      .middleware(SessionAuth)
  )
  .add(
    HttpApiEndpoint.get("sessionData", "/get-session-data")
      .addSuccess(SessionDataResponse)
      .addError(tokenRefused)
      .addError(sessionNotFound)
      .middleware(SessionAuth)
  )
  .add(
    HttpApiEndpoint.get("preview", "/end-session-preview")
      .setUrlParams(SessionLookup)
      .addSuccess(PreviewResponse)
      .addError(invalid)
      .addError(tokenRefused)
      .addError(problemAt(403, "Neither a session token nor session_id was given"))
      .addError(sessionNotFound)
      .addError(rateLimited)
  )
  .add(
    HttpApiEndpoint.get("isComplete", "/is-session-complete")
      .setUrlParams(SessionLookup)
      .addSuccess(IsCompleteResponse)
      .addError(invalid)
      .addError(tokenRefused)
      .addError(problemAt(403, "Neither a session token nor session_id was given"))
      .addError(sessionNotFound)
      .addError(rateLimited)
  )
  .add(
    HttpApiEndpoint.post("uploadCheckoutPhoto", "/session/upload-checkout-photo")
      .setPayload(PhotoUpload)
      .addSuccess(PhotoResponse)
      .addError(problemAt(400, "Not a JPEG, PNG or WebP image, larger than 10 MB, or no `photo` field"))
      .addError(tokenRefused)
      .addError(sessionNotFound)
      .addError(problemAt(409, "The session has ended"))
      .middleware(SessionAuth)
  )
  .add(
    HttpApiEndpoint.post("endSession", "/end-session")
      .addSuccess(Success)
      .addError(problemAt(400, "A checkout photo is required first"))
      .addError(tokenRefused)
      .addError(sessionNotFound)
      .addError(problemAt(409, "The session has already ended"))
      .middleware(SessionAuth)
  )
  .prefix("/api") {}

export class PhotosGroup extends HttpApiGroup.make("photos").add(
  HttpApiEndpoint.get("checkoutPhoto", "/checkout-photos/:session_id")
    .setPath(Schema.Struct({ session_id: SessionId }))
    .setUrlParams(Schema.Struct({ expires: Schema.NumberFromString, signature: Schema.String }))
    .addSuccess(HttpApiSchema.Uint8Array({ contentType: "image/*" }))
    .addError(problemAt(403, "The link is invalid or has expired"))
    .addError(problemAt(404, "No photo"))
) {}

export class WebhooksGroup extends HttpApiGroup.make("webhooks").add(
  HttpApiEndpoint.post("stripe", "/webhook/stripe")
    .addSuccess(Success)
    .addError(
      problemAt(
        400,
        "Missing or invalid Stripe-Signature, a stale or future timestamp, or a signed body that is not an event"
      )
    )
    .addError(problemAt(500, "Processing failed; Stripe retries"))
) {}

export class SandboxGroup extends HttpApiGroup.make("sandbox")
  .add(
    HttpApiEndpoint.post("confirmSetupIntent", "/setup-intents/:id/confirm")
      .setPath(Schema.Struct({ id: Schema.String }))
      .setPayload(SandboxConfirmRequest)
      .addSuccess(SandboxConfirmResponse)
      .addError(invalid)
      .addError(problemAt(402, "The test card was declined"))
      .addError(problemAt(404, "Unknown set-up intent, or not running on sandbox payments"))
  )
  .add(
    HttpApiEndpoint.get("payments", "/payments")
      .addSuccess(SandboxPayments)
      .addError(problemAt(404, "Not running on sandbox payments"))
  )
  .prefix("/sandbox") {}

const gone = problemAt(410, "Replaced by POST /api/setup-intent then POST /api/booking/finalize")

export class DeprecatedGroup extends HttpApiGroup.make("deprecated")
  .add(HttpApiEndpoint.get("createSetupIntent", "/create-setup-intent").addError(gone))
  .add(HttpApiEndpoint.post("confirmBooking", "/confirm-booking").addError(gone))
  .prefix("/api") {}

export class OperationsGroup extends HttpApiGroup.make("operations")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Health))
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Ready)
      .addError(problemAt(503, "The store is unreachable or its migrations are not current"))
  ) {}

export class QwipApi extends HttpApi.make("qwip")
  .add(PodsGroup)
  .add(BookingGroup)
  .add(SessionsGroup)
  .add(PhotosGroup)
  .add(WebhooksGroup)
  .add(SandboxGroup)
  .add(DeprecatedGroup)
  .add(OperationsGroup)
  .addError(problemAt(500, "Our fault; the request id helps us find it"))
  .annotate(OpenApi.Title, "Qwip booking API")
  .annotate(OpenApi.Description, "Book a quiet pod by the minute: save a card, get a door code, end and pay.") {}
