/**
 * Where staff are told, besides their email: a chat channel (a Slack-compatible incoming
 * webhook in production). Optional: a platform without one leaves the tag out, and staff
 * alerts then go by email only.
 */
import { Context, type Effect, Schema } from "effect"

/** One alert as staff read it: a short summary and the `qwip` command that acts on it. */
export class StaffNotice extends Schema.Class<StaffNotice>("StaffNotice")({
  /** The alert's message key: one notice per key. */
  key: Schema.String,
  summary: Schema.String,
  command: Schema.String
}) {}

export class StaffNoticeFailed extends Schema.TaggedError<StaffNoticeFailed>()("StaffNoticeFailed", {
  key: Schema.String,
  reason: Schema.String,
  /** False when trying again cannot help (the channel refused the notice for good). */
  retryable: Schema.Boolean
}) {
  override get message() {
    return `staff notice ${this.key} not delivered: ${this.reason}`
  }
}

export interface StaffChannelShape {
  /** Delivers the notice; a repeat of a key this process delivered sends nothing new. */
  readonly tell: (notice: StaffNotice) => Effect.Effect<void, StaffNoticeFailed>
}

export class StaffChannel extends Context.Tag("@qwip/core/StaffChannel")<StaffChannel, StaffChannelShape>() {}
