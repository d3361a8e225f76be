/**
 * Checkout photos: type read from the bytes, size refused as it streams, stored privately and
 * read back only through a short-lived signed link; the end refuses without one when required.
 */
import { existsSync, readdirSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { type Answer, book, type Client, eventually } from "@qwip/test-support/Client"
import { boot } from "@qwip/test-support/Service"

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1])
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d])
const WEBP = new Uint8Array([...new TextEncoder().encode("RIFF"), 4, 0, 0, 0, ...new TextEncoder().encode("WEBPVP8 ")])

const upload = (api: Client, token: string, bytes: Uint8Array, options: { field?: string; type?: string } = {}) => {
  const form = new FormData()
  form.append(options.field ?? "photo", new Blob([bytes], { type: options.type ?? "image/jpeg" }), "checkout.jpg")
  return api.post("/api/session/upload-checkout-photo", { token, raw: form })
}

const activeSession = async (api: Client, podId = "pod-1") => {
  const { sessionToken } = await book(api, podId)
  await eventually(
    () => api.get("/api/provisioning-status", { token: sessionToken }),
    (a) => a.body.status === "ready"
  )
  return sessionToken
}

const fetchLink = (baseUrl: string, photoUrl: string) => {
  const link = new URL(photoUrl)
  return fetch(`${baseUrl}${link.pathname}${link.search}`)
}

const expectProblem = (answer: Answer, status: number, error: string) =>
  expect({ status: answer.status, error: answer.body?.error }).toEqual({ status, error })

describe("checkout photos", () => {
  it("stores each image type privately and serves it through a signed link", async () => {
    const { api, running, platform } = await boot()
    const token = await activeSession(api)
    for (const [bytes, type] of [
      [JPEG, "image/jpeg"],
      [WEBP, "image/webp"],
      [PNG, "image/png"]
    ] as const) {
      const answer = await upload(api, token, bytes, { type: "application/octet-stream" })
      expect(answer.status).toBe(200)
      expect(answer.body.photo_url).toMatch(/\/checkout-photos\/[0-9a-f-]{36}\?expires=\d+&signature=/)
      const photo = await fetchLink(running.url, answer.body.photo_url)
      expect(photo.status).toBe(200)
      expect(photo.headers.get("content-type")).toBe(type)
      expect(photo.headers.get("cache-control")).toContain("no-store")
      expect(new Uint8Array(await photo.arrayBuffer())).toEqual(bytes)
    }
    // One photo per session: replacing it leaves no older file behind.
    const folders = readdirSync(path.join(platform.dataDir, "checkout-photos")).filter((f) => !f.startsWith("."))
    expect(folders).toHaveLength(1)
    expect(readdirSync(path.join(platform.dataDir, "checkout-photos", folders[0] as string))).toEqual(["checkout.png"])
  })

  it("a tampered or expired link is refused", async () => {
    const { api, running, platform } = await boot()
    const token = await activeSession(api)
    const url = (await upload(api, token, JPEG)).body.photo_url as string
    const tampered = url.replace(/signature=.{4}/, "signature=AAAA")
    const refused = await fetchLink(running.url, tampered)
    expect(refused.status).toBe(403)
    expect(((await refused.json()) as { error: string }).error).toBe("link_invalid")
    platform.clock.advance("16 minutes")
    const expired = await fetchLink(running.url, url)
    expect(expired.status).toBe(403)
    expect(((await expired.json()) as { error: string }).error).toBe("link_expired")
  })

  it("refuses what is not an image by its bytes, whatever the header says", async () => {
    const { api } = await boot()
    const token = await activeSession(api)
    const text = new TextEncoder().encode("<html>not a photo</html>")
    expectProblem(await upload(api, token, text, { type: "image/jpeg" }), 400, "unsupported_photo_type")
    expectProblem(await upload(api, token, JPEG, { field: "picture" }), 400, "photo_missing")
    expectProblem(
      await api.post("/api/session/upload-checkout-photo", { token, body: { photo: "base64..." } }),
      400,
      "malformed_multipart"
    )
    expectProblem(
      await api.post("/api/session/upload-checkout-photo", {
        token,
        raw: "garbage",
        headers: { "content-type": "multipart/form-data" }
      }),
      400,
      "malformed_multipart"
    )
  })

  it("refuses a photo over 10 MB: early by Content-Length, else while it streams", async () => {
    const { api } = await boot()
    const token = await activeSession(api)
    const justOver = new Uint8Array(10 * 1024 * 1024 + 1)
    justOver.set(JPEG)
    expectProblem(await upload(api, token, justOver), 400, "photo_too_large")
    const wayOver = new Uint8Array(12 * 1024 * 1024)
    wayOver.set(JPEG)
    expectProblem(await upload(api, token, wayOver), 400, "photo_too_large")
  })

  it("when required, the end waits for a photo", async () => {
    const { api, platform } = await boot({ platformOptions: { policy: { requireCheckoutPhoto: true } } })
    const token = await activeSession(api)
    const refused = await api.post("/api/end-session", { token })
    expectProblem(refused, 400, "checkout_photo_required")
    expect(refused.body.detail).toMatch(/upload-checkout-photo/)
    expect((await upload(api, token, JPEG)).status).toBe(200)
    expect((await api.post("/api/end-session", { token })).status).toBe(200)
    expect(existsSync(path.join(platform.dataDir, "checkout-photos"))).toBe(true)
  })
})
