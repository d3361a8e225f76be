/**
 * Where checkout photos are kept: privately, one per session, readable only through a
 * short-lived signed URL. Supabase Storage (private bucket `checkout-photos`, path
 * `<session id>/checkout.<ext>`) in production; a local directory when embedded.
 * Storage faults are defects: no caller can handle them.
 */
import { Context, type Duration, type Effect, type Option } from "effect"
import type { SessionId } from "../Ids.js"

/** The image kinds a checkout photo may be, as read from its bytes. */
export type PhotoType = "jpeg" | "png" | "webp"

export const photoMediaType: Record<PhotoType, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp"
}

export const photoExtension: Record<PhotoType, string> = { jpeg: "jpg", png: "png", webp: "webp" }

export interface StoredPhoto {
  readonly sessionId: SessionId
  readonly type: PhotoType
  readonly sizeBytes: number
}

export interface CheckoutPhotosShape {
  /** Stores the session's photo, replacing any earlier one of the same session. */
  readonly save: (photo: {
    readonly sessionId: SessionId
    readonly type: PhotoType
    readonly bytes: Uint8Array
  }) => Effect.Effect<StoredPhoto>
  readonly find: (sessionId: SessionId) => Effect.Effect<Option.Option<StoredPhoto>>
  /** A URL that reads the photo until `validFor` has passed; `None` when there is no photo. */
  readonly signedUrl: (sessionId: SessionId, validFor: Duration.Duration) => Effect.Effect<Option.Option<string>>
}

export class CheckoutPhotos extends Context.Tag("@qwip/core/CheckoutPhotos")<CheckoutPhotos, CheckoutPhotosShape>() {}
