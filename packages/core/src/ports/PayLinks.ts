/**
 * Signed links to the pay page, where a customer finishes a payment a charge could not make
 * off-session (authentication, a declined card). The link names the session and expires;
 * anyone holding it can only pay what the session owes.
 */
import { Context, type Effect, type Option } from "effect"
import type { SessionId } from "../Ids.js"

export interface PayLinksShape {
  /** The absolute URL of the session's pay page, valid until `expiresAt`. */
  readonly linkFor: (sessionId: SessionId, expiresAt: Date) => Effect.Effect<string>
  /** The session a link's token names, if it is genuine and has not expired. */
  readonly sessionOf: (token: string) => Effect.Effect<Option.Option<SessionId>>
}

export class PayLinks extends Context.Tag("@qwip/core/PayLinks")<PayLinks, PayLinksShape>() {}
