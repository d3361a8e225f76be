/**
 * The staff channel as a Slack-compatible incoming webhook (`STAFF_WEBHOOK_URL`): one
 * `POST {"text": ...}` per notice, its summary and then its command. Slack, Mattermost, Rocket.Chat
 * and Discord's `/slack` endpoints all take this shape.
 *
 * How an answer is taken: 2xx delivered; 429 and 5xx the channel is busy or down, tried again;
 * any other 4xx refused for good (the webhook was removed, the URL is wrong). No answer within
 * the deadline, or no connection, is tried again.
 */
import { StaffChannel, type StaffChannelShape, type StaffNotice, StaffNoticeFailed } from "@qwip/core"
import { Duration, Effect, Layer, Redacted } from "effect"

export interface SlackWebhookOptions {
  readonly url: Redacted.Redacted<string>
  /** Each post gives up after this. */
  readonly deadline: Duration.Duration
  /** Default the global `fetch` (tests may pass their own). */
  readonly fetch?: typeof fetch
}

/** Keys remembered as delivered, so a notice run twice in this process is posted once. */
const REMEMBERED = 10_000

/** The text staff read: the summary, then the command to act on it as code. */
export const webhookText = (notice: StaffNotice): string => `${notice.summary}\n\`${notice.command}\``

export const makeSlackWebhook = (options: SlackWebhookOptions): StaffChannelShape => {
  const post = options.fetch ?? fetch
  const delivered = new Set<string>()
  const remember = (key: string) => {
    delivered.add(key)
    // A Set keeps insertion order: forget the oldest first.
    for (const old of delivered) {
      if (delivered.size <= REMEMBERED) break
      delivered.delete(old)
    }
  }
  return {
    tell: (notice) =>
      Effect.gen(function* () {
        if (delivered.has(notice.key)) return
        const failed = (reason: string, retryable: boolean) =>
          new StaffNoticeFailed({ key: notice.key, reason, retryable })
        const response = yield* Effect.tryPromise({
          try: (signal) =>
            post(Redacted.value(options.url), {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ text: webhookText(notice) }),
              signal: AbortSignal.any([signal, AbortSignal.timeout(Duration.toMillis(options.deadline))])
            }),
          catch: (cause) =>
            failed(
              cause instanceof Error && cause.name === "TimeoutError"
                ? `no answer within ${Duration.format(options.deadline)}`
                : `cannot reach the webhook: ${cause instanceof Error ? cause.message : String(cause)}`,
              true
            )
        })
        // The body is short ("ok", or why not); read it so the connection is reused, and for the reason.
        const body = yield* Effect.promise(() => response.text().catch(() => ""))
        if (response.ok) return remember(notice.key)
        const reason = `webhook answered ${response.status}${body === "" ? "" : `: ${body.slice(0, 200)}`}`
        return yield* Effect.fail(failed(reason, response.status === 429 || response.status >= 500))
      }).pipe(Effect.withSpan("SlackWebhook.tell", { attributes: { key: notice.key } }))
  }
}

export const layer = (options: SlackWebhookOptions): Layer.Layer<StaffChannel> =>
  Layer.sync(StaffChannel, () => makeSlackWebhook(options))
