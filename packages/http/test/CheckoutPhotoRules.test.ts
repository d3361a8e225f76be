/**
 * The core rules the HTTP layer relies on (core's `CheckoutPhoto` and `CustomerEnd`), under the
 * test kit: the type comes from the bytes, a photo is never replaced once the session ended,
 * and a customer end refuses a finished session or, when required, one without a photo.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Checkout,
  CheckoutPhoto,
  CustomerEnd,
  detectPhotoType,
  MAX_CHECKOUT_PHOTO_BYTES,
  type PodId,
  type PolicyShape,
  SessionEnd
} from "@qwip/core"
import * as TestKit from "@qwip/core/testing"
import { Effect, Either, Layer, Option } from "effect"
import { makeMemoryPhotos } from "./support/MemoryPhotos.js"

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xdb, 1, 2])

const setup = (policy: Partial<PolicyShape> = {}) => {
  const photos = makeMemoryPhotos()
  return { photos, layer: Layer.merge(TestKit.layer({ policy }), photos.layer) }
}

const bookOne = Effect.gen(function* () {
  const payments = yield* TestKit.FakePayments
  const started = yield* Checkout.startCheckout("pod-1" as PodId)
  payments.confirmCard(started.setupIntentId, { behaviour: "succeeds", email: "ada@example.com" })
  return yield* Checkout.finalizeBooking(started)
})

const tagOf = <A, E extends { readonly _tag: string }>(e: Either.Either<A, E>) =>
  Either.isLeft(e) ? e.left._tag : "ok"

describe("checkout photo rules", () => {
  it("reads the type from the bytes", () => {
    expect(detectPhotoType(JPEG)).toEqual(Option.some("jpeg"))
    expect(detectPhotoType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toEqual(
      Option.some("png")
    )
    expect(detectPhotoType(new TextEncoder().encode("RIFF\u0000\u0000\u0000\u0000WEBPVP8 "))).toEqual(
      Option.some("webp")
    )
    expect(detectPhotoType(new TextEncoder().encode("GIF89a"))).toEqual(Option.none())
    expect(detectPhotoType(new Uint8Array())).toEqual(Option.none())
  })

  it.effect("stores a photo while the session runs and refuses one after it ended", () => {
    const { photos, layer } = setup()
    return Effect.gen(function* () {
      const session = yield* bookOne
      const first = yield* CheckoutPhoto.uploadCheckoutPhoto(session.id, JPEG)
      expect(first.photo.type).toBe("jpeg")
      expect(first.url).toBe(`memory://${session.id}`)
      expect(tagOf(yield* Effect.either(CheckoutPhoto.uploadCheckoutPhoto(session.id, new Uint8Array([1, 2]))))).toBe(
        "UnsupportedPhoto"
      )
      const big = new Uint8Array(MAX_CHECKOUT_PHOTO_BYTES + 1)
      big.set(JPEG)
      expect(tagOf(yield* Effect.either(CheckoutPhoto.uploadCheckoutPhoto(session.id, big)))).toBe("PhotoTooLarge")
      yield* SessionEnd.endSession(session.id)
      const late = yield* Effect.either(CheckoutPhoto.uploadCheckoutPhoto(session.id, JPEG))
      expect(tagOf(late)).toBe("SessionAlreadyEnded")
      expect(photos.photos.get(session.id)?.bytes).toEqual(JPEG)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a customer end needs a photo only when the policy says so, and never ends twice", () =>
    Effect.gen(function* () {
      const required = setup({ requireCheckoutPhoto: true })
      yield* Effect.gen(function* () {
        const session = yield* bookOne
        expect(tagOf(yield* Effect.either(CustomerEnd.endAsCustomer(session.id)))).toBe("CheckoutPhotoRequired")
        yield* CheckoutPhoto.uploadCheckoutPhoto(session.id, JPEG)
        const ended = yield* CustomerEnd.endAsCustomer(session.id)
        expect(ended.state._tag).toBe("Ended")
        expect(tagOf(yield* Effect.either(CustomerEnd.endAsCustomer(session.id)))).toBe("SessionAlreadyEnded")
      }).pipe(Effect.provide(required.layer))

      const optional = setup()
      yield* Effect.gen(function* () {
        const session = yield* bookOne
        expect((yield* CustomerEnd.endAsCustomer(session.id)).state._tag).toBe("Ended")
      }).pipe(Effect.provide(optional.layer))
    })
  )
})
