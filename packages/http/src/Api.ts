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
import { MetricsGroup } from "./observability/MetricsGroup.js"
import { Problem, problemAt } from "./Problem.js"

// ---- authentication ---------------------------------------------------------------------

/** The verified claims of the request's session token. */
export class CurrentSession extends Context.Tag("@qwip/http/CurrentSession")<CurrentSession, SessionClaims>() {}
/** The verified claims of the request's provisioning token. */
export class CurrentProvisioning extends Context.Tag("@qwip/http/CurrentProvisioning")<
  CurrentProvisioning,
  ProvisioningClaims
>() {}

/** The middlewares' 403, as today's clients expect for a missing or malformed token. */
const noToken = "No bearer token, or a malformed Authorization header"

/** `Authorization: Bearer <session token>`, as emailed in the session link. */
export class SessionAuth extends HttpApiMiddleware.Tag<SessionAuth>()("@qwip/http/SessionAuth", {
  provides: CurrentSession,
  failure: Problem.annotations({ ...HttpApiSchema.annotations({ status: 403 }), description: noToken }),
  security: { sessionToken: HttpApiSecurity.bearer }
}) {}

/** `Authorization: Bearer <provisioning token>`, from `POST /api/setup-intent`. */
export class ProvisioningAuth extends HttpApiMiddleware.Tag<ProvisioningAuth>()("@qwip/http/ProvisioningAuth", {
  provides: CurrentProvisioning,
  failure: Problem.annotations({ ...HttpApiSchema.annotations({ status: 403 }), description: noToken }),
  security: { provisioningToken: HttpApiSecurity.bearer }
}) {}

// ---- shapes -----------------------------------------------------------------------------

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

/** The pay page's token: the last part of the emailed link `/pay/<token>`. */
const PayToken = Schema.Struct({
  token: Schema.String.annotations({ description: "The signed token from the pay link in the email" })
})

export const PayPageResponse = Schema.Struct({
  session_id: Schema.String,
  pod_name: Schema.String,
  amount_pence: Schema.Int.annotations({ description: "What the session still owes, in pence" }),
  amount: Pounds,
  status: Schema.String.annotations({
    description:
      "The PaymentIntent's status: requires_action (authenticate it), requires_payment_method (pay with a card), processing, succeeded"
  }),
  payment_intent_id: Schema.String,
  client_secret: Schema.String.annotations({
    description: "For Stripe.js confirmCardPayment; on sandbox payments, a stand-in"
  }),
  provider: Schema.Literal("stripe", "sandbox"),
  publishable_key: Schema.NullOr(Schema.String).annotations({
    description: "Stripe's publishable key for Stripe.js; null on sandbox payments"
  })
})

export const PayConfirmRequest = Schema.Struct({
  payment_intent_id: Schema.String.annotations({ description: "The PaymentIntent the page confirmed" })
})
export const PayConfirmResponse = Schema.Struct({
  status: Schema.Literal("paid", "processing", "requires_action", "failed").annotations({
    description:
      "paid: recorded, the receipt follows; processing: the bank has not answered yet; requires_action or failed: try again"
  }),
  session_id: Schema.String
})

export const SandboxAuthenticateRequest = Schema.Struct({
  result: Schema.Literal("succeeded", "failed").annotations({
    description: "What the customer does on the test 3-D Secure page"
  })
})
export const SandboxPayRequest = Schema.Struct({
  card: Schema.String.annotations({ description: "A test card number, e.g. 4242424242424242" })
})
export const SandboxPaymentStatus = Schema.Struct({
  payment_intent_id: Schema.String,
  status: Schema.String,
  last_payment_error: Schema.NullOr(Schema.Struct({ code: Schema.String, message: Schema.String }))
})

export const Health = Schema.Struct({ status: Schema.Literal("ok") })
export const Ready = Schema.Struct({ status: Schema.Literal("ready"), detail: Schema.String })

// ---- groups -------------------------------------------------------------------------------

const invalid = problemAt(400, "A field is missing or malformed, or the body is not JSON")
const tokenRefused = problemAt(401, "The token is expired, for another scope, or not signed by us")
const rateLimited = problemAt(429, "Too many requests from this address; see Retry-After")
const sessionNotFound = problemAt(404, "The session does not exist")

/**
 * An endpoint's own 400, besides a request that does not decode. @effect/platform documents a
 * status by the first description it meets, which is the decoding's, so `docs` (an
 * `OpenApi.Transform`) rewrites the operation's 400 to say both.
 */
const badRequest = (description: string) => ({
  error: problemAt(400, description),
  docs: (operation: Record<string, unknown>) => {
    const responses = operation.responses as Record<string, object>
    return {
      ...operation,
      responses: {
        ...responses,
        400: { ...responses["400"], description: `${description}; or the request does not match its schema` }
      }
    }
  }
})
const notAPhoto = badRequest("Not a JPEG, PNG or WebP image, larger than 10 MB, or no `photo` field")
const noCheckoutPhoto = badRequest("A checkout photo is required first")
const badSignature = badRequest(
  "Missing or invalid Stripe-Signature, a stale or future timestamp, or a signed body that is not an event"
)

// Summaries and descriptions are the docs' (/docs) headings and text; Redocly's recommended rules
// (npm run lint:api) want them on every operation and tag.

export class PodsGroup extends HttpApiGroup.make("pods")
  .add(
    HttpApiEndpoint.get("getPod", "/pod")
      .setUrlParams(Schema.Struct({ pod_id: PodId }))
      .addSuccess(PodView)
      .addError(invalid)
      .addError(problemAt(404, "Unknown pod"))
      .addError(rateLimited)
      .annotate(OpenApi.Summary, "Show a pod before booking it")
      .annotate(
        OpenApi.Description,
        "The pod's name, address, price per minute in pounds, and whether a session holds it now: what the booking page shows before it asks for a card."
      )
  )
  .add(
    HttpApiEndpoint.get("listPods", "/pods")
      .addSuccess(PodListing)
      .addError(rateLimited)
      .annotate(OpenApi.Summary, "List the pods")
      .annotate(OpenApi.Description, "Every pod with its id, name, address, price per minute and whether it is in use.")
  )
  .add(
    HttpApiEndpoint.get("lockStatus", "/lock-status")
      .setUrlParams(Schema.Struct({ device_id: Schema.NonEmptyTrimmedString }))
      .addSuccess(LockStatusResponse)
      .addError(invalid)
      .addError(problemAt(404, "No pod has this lock"))
      .addError(problemAt(503, "The lock cannot be reached"))
      .annotate(OpenApi.Summary, "Ask whether a pod's door is locked")
      .annotate(
        OpenApi.Description,
        "Whether the smart lock with this device id reports its door locked; always true for a pod on static door codes."
      )
  )
  .prefix("/api")
  .annotate(OpenApi.Description, "The pods customers book, and their door locks") {}

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
      .annotate(OpenApi.Summary, "Start a booking: save a card")
      .annotate(
        OpenApi.Description,
        "For a free pod, asks Stripe to save the customer's card for one charge when the session ends (a SetupIntent), and returns its client secret with a provisioning token for finalize (valid 10 minutes)."
      )
  )
  .add(
    HttpApiEndpoint.post("finalize", "/booking/finalize")
      .addSuccess(FinalizeResponse)
      .addError(tokenRefused)
      .addError(problemAt(402, "The card check at booking was declined (card_declined): book with another card"))
      .addError(problemAt(404, "Unknown pod or card set-up"))
      .addError(problemAt(409, "The card is not set up yet, the pod is in use, or the set-up is for another pod"))
      .addError(problemAt(503, "The payment provider is unavailable"))
      .middleware(ProvisioningAuth)
      .annotate(OpenApi.Summary, "Finish a booking: start the session")
      .annotate(
        OpenApi.Description,
        "Once the card is saved, starts the session on the pod and returns its session token (also emailed as a link); the door code is made in the background (see provisioning-status). With the card check on (BOOKING_HOLD_PENCE), a hold is placed on the card first and a declined card answers 402 card_declined: no door code, nothing charged, the pod stays free. A retry with the same provisioning token returns a token for the same session (or the same 402)."
      )
  )
  .prefix("/api")
  .annotate(OpenApi.Description, "Saving a card and starting a session") {}

export class SessionsGroup extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.get("provisioningStatus", "/provisioning-status")
      .addSuccess(ProvisioningStatusResponse)
      .addError(tokenRefused)
      .addError(sessionNotFound)
      .middleware(SessionAuth)
      .annotate(OpenApi.Summary, "Wait for the door code")
      .annotate(
        OpenApi.Description,
        "pending while the door code is being made, ready with the code, or failed: then the pod is released and the customer told."
      )
  )
  .add(
    HttpApiEndpoint.get("sessionData", "/get-session-data")
      .addSuccess(SessionDataResponse)
      .addError(tokenRefused)
      .addError(sessionNotFound)
      .middleware(SessionAuth)
      .annotate(OpenApi.Summary, "Show the customer's session")
      .annotate(
        OpenApi.Description,
        "When it started and ended, its door code (only while it runs), and the pod's name, address and price per minute."
      )
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
      .annotate(OpenApi.Summary, "Preview what ending now costs")
      .annotate(
        OpenApi.Description,
        "What the session would cost if it ended now, or what it cost once ended, in pounds. By session token, or by session_id as today's frontend sends it (rate-limited)."
      )
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
      .annotate(OpenApi.Summary, "Ask whether a session has ended")
      .annotate(OpenApi.Description, "By session token, or by session_id as today's frontend sends it (rate-limited).")
  )
  .add(
    HttpApiEndpoint.post("uploadCheckoutPhoto", "/session/upload-checkout-photo")
      .setPayload(PhotoUpload)
      .addSuccess(PhotoResponse)
      .addError(notAPhoto.error)
      .addError(tokenRefused)
      .addError(sessionNotFound)
      .addError(problemAt(409, "The session has ended"))
      .middleware(SessionAuth)
      .annotate(OpenApi.Transform, notAPhoto.docs)
      .annotate(OpenApi.Summary, "Upload the checkout photo")
      .annotate(
        OpenApi.Description,
        "A photo of the pod as the customer leaves it (the `photo` field: JPEG, PNG or WebP, at most 10 MB), needed before the session can end; returns a link to it that works for 15 minutes."
      )
  )
  .add(
    HttpApiEndpoint.post("endSession", "/end-session")
      .addSuccess(Success)
      .addError(noCheckoutPhoto.error)
      .addError(tokenRefused)
      .addError(sessionNotFound)
      .addError(problemAt(409, "The session has already ended"))
      .middleware(SessionAuth)
      .annotate(OpenApi.Transform, noCheckoutPhoto.docs)
      .annotate(OpenApi.Summary, "End the session and pay")
      .annotate(
        OpenApi.Description,
        "Ends the customer's session once the checkout photo is in: charges the saved card exactly once for the time used (from when the door code was ready; nothing under the minimum charge), revokes the door code and frees the pod. Ending it again is refused and charges nothing."
      )
  )
  .prefix("/api")
  .annotate(OpenApi.Description, "A customer's session: door code, cost, checkout photo, end and payment") {}

export class PhotosGroup extends HttpApiGroup.make("photos")
  .add(
    HttpApiEndpoint.get("checkoutPhoto", "/checkout-photos/:session_id")
      .setPath(Schema.Struct({ session_id: SessionId }))
      .setUrlParams(Schema.Struct({ expires: Schema.NumberFromString, signature: Schema.String }))
      .addSuccess(HttpApiSchema.Uint8Array({ contentType: "image/*" }))
      .addError(problemAt(403, "The link is invalid or has expired"))
      .addError(problemAt(404, "No photo"))
      .annotate(OpenApi.Summary, "Fetch a checkout photo")
      .annotate(
        OpenApi.Description,
        "The photo behind a signed link from upload-checkout-photo, until the link expires. Served only when photos are kept on this service's disk; with Supabase Storage the links are Supabase's."
      )
  )
  .annotate(OpenApi.Description, "Checkout photos behind signed, expiring links") {}

export class WebhooksGroup extends HttpApiGroup.make("webhooks")
  .add(
    HttpApiEndpoint.post("stripe", "/webhook/stripe")
      .addSuccess(Success)
      .addError(badSignature.error)
      .addError(problemAt(500, "Processing failed; Stripe retries"))
      .annotate(OpenApi.Transform, badSignature.docs)
      .annotate(OpenApi.Summary, "Receive a Stripe event")
      .annotate(
        OpenApi.Description,
        "Stripe's signed events about set-ups and charges (e.g. a charge that waited for the customer's authentication succeeding or failing), checked against the Stripe-Signature header and each handled once."
      )
  )
  .annotate(OpenApi.Description, "Events from Stripe") {}

export class PayGroup extends HttpApiGroup.make("pay")
  .add(
    HttpApiEndpoint.get("payPage", "/pay/:token")
      .setPath(PayToken)
      .addSuccess(PayPageResponse)
      .addError(problemAt(404, "The pay link is not one of ours (pay_link_invalid)"))
      .addError(problemAt(409, "The session owes nothing: already paid, waived or refunded (nothing_to_pay)"))
      .addError(problemAt(410, "The pay link has expired (pay_link_expired)"))
      .addError(rateLimited)
      .addError(problemAt(503, "The payment provider is unavailable"))
      .annotate(OpenApi.Summary, "What a pay link asks for")
      .annotate(
        OpenApi.Description,
        "What the pay page at /pay/<token> shows and needs: the session, pod and amount owed, and a PaymentIntent to finish on-session (the one waiting for the customer's authentication, or a new one for the amount owed) with its client secret for Stripe.js, or the sandbox's stand-in."
      )
  )
  .add(
    HttpApiEndpoint.post("confirmPayment", "/pay/:token/confirm")
      .setPath(PayToken)
      .setPayload(PayConfirmRequest)
      .addSuccess(PayConfirmResponse)
      .addError(invalid)
      .addError(problemAt(404, "The pay link is not one of ours, or the PaymentIntent is not this session's"))
      .addError(problemAt(409, "The session owes nothing (nothing_to_pay)"))
      .addError(problemAt(410, "The pay link has expired (pay_link_expired)"))
      .addError(rateLimited)
      .addError(problemAt(503, "The payment provider is unavailable"))
      .annotate(OpenApi.Summary, "Record what the pay page did")
      .annotate(
        OpenApi.Description,
        "After Stripe.js (or the sandbox) confirmed the PaymentIntent, the page asks us to read it back from the provider: a payment that succeeded for this session is recorded, dunning stops and the receipt follows. Safe to repeat; the webhook records the same outcome."
      )
  )
  .prefix("/api")
  .annotate(OpenApi.Description, "Paying what a session owes through the signed link emailed to the customer") {}

export class SandboxGroup extends HttpApiGroup.make("sandbox")
  .add(
    HttpApiEndpoint.post("confirmSetupIntent", "/setup-intents/:id/confirm")
      .setPath(Schema.Struct({ id: Schema.String }))
      .setPayload(SandboxConfirmRequest)
      .addSuccess(SandboxConfirmResponse)
      .addError(invalid)
      .addError(problemAt(402, "The test card was declined"))
      .addError(problemAt(404, "Unknown set-up intent, or not running on sandbox payments"))
      .annotate(OpenApi.Summary, "Save a test card (sandbox)")
      .annotate(
        OpenApi.Description,
        "Only on sandbox payments: stands in for Stripe's card form, confirming a card set-up with one of Stripe's test card numbers."
      )
  )
  .add(
    HttpApiEndpoint.get("payments", "/payments")
      .addSuccess(SandboxPayments)
      .addError(problemAt(404, "Not running on sandbox payments"))
      .annotate(OpenApi.Summary, "List what the sandbox charged")
      .annotate(OpenApi.Description, "Only on sandbox payments: the card set-ups and charges it recorded.")
  )
  .add(
    HttpApiEndpoint.post("authenticatePayment", "/payments/:payment_intent_id/authenticate")
      .setPath(Schema.Struct({ payment_intent_id: Schema.String }))
      .setPayload(SandboxAuthenticateRequest)
      .addSuccess(SandboxPaymentStatus)
      .addError(invalid)
      .addError(problemAt(404, "Unknown PaymentIntent, or not running on sandbox payments"))
      .addError(problemAt(409, "The PaymentIntent is not waiting for authentication"))
      .annotate(OpenApi.Summary, "Pass or fail a test authentication (sandbox)")
      .annotate(
        OpenApi.Description,
        "Only on sandbox payments: stands in for Stripe's test 3-D Secure page, completing (succeeded) or failing a PaymentIntent that waits for the customer's authentication. Then confirm on the pay page to record it."
      )
  )
  .add(
    HttpApiEndpoint.post("payWithCard", "/payments/:payment_intent_id/pay")
      .setPath(Schema.Struct({ payment_intent_id: Schema.String }))
      .setPayload(SandboxPayRequest)
      .addSuccess(SandboxPaymentStatus)
      .addError(invalid)
      .addError(problemAt(404, "Unknown PaymentIntent, or not running on sandbox payments"))
      .addError(problemAt(409, "The PaymentIntent is not open for payment"))
      .annotate(OpenApi.Summary, "Pay with a test card (sandbox)")
      .annotate(
        OpenApi.Description,
        "Only on sandbox payments: stands in for Stripe.js's card field on the pay page, paying an open PaymentIntent with one of the test cards (4242424242424242 pays; 4000002760003184 asks for authentication first; the decline cards are declined)."
      )
  )
  .prefix("/sandbox")
  .annotate(OpenApi.Description, "Sandbox payments' customer side: try booking and paying without Stripe") {}

const gone = problemAt(410, "Replaced by POST /api/setup-intent then POST /api/booking/finalize")

export class DeprecatedGroup extends HttpApiGroup.make("deprecated")
  .add(
    HttpApiEndpoint.get("createSetupIntent", "/create-setup-intent")
      .addError(gone)
      .annotate(OpenApi.Summary, "Old booking step (gone)")
      .annotate(OpenApi.Description, "Answers 410: book with POST /api/setup-intent then POST /api/booking/finalize.")
  )
  .add(
    HttpApiEndpoint.post("confirmBooking", "/confirm-booking")
      .addError(gone)
      .annotate(OpenApi.Summary, "Old booking step (gone)")
      .annotate(OpenApi.Description, "Answers 410: book with POST /api/setup-intent then POST /api/booking/finalize.")
  )
  .prefix("/api")
  .annotate(OpenApi.Description, "The previous booking flow: answers 410 with where to go instead") {}

export class OperationsGroup extends HttpApiGroup.make("operations")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz")
      .addSuccess(Health)
      .annotate(OpenApi.Summary, "Is the service alive")
      .annotate(OpenApi.Description, "Answers while the process runs; the host restarts the service when it stops.")
  )
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Ready)
      .addError(problemAt(503, "The store is unreachable or its migrations are not current"))
      .annotate(OpenApi.Summary, "Is the service ready for customers")
      .annotate(
        OpenApi.Description,
        "Ready once the store answers and its migrations are current; the host sends traffic only then."
      )
  )
  .annotate(OpenApi.Description, "Health and readiness checks for the host") {}

/**
 * OpenAPI 3.1's `identifier` (an SPDX expression; `LicenseRef-` is SPDX's form for a licence of
 * one's own), which @effect/platform's license type does not list but writes out as given.
 */
const license = { name: "Proprietary", identifier: "LicenseRef-Qwip-Proprietary" }

export class QwipApi extends HttpApi.make("qwip")
  .add(PodsGroup)
  .add(BookingGroup)
  .add(SessionsGroup)
  .add(PhotosGroup)
  .add(WebhooksGroup)
  .add(PayGroup)
  .add(SandboxGroup)
  .add(DeprecatedGroup)
  .add(OperationsGroup)
  .add(MetricsGroup)
  .addError(problemAt(500, "Our fault; the request id helps us find it"))
  .annotate(OpenApi.Title, "Qwip booking API")
  .annotate(OpenApi.Description, "Book a quiet pod by the minute: save a card, get a door code, end and pay.")
  .annotate(OpenApi.License, license)
  // Relative: the document describes whichever host serves it (production, a preview, localhost).
  .annotate(OpenApi.Servers, [{ url: "/", description: "The service that served this document" }]) {}
