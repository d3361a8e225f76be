/**
 * `CheckoutPhotos` in Supabase Storage: the private bucket `checkout-photos`, one object per
 * session at `<session id>/checkout.<ext>`, readable only through short-lived signed URLs.
 *
 * At start the bucket is checked once: missing, it is created private (10 MB, JPEG/PNG/WebP
 * only); public, the start stops with one line telling staff to make it private. (The old
 * service made it public, so anyone with a photo's path could read it.)
 *
 * Uploads upsert: the core refuses to replace the photo of a session that has ended, so an
 * upsert only ever replaces a running session's photo. A session keeps one photo whatever its
 * type: `save` uploads, then lists the session's folder and removes every photo there but the
 * newest (by Storage's `updated_at`, then name) until exactly one is left (putting its own back
 * if racing saves removed everything); `find` and `signedUrl` list the folder and pick that same
 * newest photo. So racing saves of different types agree on the survivor, and a save cut off
 * between its upload and its cleanup is cleaned up by the next one. `checkout.jpeg` (the old
 * service's spelling) counts as a photo too.
 *
 * Each SDK call is wrapped once (`SupabaseStorage.<op>` span, a timeout, `PhotoStorageFault`
 * for its failure); the port's methods turn faults into defects, as the port says.
 */
import {
  CheckoutPhotos,
  type CheckoutPhotosShape,
  MAX_CHECKOUT_PHOTO_BYTES,
  type PhotoType,
  photoExtension,
  photoMediaType,
  type SessionId,
  type StoredPhoto
} from "@qwip/core"
import type { SupabaseClient } from "@supabase/supabase-js"
import { Config, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"

/** The contract's bucket. */
export const CHECKOUT_PHOTOS_BUCKET = "checkout-photos"

export interface SupabaseCheckoutPhotosOptions {
  /** The project's URL (`SUPABASE_URL`); Storage is under `/storage/v1`. */
  readonly url: string
  /** The service role key (`SUPABASE_KEY`): it can create the bucket and sign URLs. */
  readonly key: Redacted.Redacted<string>
  readonly bucket?: typeof CHECKOUT_PHOTOS_BUCKET | undefined
  /** Per-request timeout; a request past it is a fault. Default 30 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** Checkout photos cannot be kept in Supabase Storage as configured; the message is one line for staff. */
export class PhotoStorageStartupError extends Schema.TaggedError<PhotoStorageStartupError>()(
  "PhotoStorageStartupError",
  { reason: Schema.String }
) {
  override get message() {
    return this.reason
  }
}

/** A Storage request that failed or got no answer. */
export class PhotoStorageFault extends Schema.TaggedError<PhotoStorageFault>()("PhotoStorageFault", {
  operation: Schema.String,
  /** The HTTP status; `null` when Storage did not answer. */
  status: Schema.NullOr(Schema.Number),
  /** Storage's own status from the error body (`"404"` for a missing bucket or object). */
  statusCode: Schema.NullOr(Schema.String),
  reason: Schema.String
}) {
  override get message() {
    return `Supabase Storage ${this.operation}: ${this.reason}`
  }
}

// --- The SDK, wrapped once ---------------------------------------------------------------------

type StorageApi = SupabaseClient["storage"]

interface StorageErrorLike {
  readonly message: string
  readonly status?: number | undefined
  readonly statusCode?: string | undefined
}

type StorageResult = { readonly data: unknown; readonly error: null } | { readonly data: null; readonly error: unknown }
type DataOf<R> = R extends { readonly data: infer A; readonly error: null } ? A : never

const describeError = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  // supabase-js keeps a network failure ("fetch failed") with its cause in `originalError`
  const original = (error as { readonly originalError?: unknown }).originalError
  const cause = (original instanceof Error ? original.cause : undefined) ?? error.cause
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message
}

const faultOf = (operation: string, error: unknown): PhotoStorageFault => {
  const e = (typeof error === "object" && error !== null ? error : {}) as Partial<StorageErrorLike>
  const answered = error instanceof Error && error.name === "StorageApiError"
  return new PhotoStorageFault({
    operation,
    status: answered && typeof e.status === "number" ? e.status : null,
    statusCode: answered && typeof e.statusCode === "string" ? e.statusCode : null,
    reason: describeError(error)
  })
}

const hasStatus = (fault: PhotoStorageFault, ...codes: ReadonlyArray<number>) =>
  codes.some((code) => fault.status === code || fault.statusCode === String(code))

/** One Storage file in a listing (`FileObject`); folders have no `id`. */
const ListedFile = Schema.Struct({
  name: Schema.String,
  id: Schema.NullOr(Schema.String),
  updated_at: Schema.NullOr(Schema.String),
  created_at: Schema.NullOr(Schema.String),
  metadata: Schema.NullOr(
    Schema.Struct({ size: Schema.optional(Schema.Number), contentLength: Schema.optional(Schema.Number) })
  )
})
const decodeListing = Schema.decodeUnknown(Schema.Array(ListedFile))

const makeStorage = (api: StorageApi, bucket: string, timeout: Duration.Duration) => {
  const files = api.from(bucket)
  const request = <R extends StorageResult>(
    operation: string,
    attributes: Record<string, string>,
    run: () => PromiseLike<R>
  ): Effect.Effect<DataOf<R>, PhotoStorageFault> =>
    Effect.tryPromise({ try: async () => await run(), catch: (cause) => faultOf(operation, cause) }).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new PhotoStorageFault({
            operation,
            status: null,
            statusCode: null,
            reason: `no answer within ${Duration.format(timeout)}`
          })
      }),
      Effect.flatMap((result) =>
        result.error === null ? Effect.succeed(result.data as DataOf<R>) : Effect.fail(faultOf(operation, result.error))
      ),
      Effect.withSpan(`SupabaseStorage.${operation}`, { attributes: { bucket, ...attributes } })
    )

  return {
    getBucket: request("getBucket", {}, () => api.getBucket(bucket)),
    createPrivateBucket: request("createBucket", {}, () =>
      api.createBucket(bucket, {
        public: false,
        fileSizeLimit: MAX_CHECKOUT_PHOTO_BYTES,
        allowedMimeTypes: Object.values(photoMediaType)
      })
    ),
    upload: (path: string, bytes: Uint8Array, contentType: string) =>
      request("upload", { path }, () => files.upload(path, bytes, { contentType, upsert: true })),
    list: (folder: string) =>
      request("list", { folder }, () =>
        files.list(folder, { limit: 100, search: "checkout.", sortBy: { column: "name", order: "asc" } })
      ).pipe(
        Effect.flatMap(decodeListing),
        Effect.mapError((e) =>
          e._tag === "PhotoStorageFault"
            ? e
            : new PhotoStorageFault({ operation: "list", status: null, statusCode: null, reason: e.message })
        )
      ),
    remove: (paths: ReadonlyArray<string>) =>
      request("remove", { paths: paths.join(",") }, () => files.remove([...paths])),
    sign: (path: string, seconds: number) =>
      request("createSignedUrl", { path }, () => files.createSignedUrl(path, seconds))
  }
}

type Storage = ReturnType<typeof makeStorage>

// --- Start-up ----------------------------------------------------------------------------------

/** Realtime is never used; Node 20 has no WebSocket, so the client gets a transport that refuses. */
class NoRealtime {
  constructor() {
    throw new Error("Qwip's checkout photos do not use Realtime")
  }
}

const checkUrl = (url: string): Effect.Effect<string, PhotoStorageStartupError> =>
  Effect.try({
    try: () => {
      const parsed = new URL(url)
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new Error("scheme")
      return parsed.toString().replace(/\/$/, "")
    },
    catch: () => new PhotoStorageStartupError({ reason: `SUPABASE_URL: not an http(s) URL: ${url}` })
  })

const startupError = (url: string) => (fault: PhotoStorageFault) =>
  new PhotoStorageStartupError({
    reason:
      fault.status === null
        ? `SUPABASE_URL: cannot reach Supabase Storage at ${url}: ${fault.reason}`
        : hasStatus(fault, 401, 403)
          ? `SUPABASE_KEY: rejected by Supabase Storage at ${url} (${fault.reason}); use the project's service role key`
          : `SUPABASE_URL: Supabase Storage at ${url} refused ${fault.operation}: ${fault.reason}`
  })

/** Creates the bucket private when it is missing; refuses a public one. */
const ensurePrivateBucket = (storage: Storage, bucket: string, url: string) =>
  Effect.gen(function* () {
    const missing = (fault: PhotoStorageFault) => hasStatus(fault, 404)
    const existing = yield* storage.getBucket.pipe(
      Effect.map(Option.some),
      Effect.catchIf(missing, () => Effect.succeedNone)
    )
    if (Option.isNone(existing)) {
      const created = yield* storage.createPrivateBucket.pipe(
        Effect.as(true),
        // another instance created it meanwhile: read it back below
        Effect.catchIf(
          (fault) => hasStatus(fault, 409),
          () => Effect.succeed(false)
        )
      )
      if (created) {
        yield* Effect.logInfo(`checkout photos: created the private Supabase Storage bucket "${bucket}"`)
        return
      }
    }
    const found = Option.isSome(existing) ? existing.value : yield* storage.getBucket
    if (found.public) {
      return yield* new PhotoStorageStartupError({
        reason:
          `checkout photos: the Supabase Storage bucket "${bucket}" at ${url} is public, so anyone with a photo's path can read it; ` +
          `make it private (Supabase dashboard > Storage > ${bucket} > Edit bucket > turn off "Public bucket") and start again`
      })
    }
  }).pipe(Effect.mapError((e) => (e._tag === "PhotoStorageFault" ? startupError(url)(e) : e)))

// --- The port ----------------------------------------------------------------------------------

const PHOTO_NAME = /^checkout\.(jpg|jpeg|png|webp)$/

const TYPE_OF_EXTENSION: Record<string, PhotoType> = { jpg: "jpeg", jpeg: "jpeg", png: "png", webp: "webp" }

interface FoundPhoto {
  readonly name: string
  readonly type: PhotoType
  readonly sizeBytes: number
  readonly updatedAt: number
}

const photosIn = (listing: ReadonlyArray<typeof ListedFile.Type>): ReadonlyArray<FoundPhoto> =>
  listing.flatMap((file) => {
    const ext = PHOTO_NAME.exec(file.name)?.[1]
    const type = ext === undefined ? undefined : TYPE_OF_EXTENSION[ext]
    if (file.id === null || type === undefined) return []
    const stamp = Date.parse(file.updated_at ?? file.created_at ?? "")
    return [
      {
        name: file.name,
        type,
        sizeBytes: file.metadata?.size ?? file.metadata?.contentLength ?? 0,
        updatedAt: Number.isNaN(stamp) ? 0 : stamp
      }
    ]
  })

/** The photo that counts when a folder holds more than one: the newest, then the greatest name. */
const newest = (photos: ReadonlyArray<FoundPhoto>): Option.Option<FoundPhoto> =>
  photos.reduce<Option.Option<FoundPhoto>>(
    (best, p) =>
      Option.isSome(best) &&
      (best.value.updatedAt > p.updatedAt || (best.value.updatedAt === p.updatedAt && best.value.name > p.name))
        ? best
        : Option.some(p),
    Option.none()
  )

/** How many times a save lists and cleans up before giving up (only racing saves need more than one). */
const MAX_CLEANUP_ROUNDS = 5

/** Signed URLs count whole seconds: never longer than asked, at least one second. */
const signedSeconds = (validFor: Duration.Duration) => Math.max(1, Math.floor(Duration.toSeconds(validFor)))

/** Connects, checks the bucket (creating it private when missing) and returns the port. */
export const makeSupabaseCheckoutPhotos = (
  options: SupabaseCheckoutPhotosOptions
): Effect.Effect<CheckoutPhotosShape, PhotoStorageStartupError> =>
  Effect.gen(function* () {
    const bucket = options.bucket ?? CHECKOUT_PHOTOS_BUCKET
    const url = yield* checkUrl(options.url)
    const key = Redacted.value(options.key).trim()
    if (key === "") return yield* new PhotoStorageStartupError({ reason: "SUPABASE_KEY: is empty" })
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(30))
    // Loaded only when photos go to Supabase (the module warns about Node 20 on import).
    const { createClient } = yield* Effect.tryPromise({
      try: () => import("@supabase/supabase-js"),
      catch: (cause) =>
        new PhotoStorageStartupError({
          reason: `checkout photos: cannot load @supabase/supabase-js: ${describeError(cause)}`
        })
    })
    const client = createClient(url, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      realtime: { transport: NoRealtime as never }
    })
    const storage = makeStorage(client.storage, bucket, timeout)
    yield* ensurePrivateBucket(storage, bucket, url)

    const pathOf = (sessionId: SessionId, name: string) => `${sessionId}/${name}`
    const listPhotos = (sessionId: SessionId) => Effect.map(storage.list(sessionId), photosIn)

    const save = Effect.fn("CheckoutPhotos.save")(function* (photo: {
      readonly sessionId: SessionId
      readonly type: PhotoType
      readonly bytes: Uint8Array
    }) {
      const { sessionId, type, bytes } = photo
      const name = `checkout.${photoExtension[type]}`
      const upload = storage.upload(pathOf(sessionId, name), bytes, photoMediaType[type])
      yield* upload
      // Settle on one photo: keep the newest, remove the rest, and look again. A racing save
      // may have removed this one for a newer photo that another racer's cleanup (listed before
      // it arrived) then removed: finding the folder empty, put this one back.
      for (let round = 0; round < MAX_CLEANUP_ROUNDS; round++) {
        const photos = yield* listPhotos(sessionId)
        const keep = newest(photos)
        if (Option.isNone(keep)) {
          yield* upload
          continue
        }
        if (photos.length === 1) return { sessionId, type, sizeBytes: bytes.length } satisfies StoredPhoto
        yield* storage.remove(photos.filter((p) => p !== keep.value).map((p) => pathOf(sessionId, p.name)))
      }
      return yield* Effect.dieMessage(
        `checkout photos: session ${sessionId} does not settle on one photo after ${MAX_CLEANUP_ROUNDS} rounds`
      )
    }, Effect.orDie)

    const find = Effect.fn("CheckoutPhotos.find")(function* (sessionId: SessionId) {
      const photo = newest(yield* listPhotos(sessionId))
      return Option.map(photo, (p): StoredPhoto => ({ sessionId, type: p.type, sizeBytes: p.sizeBytes }))
    }, Effect.orDie)

    const signedUrl = Effect.fn("CheckoutPhotos.signedUrl")(function* (
      sessionId: SessionId,
      validFor: Duration.Duration
    ) {
      const photo = newest(yield* listPhotos(sessionId))
      if (Option.isNone(photo)) return Option.none<string>()
      const signed = yield* storage.sign(pathOf(sessionId, photo.value.name), signedSeconds(validFor))
      return Option.some(signed.signedUrl)
    }, Effect.orDie)

    return { save, find, signedUrl } satisfies CheckoutPhotosShape
  })

/** `CheckoutPhotos` in Supabase Storage. */
export const layerSupabaseCheckoutPhotos = (
  options: SupabaseCheckoutPhotosOptions
): Layer.Layer<CheckoutPhotos, PhotoStorageStartupError> =>
  Layer.effect(CheckoutPhotos, makeSupabaseCheckoutPhotos(options))

/** A setting these photos need; empty counts as unset, as for the store. */
const requiredSetting = (name: string) =>
  Config.string(name).pipe(
    Config.map((value) => value.trim()),
    Config.validate({ message: "is empty", validation: (value) => value !== "" }),
    Effect.mapError(
      () => new PhotoStorageStartupError({ reason: `${name}: required for checkout photos in Supabase Storage` })
    )
  )

/** `CheckoutPhotos` in the bucket `checkout-photos` of `SUPABASE_URL`, with `SUPABASE_KEY` (the service role key). */
export const layerFromConfig: Layer.Layer<CheckoutPhotos, PhotoStorageStartupError> = Layer.effect(
  CheckoutPhotos,
  Effect.gen(function* () {
    const url = yield* requiredSetting("SUPABASE_URL")
    const key = Redacted.make(yield* requiredSetting("SUPABASE_KEY"))
    const photos = yield* makeSupabaseCheckoutPhotos({ url, key })
    yield* Effect.logInfo(`checkout photos: private Supabase Storage bucket "${CHECKOUT_PHOTOS_BUCKET}" at ${url}`)
    return photos
  })
)
