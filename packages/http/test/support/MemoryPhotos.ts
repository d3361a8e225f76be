/**
 * `CheckoutPhotos` in memory, for use-case tests.
 */
import { CheckoutPhotos, type CheckoutPhotosShape, type SessionId, type StoredPhoto } from "@qwip/core"
import { Effect, Layer, Option } from "effect"

export const makeMemoryPhotos = () => {
  const photos = new Map<SessionId, StoredPhoto & { readonly bytes: Uint8Array }>()
  const service: CheckoutPhotosShape = {
    save: ({ sessionId, type, bytes }) =>
      Effect.sync(() => {
        const stored = { sessionId, type, sizeBytes: bytes.length, bytes }
        photos.set(sessionId, stored)
        return { sessionId, type, sizeBytes: bytes.length }
      }),
    find: (sessionId) => Effect.sync(() => Option.fromNullable(photos.get(sessionId))),
    signedUrl: (sessionId) =>
      Effect.sync(() => (photos.has(sessionId) ? Option.some(`memory://${sessionId}`) : Option.none()))
  }
  return { service, photos, layer: Layer.succeed(CheckoutPhotos, service) }
}
