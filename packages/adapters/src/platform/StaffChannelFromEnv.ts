/**
 * Where staff are told besides email, from the environment: a Slack-compatible incoming
 * webhook when `STAFF_WEBHOOK_URL` is set; otherwise none, and no notice is ever queued.
 */
import type { StaffChannel } from "@qwip/core"
import { type Duration, Effect, Layer, Option, Redacted } from "effect"
import * as SlackWebhook from "../staffchannel/SlackWebhook.js"
import { optionalSecret, PlatformStartError } from "./StartError.js"

export interface PlatformStaffChannel {
  readonly kind: "webhook" | "none"
  readonly layer: Layer.Layer<StaffChannel>
}

export const staffChannelFromEnv = (options: {
  /** Each post gives up after this. */
  readonly callDeadline: Duration.Duration
}): Effect.Effect<PlatformStaffChannel, PlatformStartError> =>
  Effect.gen(function* () {
    const url = yield* optionalSecret("STAFF_WEBHOOK_URL")
    if (Option.isNone(url)) return { kind: "none", layer: Layer.empty as Layer.Layer<StaffChannel> }
    const text = Redacted.value(url.value).trim()
    if (!/^https?:\/\/[^\s]+$/.test(text)) {
      return yield* new PlatformStartError({ setting: "STAFF_WEBHOOK_URL", reason: "must be an http(s) URL" })
    }
    return {
      kind: "webhook",
      layer: SlackWebhook.layer({ url: Redacted.make(text), deadline: options.callDeadline })
    }
  })
