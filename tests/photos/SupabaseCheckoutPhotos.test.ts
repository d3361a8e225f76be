/**
 * Checkout photos in Supabase Storage, through the real `@supabase/supabase-js` client against
 * the Storage stand-in (tests/support/StorageServer.ts): the bucket is private (created so when
 * missing, a public one stops the start), a session keeps exactly one photo, and photos are read
 * only through signed URLs that stop working when they expire.
 */
import { describe, expect, it } from "@effect/vitest"
import { LocalPhotoFiles, layerCheckoutPhotos, Photos } from "@qwip/adapters"
import {
  Checkout,
  CheckoutPhoto,
  CheckoutPhotos,
  MAX_CHECKOUT_PHOTO_BYTES,
  type PodId,
  SessionEnd,
  type SessionId
} from "@qwip/core"
import * as TestKit from "@qwip/core/testing"
import { type StorageServer, startStorageServer } from "@qwip/test-support/StorageServer"
import { ConfigProvider, Duration, Effect, Either, Layer, Option, Redacted } from "effect"

const KEY = "service-role-key-for-tests"
const BUCKET = "checkout-photos"

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1])
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d])
const WEBP = new Uint8Array([...new TextEncoder().encode("RIFF"), 4, 0, 0, 0, ...new TextEncoder().encode("WEBPVP8 ")])

const SESSION = "7c9e6679-7425-40de-944b-e07fc1f90ae7" as SessionId
const OTHER = "0f8fad5b-d9cb-469f-a165-70867728950e" as SessionId

const storageServer = (buckets?: ReadonlyArray<{ readonly id: string; readonly public: boolean }>) =>
  Effect.acquireRelease(
    Effect.promise(() => startStorageServer({ serviceKey: KEY, ...(buckets ? { buckets } : {}) })),
    (server) => Effect.promise(() => server.close())
  )

const start = (server: StorageServer, key = KEY) =>
  Photos.makeSupabaseCheckoutPhotos({ url: server.url, key: Redacted.make(key) })

const names = (server: StorageServer) => server.objects(BUCKET).map((o) => o.name)

const read = (url: string) =>
  Effect.promise(async () => {
    const res = await fetch(url)
    const bytes = new Uint8Array(await res.arrayBuffer())
    const type = res.headers.get("content-type") ?? ""
    return {
      status: res.status,
      type,
      bytes,
      body: type.startsWith("application/json") ? JSON.parse(new TextDecoder().decode(bytes)) : undefined
    }
  })

const startupFailure = (effect: Effect.Effect<unknown, Photos.PhotoStorageStartupError>) =>
  Effect.map(Effect.flip(effect), (e) => e.message)

describe("the bucket", () => {
  it.scopedLive("a missing bucket is created private, with the photo limits", () =>
    Effect.gen(function* () {
      const server = yield* storageServer()
      yield* start(server)
      expect(server.bucket(BUCKET)).toMatchObject({
        public: false,
        file_size_limit: MAX_CHECKOUT_PHOTO_BYTES,
        allowed_mime_types: ["image/jpeg", "image/png", "image/webp"]
      })
    })
  )

  it.scopedLive("an existing private bucket is used as it is", () =>
    Effect.gen(function* () {
      const server = yield* storageServer([{ id: BUCKET, public: false }])
      const photos = yield* start(server)
      yield* photos.save({ sessionId: SESSION, type: "jpeg", bytes: JPEG })
      expect(server.bucket(BUCKET)).toMatchObject({ public: false, file_size_limit: null })
    })
  )

  it.scopedLive("a public bucket stops the start with one line telling staff to make it private", () =>
    Effect.gen(function* () {
      const server = yield* storageServer([{ id: BUCKET, public: true }])
      const message = yield* startupFailure(start(server))
      expect(message).toContain(`the Supabase Storage bucket "${BUCKET}" at ${server.url} is public`)
      expect(message).toContain("make it private")
      expect(message).not.toContain("\n")
      expect(server.bucket(BUCKET)?.public).toBe(true)
    })
  )

  it.scopedLive(
    "a key that is not the service role key, or no Storage at all, stops the start naming the setting",
    () =>
      Effect.gen(function* () {
        const server = yield* storageServer()
        expect(yield* startupFailure(start(server, "anon-key"))).toMatch(
          /^SUPABASE_KEY: rejected by Supabase Storage at .*; use the project's service role key$/
        )
        expect(server.bucket(BUCKET)).toBeUndefined()
        const closed = yield* storageServer()
        yield* Effect.promise(() => closed.close())
        expect(yield* startupFailure(start(closed))).toMatch(/^SUPABASE_URL: cannot reach Supabase Storage at /)
        expect(
          yield* startupFailure(Photos.makeSupabaseCheckoutPhotos({ url: "ftp://x", key: Redacted.make(KEY) }))
        ).toBe("SUPABASE_URL: not an http(s) URL: ftp://x")
      })
  )
})

describe("photos", () => {
  it.scopedLive("save, find and a signed URL that serves the bytes", () =>
    Effect.gen(function* () {
      const server = yield* storageServer()
      const photos = yield* start(server)
      expect(yield* photos.save({ sessionId: SESSION, type: "png", bytes: PNG })).toEqual({
        sessionId: SESSION,
        type: "png",
        sizeBytes: PNG.length
      })
      expect(server.objects(BUCKET)).toEqual([
        { bucket: BUCKET, name: `${SESSION}/checkout.png`, bytes: PNG, contentType: "image/png" }
      ])
      expect(yield* photos.find(SESSION)).toEqual(
        Option.some({ sessionId: SESSION, type: "png", sizeBytes: PNG.length })
      )

      const url = yield* photos.signedUrl(SESSION, Duration.minutes(15))
      expect(Option.getOrThrow(url)).toMatch(
        new RegExp(`^${server.url}/storage/v1/object/sign/${BUCKET}/${SESSION}/checkout\\.png\\?token=`)
      )
      const photo = yield* read(Option.getOrThrow(url))
      expect({ status: photo.status, type: photo.type, bytes: photo.bytes }).toEqual({
        status: 200,
        type: "image/png",
        bytes: PNG
      })

      expect(yield* photos.find(OTHER)).toEqual(Option.none())
      expect(yield* photos.signedUrl(OTHER, Duration.minutes(15))).toEqual(Option.none())
    })
  )

  it.scopedLive("a signed URL stops working when its validity has passed", () =>
    Effect.gen(function* () {
      const server = yield* storageServer()
      const photos = yield* start(server)
      yield* photos.save({ sessionId: SESSION, type: "jpeg", bytes: JPEG })

      const short = Option.getOrThrow(yield* photos.signedUrl(SESSION, Duration.seconds(1)))
      expect((yield* read(short)).status).toBe(200)
      server.advance(1_000)
      expect(yield* read(short)).toMatchObject({
        status: 400,
        body: { statusCode: "400", error: "InvalidJWT", message: '"exp" claim timestamp check failed' }
      })

      // the contract's 15 minutes, to the second
      const usual = Option.getOrThrow(yield* photos.signedUrl(SESSION, Duration.minutes(15)))
      server.advance(Duration.toMillis(Duration.minutes(15)) - 1_000)
      expect((yield* read(usual)).bytes).toEqual(JPEG)
      server.advance(1_000)
      expect((yield* read(usual)).status).toBe(400)
    })
  )

  it.scopedLive("photos cannot be read without a signature, and a signature reads only its own photo", () =>
    Effect.gen(function* () {
      const server = yield* storageServer()
      const photos = yield* start(server)
      yield* photos.save({ sessionId: SESSION, type: "jpeg", bytes: JPEG })
      yield* photos.save({ sessionId: OTHER, type: "png", bytes: PNG })
      const path = `${BUCKET}/${SESSION}/checkout.jpg`

      // the old service's public link: the bucket is private
      expect(yield* read(`${server.url}/storage/v1/object/public/${path}`)).toMatchObject({
        status: 400,
        body: { statusCode: "404", error: "Bucket not found" }
      })
      expect((yield* read(`${server.url}/storage/v1/object/sign/${path}`)).status).toBe(400)
      const token = new URL(Option.getOrThrow(yield* photos.signedUrl(OTHER, Duration.minutes(1)))).searchParams.get(
        "token"
      )
      expect(yield* read(`${server.url}/storage/v1/object/sign/${path}?token=${token}`)).toMatchObject({
        status: 400,
        body: { statusCode: "400", error: "InvalidSignature" }
      })
      expect(yield* read(`${server.url}/storage/v1/object/sign/${path}?token=${token}x`)).toMatchObject({
        status: 400,
        body: { error: "InvalidJWT" }
      })
      // and Storage's API itself wants the service role key
      expect(yield* read(`${server.url}/storage/v1/bucket/${BUCKET}`)).toMatchObject({
        status: 400,
        body: { statusCode: "403", error: "Unauthorized" }
      })
    })
  )

  it.scopedLive("replacing a running session's photo with another type leaves exactly one photo", () =>
    Effect.gen(function* () {
      const server = yield* storageServer()
      const photos = yield* start(server)
      yield* photos.save({ sessionId: SESSION, type: "jpeg", bytes: JPEG })
      yield* photos.save({ sessionId: OTHER, type: "jpeg", bytes: JPEG })
      yield* photos.save({ sessionId: SESSION, type: "png", bytes: PNG })
      expect(names(server)).toEqual([`${OTHER}/checkout.jpg`, `${SESSION}/checkout.png`])
      expect(yield* photos.find(SESSION)).toEqual(
        Option.some({ sessionId: SESSION, type: "png", sizeBytes: PNG.length })
      )
      const photo = yield* read(Option.getOrThrow(yield* photos.signedUrl(SESSION, Duration.minutes(1))))
      expect({ type: photo.type, bytes: photo.bytes }).toEqual({ type: "image/png", bytes: PNG })

      yield* photos.save({ sessionId: SESSION, type: "webp", bytes: WEBP })
      expect(names(server)).toEqual([`${OTHER}/checkout.jpg`, `${SESSION}/checkout.webp`])
    })
  )

  it.scopedLive("racing saves of different types agree on one survivor", () =>
    Effect.gen(function* () {
      const server = yield* storageServer()
      const photos = yield* start(server)
      for (let round = 0; round < 20; round++) {
        yield* Effect.all(
          [
            photos.save({ sessionId: SESSION, type: "jpeg", bytes: JPEG }),
            photos.save({ sessionId: SESSION, type: "png", bytes: PNG }),
            photos.save({ sessionId: SESSION, type: "webp", bytes: WEBP })
          ],
          { concurrency: "unbounded" }
        )
        const left = names(server)
        expect(left).toHaveLength(1)
        const found = Option.getOrThrow(yield* photos.find(SESSION))
        expect(left[0]).toBe(`${SESSION}/checkout.${found.type === "jpeg" ? "jpg" : found.type}`)
      }
    })
  )

  it.scopedLive(
    "a leftover photo (the old service's checkout.jpeg, an interrupted save) is found, and cleared by the next save",
    () =>
      Effect.gen(function* () {
        const server = yield* storageServer([{ id: BUCKET, public: false }])
        server.putObject({ bucket: BUCKET, name: `${SESSION}/checkout.jpeg`, bytes: JPEG, contentType: "image/jpeg" })
        const photos = yield* start(server)
        expect(yield* photos.find(SESSION)).toEqual(
          Option.some({ sessionId: SESSION, type: "jpeg", sizeBytes: JPEG.length })
        )
        yield* photos.save({ sessionId: SESSION, type: "png", bytes: PNG })
        expect(names(server)).toEqual([`${SESSION}/checkout.png`])
      })
  )
})

describe("with the core and the HTTP service", () => {
  const bookOne = Effect.gen(function* () {
    const payments = yield* TestKit.FakePayments
    const started = yield* Checkout.startCheckout("pod-1" as PodId)
    payments.confirmCard(started.setupIntentId, { behaviour: "succeeds", email: "ada@example.com" })
    return yield* Checkout.finalizeBooking(started)
  })

  it.scopedLive("a photo is replaced while the session runs and never once it has ended", () =>
    Effect.gen(function* () {
      const server = yield* storageServer()
      const photos = Photos.layerSupabaseCheckoutPhotos({ url: server.url, key: Redacted.make(KEY) })
      yield* Effect.gen(function* () {
        const session = yield* bookOne
        yield* CheckoutPhoto.uploadCheckoutPhoto(session.id, JPEG)
        const replaced = yield* CheckoutPhoto.uploadCheckoutPhoto(session.id, PNG)
        expect((yield* read(replaced.url)).bytes).toEqual(PNG)
        yield* SessionEnd.endSession(session.id)
        const late = yield* Effect.either(CheckoutPhoto.uploadCheckoutPhoto(session.id, JPEG))
        expect(Either.isLeft(late) && late.left._tag).toBe("SessionAlreadyEnded")
        expect(server.objects(BUCKET).map((o) => [o.name, o.bytes])).toEqual([[`${session.id}/checkout.png`, PNG]])
      }).pipe(Effect.provide(Layer.merge(TestKit.layer(), photos)))
    })
  )

  const supabasePlatform = (settings: ReadonlyArray<readonly [string, string]>) =>
    layerCheckoutPhotos("supabase-storage", { dataDir: ".", publicUrl: "http://localhost:8000" }).pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(settings))))
    )

  it.scopedLive("with the Supabase store, the service keeps photos in Storage and serves no local links", () =>
    Effect.gen(function* () {
      const server = yield* storageServer()
      const context = yield* Layer.build(
        supabasePlatform([
          ["SUPABASE_URL", ` ${server.url} `],
          ["SUPABASE_KEY", KEY]
        ])
      )
      const photos = yield* Effect.provide(CheckoutPhotos, context)
      yield* photos.save({ sessionId: SESSION, type: "webp", bytes: WEBP })
      expect(names(server)).toEqual([`${SESSION}/checkout.webp`])
      expect(yield* Effect.provide(LocalPhotoFiles, context)).toEqual(Option.none())

      const missing = yield* Effect.flip(Layer.build(supabasePlatform([["SUPABASE_URL", server.url]])))
      expect(missing.message).toBe("SUPABASE_KEY: required for checkout photos in Supabase Storage")
    })
  )
})
