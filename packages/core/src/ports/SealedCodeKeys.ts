/**
 * Key rotation for the door codes sessions store sealed: which tokens only a retired key
 * still opens, and sealing a token's code again under the current key. The AES-GCM cipher
 * in @qwip/adapters implements it beside `StaticCodes`.
 */
import { Context, type Effect } from "effect"
import type { UnreadableAccessToken } from "./StaticCodes.js"

export interface SealedCodeKeysShape {
  /** True when only a retired key opens the token: it should be sealed again. */
  readonly needsRekey: (token: string) => Effect.Effect<boolean, UnreadableAccessToken>
  /** Opens the token with any known key and seals its code again under the current key. */
  readonly rekey: (token: string) => Effect.Effect<string, UnreadableAccessToken>
}

export class SealedCodeKeys extends Context.Tag("@qwip/core/SealedCodeKeys")<SealedCodeKeys, SealedCodeKeysShape>() {}
