/**
 * The webhook adapter's answers: 2xx delivered (once per key in this process), 429 and 5xx
 * tried again, any other 4xx refused for good, no connection or no answer in time tried again.
 */
import { describe, expect, it } from "@effect/vitest"
import { StaffNotice } from "@qwip/core"
import { Duration, Effect, Redacted } from "effect"
import { makeSlackWebhook, webhookText } from "../../src/staffchannel/SlackWebhook.js"

const notice = new StaffNotice({
  key: "StaffAlert:0b6a3c1e-5f2d-4e8a-9c7b-1d2e3f4a5b6c:overdue",
  summary: "Session overdue: session 0b6a3c1e-5f2d-4e8a-9c7b-1d2e3f4a5b6c on pod-1: still Active",
  command: "qwip sessions end 0b6a3c1e-5f2d-4e8a-9c7b-1d2e3f4a5b6c"
})

/** A `fetch` that answers from `script` in order and records each request's body. */
const scripted = (script: Array<() => Promise<Response>>) => {
  const bodies: Array<unknown> = []
  const fake = (async (_url: string | URL | Request, init?: RequestInit) => {
    bodies.push(JSON.parse(String(init?.body)))
    const next = script.shift()
    if (next === undefined) throw new Error("no more scripted answers")
    return next()
  }) as typeof fetch
  return { fake, bodies }
}

const channel = (fake: typeof fetch, deadline = Duration.seconds(2)) =>
  makeSlackWebhook({ url: Redacted.make("https://hooks.example.com/services/T/B/x"), deadline, fetch: fake })

const answer =
  (status: number, body = "") =>
  () =>
    Promise.resolve(new Response(body, { status }))

describe("SlackWebhook", () => {
  it.effect("posts {text} with the summary and the command; a repeat of the key posts nothing", () =>
    Effect.gen(function* () {
      const { fake, bodies } = scripted([answer(200, "ok")])
      const webhook = channel(fake)
      yield* webhook.tell(notice)
      yield* webhook.tell(notice)
      expect(bodies).toEqual([{ text: webhookText(notice) }])
      expect(webhookText(notice)).toBe(`${notice.summary}\n\`${notice.command}\``)
    })
  )

  it.effect("429 and 5xx are tried again; other 4xx are refused for good", () =>
    Effect.gen(function* () {
      for (const [status, retryable] of [
        [429, true],
        [500, true],
        [503, true],
        [400, false],
        [403, false],
        [404, false],
        [410, false]
      ] as const) {
        const { fake } = scripted([answer(status, "no_service")])
        const failed = yield* Effect.flip(channel(fake).tell(notice))
        expect([status, failed._tag, failed.retryable]).toEqual([status, "StaffNoticeFailed", retryable])
        expect(failed.reason).toContain(String(status))
      }
    })
  )

  it.effect("no connection, or no answer within the deadline, is tried again", () =>
    Effect.gen(function* () {
      const refused = scripted([() => Promise.reject(new TypeError("fetch failed"))])
      const unreachable = yield* Effect.flip(channel(refused.fake).tell(notice))
      expect(unreachable.retryable).toBe(true)

      const hanging = (async (_url: string | URL | Request, init?: RequestInit) =>
        new Promise<Response>((_, reject) =>
          init?.signal?.addEventListener("abort", () => reject(init.signal?.reason))
        )) as typeof fetch
      const slow = yield* Effect.flip(channel(hanging, Duration.millis(50)).tell(notice))
      expect(slow.retryable).toBe(true)
      expect(slow.reason).toContain("no answer within")
    })
  )

  it.effect("a failed post is not remembered: the next try posts again", () =>
    Effect.gen(function* () {
      const { fake, bodies } = scripted([answer(500), answer(200, "ok")])
      const webhook = channel(fake)
      yield* Effect.flip(webhook.tell(notice))
      yield* webhook.tell(notice)
      expect(bodies).toHaveLength(2)
    })
  )
})
