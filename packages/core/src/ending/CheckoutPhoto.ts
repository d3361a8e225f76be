/**
 * The checkout photo: before leaving, the customer photographs the pod. It is kept privately,
 * can be replaced while the session runs, and never once the session has ended. When the
 * policy requires it (`requireCheckoutPhoto`), the customer cannot end without one.
 */
import { Duration, Effect, Option, Schema } from "effect"
import { SessionAlreadyEnded } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { Policy } from "../Policy.js"
import { CheckoutPhotos, type PhotoType } from "../ports/CheckoutPhotos.js"
import type { Session } from "../session/Session.js"
import { loadSession } from "../session/SessionSteps.js"

/** The largest photo accepted (the contract's 10 MB). */
export const MAX_CHECKOUT_PHOTO_BYTES = 10 * 1024 * 1024

/** How long a photo's signed URL works. */
export const CHECKOUT_PHOTO_URL_TTL = Duration.minutes(15)

/** The customer must upload a checkout photo before ending the session. */
export class CheckoutPhotoRequired extends Schema.TaggedError<CheckoutPhotoRequired>()("CheckoutPhotoRequired", {
  sessionId: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId} needs a checkout photo before it can end`
  }
}

/** The upload is not a JPEG, PNG or WebP image (judged by its bytes). */
export class UnsupportedPhoto extends Schema.TaggedError<UnsupportedPhoto>()("UnsupportedPhoto", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export class PhotoTooLarge extends Schema.TaggedError<PhotoTooLarge>()("PhotoTooLarge", {
  maxBytes: Schema.Number
}) {
  override get message() {
    return `the photo is larger than ${Math.round(this.maxBytes / (1024 * 1024))} MB`
  }
}

const startsWith = (bytes: Uint8Array, prefix: ReadonlyArray<number>, offset = 0): boolean =>
  bytes.length >= offset + prefix.length && prefix.every((b, i) => bytes[offset + i] === b)

const ascii = (text: string): ReadonlyArray<number> => Array.from(text, (c) => c.charCodeAt(0))

/** The image type the bytes are, by their signature; `None` for anything else. */
export const detectPhotoType = (bytes: Uint8Array): Option.Option<PhotoType> => {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return Option.some("jpeg")
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return Option.some("png")
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WEBP"), 8)) return Option.some("webp")
  return Option.none()
}

/** The end (or failure) time of a session that no longer runs; `None` while it does. */
const finishedAt = (session: Session): Option.Option<Date> => {
  switch (session.state._tag) {
    case "Ending":
    case "Ended":
      return Option.some(session.state.endedAt)
    case "ProvisioningFailed":
      return Option.some(session.state.failedAt)
    default:
      return Option.none()
  }
}

/** Refuses with `SessionAlreadyEnded` when the session has ended (or never started). */
export const requireRunning = (session: Session): Effect.Effect<Session, SessionAlreadyEnded> =>
  Option.match(finishedAt(session), {
    onNone: () => Effect.succeed(session),
    onSome: (endedAt) => Effect.fail(new SessionAlreadyEnded({ sessionId: session.id, endedAt }))
  })

/**
 * Stores the session's checkout photo and returns a short-lived URL to it. The type is read
 * from the bytes; a photo of an ended session is never replaced.
 */
export const uploadCheckoutPhoto = Effect.fn("CheckoutPhoto.uploadCheckoutPhoto")(function* (
  sessionId: SessionId,
  bytes: Uint8Array
) {
  const photos = yield* CheckoutPhotos
  if (bytes.length > MAX_CHECKOUT_PHOTO_BYTES) return yield* new PhotoTooLarge({ maxBytes: MAX_CHECKOUT_PHOTO_BYTES })
  const type = detectPhotoType(bytes)
  if (Option.isNone(type)) {
    return yield* new UnsupportedPhoto({ reason: "the photo must be a JPEG, PNG or WebP image" })
  }
  yield* requireRunning(yield* loadSession(sessionId))
  const stored = yield* photos.save({ sessionId, type: type.value, bytes })
  const url = yield* photos.signedUrl(sessionId, CHECKOUT_PHOTO_URL_TTL)
  return { photo: stored, url: Option.getOrElse(url, () => "") }
})

/** Fails with `CheckoutPhotoRequired` when the policy requires a photo and the session has none. */
export const ensurePhotoIfRequired = Effect.fn("CheckoutPhoto.ensurePhotoIfRequired")(function* (sessionId: SessionId) {
  const policy = yield* Policy
  if (policy.requireCheckoutPhoto !== true) return
  const photos = yield* CheckoutPhotos
  const photo = yield* photos.find(sessionId)
  if (Option.isNone(photo)) return yield* new CheckoutPhotoRequired({ sessionId })
})
