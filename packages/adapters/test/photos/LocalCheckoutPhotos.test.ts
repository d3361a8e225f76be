/**
 * Checkout photos in a local directory: one photo per session whatever its type, read back only
 * through a signed link that stops working at its expiry; the signing key survives a restart.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import type { SessionId } from "@qwip/core"
import { Duration, Effect, Option, TestClock } from "effect"
import { makeLocalCheckoutPhotos } from "../../src/photos/LocalCheckoutPhotos.js"

const SESSION = "7c9e6679-7425-40de-944b-e07fc1f90ae7" as SessionId
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 4, 5, 6])

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "qwip-photos-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/** The signed link's query, as the HTTP service reads it. */
const linkOf = (url: string) => {
  const link = new URL(url)
  return {
    path: link.pathname,
    expires: Number(link.searchParams.get("expires")),
    signature: link.searchParams.get("signature") ?? ""
  }
}

describe("LocalCheckoutPhotos", () => {
  it.scoped("keeps one photo per session and serves it only through a current signed link", () =>
    Effect.gen(function* () {
      const directory = yield* tempDir
      const { photos, files } = yield* makeLocalCheckoutPhotos({ directory, publicUrl: "https://pods.example" })
      expect(yield* photos.signedUrl(SESSION, Duration.minutes(15))).toEqual(Option.none())

      yield* photos.save({ sessionId: SESSION, type: "jpeg", bytes: JPEG })
      yield* photos.save({ sessionId: SESSION, type: "png", bytes: PNG })
      expect(yield* photos.find(SESSION)).toEqual(Option.some({ sessionId: SESSION, type: "png", sizeBytes: 7 }))
      expect(yield* Effect.promise(() => readdir(join(directory, SESSION)))).toEqual(["checkout.png"])

      const url = Option.getOrThrow(yield* photos.signedUrl(SESSION, Duration.minutes(15)))
      expect(url.startsWith(`https://pods.example/checkout-photos/${SESSION}?`)).toBe(true)
      const { expires, signature } = linkOf(url)
      expect(yield* files.read({ sessionId: SESSION, expires, signature })).toEqual({ bytes: PNG, type: "png" })

      const tampered = yield* Effect.flip(files.read({ sessionId: SESSION, expires: expires + 60, signature }))
      expect(tampered).toBe("invalid_link")
      yield* TestClock.adjust(Duration.minutes(16))
      expect(yield* Effect.flip(files.read({ sessionId: SESSION, expires, signature }))).toBe("expired_link")

      // A restart signs with the same key, so links already given out keep working.
      const again = yield* makeLocalCheckoutPhotos({ directory, publicUrl: "https://pods.example" })
      yield* TestClock.setTime(0)
      expect((yield* again.files.read({ sessionId: SESSION, expires, signature })).type).toBe("png")
    })
  )
})
