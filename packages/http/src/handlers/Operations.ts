/**
 * Liveness, readiness, the deprecated endpoints (410 with a pointer to the current flow) and
 * the signed links to locally stored checkout photos.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { photoMediaType } from "@qwip/core"
import { Effect, Option } from "effect"
import { LocalPhotoFiles, Readiness } from "../Adapters.js"
import { QwipApi } from "../Api.js"
import { problem } from "../Problem.js"

export const OperationsLive = HttpApiBuilder.group(QwipApi, "operations", (handlers) =>
  Effect.gen(function* () {
    const readiness = yield* Readiness
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () =>
        Effect.flatMap(readiness.check, ({ ok, detail }) =>
          ok
            ? Effect.succeed({ status: "ready" as const, detail })
            : Effect.fail(problem(503, "not_ready", `Not ready: ${detail}`))
        )
      )
  })
)

const gone = () =>
  problem(
    410,
    "gone",
    "This endpoint was retired. Book with POST /api/setup-intent {pod_id}, confirm the card with the returned client_secret, then POST /api/booking/finalize with the provisioning token."
  )

export const DeprecatedLive = HttpApiBuilder.group(QwipApi, "deprecated", (handlers) =>
  handlers.handle("createSetupIntent", () => Effect.fail(gone())).handle("confirmBooking", () => Effect.fail(gone()))
)

export const PhotosLive = HttpApiBuilder.group(QwipApi, "photos", (handlers) =>
  Effect.gen(function* () {
    const files = yield* LocalPhotoFiles
    return handlers.handle("checkoutPhoto", ({ path, urlParams }) =>
      Option.match(files, {
        onNone: () => Effect.fail(problem(404, "not_found", "Checkout photos are not served from here")),
        onSome: (reader) =>
          reader.read({ sessionId: path.session_id, expires: urlParams.expires, signature: urlParams.signature }).pipe(
            Effect.mapError((reason) =>
              reason === "no_photo"
                ? problem(404, "photo_not_found", "This session has no checkout photo")
                : reason === "expired_link"
                  ? problem(403, "link_expired", "This photo link has expired; ask for a new one")
                  : problem(403, "link_invalid", "This photo link is not valid")
            ),
            Effect.map(({ bytes, type }) =>
              HttpServerResponse.uint8Array(bytes, {
                contentType: photoMediaType[type],
                headers: { "cache-control": "private, no-store", "x-content-type-options": "nosniff" }
              })
            )
          )
      })
    )
  })
)
