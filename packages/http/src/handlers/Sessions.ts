/**
 * A session, as its holder sees it: provisioning status, data with the door code, the cost of
 * ending now, the checkout photo and the end itself. Reads are one store read each. Once the
 * session has ended its token still reads it, but ending again or replacing the photo is refused.
 */
import { HttpApiBuilder, type Multipart } from "@effect/platform"
import {
  type AccessCode,
  accessCodeAsInteger,
  CheckoutPhoto,
  CustomerEnd,
  endedAtOf,
  MAX_CHECKOUT_PHOTO_BYTES,
  PhotoTooLarge,
  pence,
  rateToPoundsNumber,
  SessionNotFound,
  SessionStore,
  toPoundsNumber,
  Viewing
} from "@qwip/core"
import { Clock, Effect, Option, Stream } from "effect"
import { CurrentSession, QwipApi } from "../Api.js"
import { sessionFromTokenOrQuery } from "../Auth.js"
import { type ApiProblem, orProblem, problem } from "../Problem.js"

const codeFields = (code: Option.Option<AccessCode>) => ({
  access_code: Option.match(code, { onNone: () => null, onSome: accessCodeAsInteger }),
  access_code_text: Option.getOrNull(code)
})

const notMultipart = () =>
  problem(400, "malformed_multipart", "The body must be multipart/form-data with a `photo` file field")
const noPhoto = () => problem(400, "photo_missing", "Send the photo as the multipart field `photo`")

/** The bytes of the `photo` file part, refusing more than the limit as they arrive. */
export const readPhotoPart = (
  parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>
): Effect.Effect<Uint8Array, ApiProblem | Multipart.MultipartError | PhotoTooLarge> =>
  parts.pipe(
    Stream.mapEffect((part) => {
      if (part._tag !== "File") return Effect.succeed(Option.none<Uint8Array>())
      if (part.key !== "photo") return Effect.as(Stream.runDrain(part.content), Option.none<Uint8Array>())
      return Effect.suspend(() => {
        const chunks: Array<Uint8Array> = []
        let size = 0
        return Stream.runForEach(part.content, (chunk) => {
          size += chunk.length
          if (size > MAX_CHECKOUT_PHOTO_BYTES)
            return Effect.fail(new PhotoTooLarge({ maxBytes: MAX_CHECKOUT_PHOTO_BYTES }))
          chunks.push(chunk)
          return Effect.void
        }).pipe(Effect.map(() => Option.some<Uint8Array>(Buffer.concat(chunks))))
      })
    }),
    Stream.filterMap((found) => found),
    Stream.runHead,
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(noPhoto()), onSome: Effect.succeed }))
  )

export const SessionsLive = HttpApiBuilder.group(QwipApi, "sessions", (handlers) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    return handlers
      .handle("provisioningStatus", () =>
        Effect.gen(function* () {
          const { session_id } = yield* CurrentSession
          const view = yield* orProblem(Viewing.viewSession(session_id))
          return { status: view.provisioning, ...codeFields(view.accessCode) }
        })
      )
      .handle("sessionData", () =>
        Effect.gen(function* () {
          const { session_id } = yield* CurrentSession
          const view = yield* orProblem(Viewing.viewSession(session_id))
          return {
            session_data: {
              start_dt: view.session.startedAt.toISOString(),
              end_dt: Option.match(endedAtOf(view.session), { onNone: () => null, onSome: (d) => d.toISOString() }),
              ...codeFields(view.accessCode)
            },
            pod_data: {
              name: view.pod.name,
              address: view.pod.address,
              price_per_minute: rateToPoundsNumber(view.pod.rate)
            }
          }
        })
      )
      .handle("preview", ({ urlParams }) =>
        Effect.gen(function* () {
          const sessionId = yield* sessionFromTokenOrQuery(Option.fromNullable(urlParams.session_id))
          const preview = yield* orProblem(Viewing.previewCost(sessionId))
          const now = new Date(yield* Clock.currentTimeMillis)
          return {
            is_complete: preview.isComplete,
            pod_name: preview.pod.name,
            start_time: preview.session.startedAt.toISOString(),
            end_time: Option.getOrElse(preview.endedAt, () => now).toISOString(),
            cost: toPoundsNumber(pence(preview.quote.chargePence))
          }
        })
      )
      .handle("isComplete", ({ urlParams }) =>
        Effect.gen(function* () {
          const sessionId = yield* sessionFromTokenOrQuery(Option.fromNullable(urlParams.session_id))
          const session = yield* store.session(sessionId)
          if (Option.isNone(session)) return yield* orProblem(Effect.fail(new SessionNotFound({ sessionId })))
          return { is_complete: Viewing.isComplete(session.value) }
        })
      )
      .handle("uploadCheckoutPhoto", ({ payload, request }) =>
        Effect.gen(function* () {
          const { session_id } = yield* CurrentSession
          if (!(request.headers["content-type"] ?? "").toLowerCase().startsWith("multipart/form-data")) {
            return yield* Effect.fail(notMultipart())
          }
          const bytes = yield* readPhotoPart(payload).pipe(
            Effect.catchTag("MultipartError", (e) =>
              Effect.fail(
                e.reason === "FileTooLarge" || e.reason === "BodyTooLarge"
                  ? new PhotoTooLarge({ maxBytes: MAX_CHECKOUT_PHOTO_BYTES })
                  : notMultipart()
              )
            ),
            // The parser throws on a body it cannot frame (no boundary): the client's mistake.
            Effect.catchAllDefect(() => Effect.fail(notMultipart())),
            orProblem
          )
          const uploaded = yield* orProblem(CheckoutPhoto.uploadCheckoutPhoto(session_id, bytes))
          yield* Effect.logInfo("checkout photo stored").pipe(
            Effect.annotateLogs({ sessionId: session_id, type: uploaded.photo.type, bytes: uploaded.photo.sizeBytes })
          )
          return { photo_url: uploaded.url }
        })
      )
      .handle("endSession", () =>
        Effect.gen(function* () {
          const { session_id } = yield* CurrentSession
          const ended = yield* orProblem(CustomerEnd.endAsCustomer(session_id))
          yield* Effect.logInfo("session ended").pipe(
            Effect.annotateLogs({
              sessionId: ended.id,
              outcome: ended.state._tag === "Ended" ? ended.state.outcome._tag : ended.state._tag
            })
          )
          return { status: "success" as const }
        })
      )
  })
)
