/**
 * Pods in static mode have a fixed list of door codes. Codes are stored on sessions as
 * sealed (encrypted) tokens in `access_code_id`, readable with the current or a previous key.
 */
import { Context, type Effect, Schema } from "effect"
import type { AccessCode } from "../doorcodes/AccessCode.js"
import type { PodId } from "../Ids.js"

export class UnreadableAccessToken extends Schema.TaggedError<UnreadableAccessToken>()("UnreadableAccessToken", {
  reason: Schema.String
}) {
  override get message() {
    return `access code token cannot be read: ${this.reason}`
  }
}

export interface StaticCodesShape {
  /** The pod's current code list (empty when it has none). */
  readonly codesFor: (podId: PodId) => Effect.Effect<ReadonlyArray<AccessCode>>
  /** Seals a code into a token under the current key. */
  readonly seal: (code: AccessCode) => Effect.Effect<string>
  /** Opens a token with the current key or any previous one. */
  readonly open: (token: string) => Effect.Effect<AccessCode, UnreadableAccessToken>
}

export class StaticCodes extends Context.Tag("@qwip/core/StaticCodes")<StaticCodes, StaticCodesShape>() {}
