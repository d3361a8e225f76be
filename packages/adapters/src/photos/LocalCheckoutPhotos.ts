/**
 * Checkout photos in a local directory (the embedded default, under `QWIP_DATA_DIR`), laid
 * out as the Supabase bucket is: `<dir>/<session id>/checkout.<ext>`. Nothing there is served
 * as a file: a photo is read only through `GET /checkout-photos/<session id>?expires=&signature=`,
 * an HMAC-signed link that stops working after its expiry. The signing key is generated once
 * and kept beside the photos (mode 0600), so links survive a restart.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import {
  CheckoutPhotos,
  type CheckoutPhotosShape,
  type PhotoType,
  photoExtension,
  type SessionId,
  type StoredPhoto
} from "@qwip/core"
import { Clock, Context, Duration, Effect, Layer, Option } from "effect"

export interface LocalPhotoFilesShape {
  /** The photo a signed link points to, if the link is genuine and current. */
  readonly read: (request: {
    readonly sessionId: SessionId
    readonly expires: number
    readonly signature: string
  }) => Effect.Effect<
    { readonly bytes: Uint8Array; readonly type: PhotoType },
    "invalid_link" | "expired_link" | "no_photo"
  >
}

/** Reading photos by signed link; `None` when photos are kept elsewhere (Supabase). */
export class LocalPhotoFiles extends Context.Tag("@qwip/adapters/LocalPhotoFiles")<
  LocalPhotoFiles,
  Option.Option<LocalPhotoFilesShape>
>() {}

export interface LocalCheckoutPhotosOptions {
  /** Where photos go, e.g. `<QWIP_DATA_DIR>/checkout-photos`. */
  readonly directory: string
  /** The service's public base URL; signed links start with it. */
  readonly publicUrl: string
}

const TYPES: ReadonlyArray<PhotoType> = ["jpeg", "png", "webp"]

const io = <A>(what: string, run: () => Promise<A>) =>
  Effect.tryPromise({
    try: run,
    catch: (e) => new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`)
  }).pipe(Effect.orDie)

const exists = (file: string) =>
  Effect.promise(() =>
    fs.stat(file).then(
      (s) => Option.some(s.size),
      () => Option.none<number>()
    )
  )

const loadOrCreateKey = (directory: string) =>
  io("checkout photo signing key", async () => {
    await fs.mkdir(directory, { recursive: true, mode: 0o700 })
    const file = path.join(directory, ".url-signing-key")
    try {
      const existing = await fs.readFile(file)
      if (existing.length >= 32) return new Uint8Array(existing)
    } catch {
      // first run: create it below
    }
    const key = randomBytes(32)
    await fs.writeFile(file, key, { mode: 0o600 })
    return new Uint8Array(key)
  })

export const makeLocalCheckoutPhotos = (options: LocalCheckoutPhotosOptions) =>
  Effect.gen(function* () {
    const key = yield* loadOrCreateKey(options.directory)
    const folderOf = (sessionId: SessionId) => path.join(options.directory, sessionId)
    const fileOf = (sessionId: SessionId, type: PhotoType) =>
      path.join(folderOf(sessionId), `checkout.${photoExtension[type]}`)
    const sign = (sessionId: SessionId, expires: number) =>
      createHmac("sha256", key).update(`${sessionId}.${expires}`).digest("base64url")

    const find = (sessionId: SessionId) =>
      Effect.gen(function* () {
        for (const type of TYPES) {
          const size = yield* exists(fileOf(sessionId, type))
          if (Option.isSome(size)) {
            return Option.some<StoredPhoto>({ sessionId, type, sizeBytes: size.value })
          }
        }
        return Option.none<StoredPhoto>()
      })

    const photos: CheckoutPhotosShape = {
      save: ({ sessionId, type, bytes }) =>
        io("saving checkout photo", async () => {
          const folder = folderOf(sessionId)
          await fs.mkdir(folder, { recursive: true })
          const target = fileOf(sessionId, type)
          const temp = `${target}.${randomBytes(6).toString("hex")}.tmp`
          await fs.writeFile(temp, bytes, { mode: 0o600 })
          await fs.rename(temp, target)
          for (const other of TYPES) {
            if (other !== type) await fs.rm(fileOf(sessionId, other), { force: true })
          }
          return { sessionId, type, sizeBytes: bytes.length } satisfies StoredPhoto
        }).pipe(Effect.withSpan("CheckoutPhotos.save")),
      find: (sessionId) => find(sessionId).pipe(Effect.withSpan("CheckoutPhotos.find")),
      signedUrl: (sessionId, validFor) =>
        Effect.gen(function* () {
          const found = yield* find(sessionId)
          if (Option.isNone(found)) return Option.none()
          const nowMs = yield* Clock.currentTimeMillis
          const expires = Math.floor((nowMs + Duration.toMillis(validFor)) / 1000)
          const query = new URLSearchParams({ expires: String(expires), signature: sign(sessionId, expires) })
          return Option.some(`${options.publicUrl}/checkout-photos/${sessionId}?${query.toString()}`)
        }).pipe(Effect.withSpan("CheckoutPhotos.signedUrl"))
    }

    const files: LocalPhotoFilesShape = {
      read: ({ sessionId, expires, signature }) =>
        Effect.gen(function* () {
          const expected = Buffer.from(sign(sessionId, expires))
          const given = Buffer.from(signature)
          if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
            return yield* Effect.fail("invalid_link" as const)
          }
          const nowSeconds = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          if (expires < nowSeconds) return yield* Effect.fail("expired_link" as const)
          const found = yield* find(sessionId)
          if (Option.isNone(found)) return yield* Effect.fail("no_photo" as const)
          const type = found.value.type
          const bytes = yield* io("reading checkout photo", () => fs.readFile(fileOf(sessionId, type)))
          return { bytes: new Uint8Array(bytes), type }
        })
    }
    return { photos, files }
  })

/** `CheckoutPhotos` in a local directory, and the reader its signed links need. */
export const layerLocalCheckoutPhotos = (options: LocalCheckoutPhotosOptions) =>
  Layer.effectContext(
    Effect.map(makeLocalCheckoutPhotos(options), ({ photos, files }) =>
      Context.make(CheckoutPhotos, photos).pipe(Context.add(LocalPhotoFiles, Option.some(files)))
    )
  )
