/**
 * Pay links for tests: the token names the session and its expiry in plain text (no
 * signature: nothing outside the test can forge one), checked against the `Clock`.
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import type { SessionId } from "../Ids.js"
import { PayLinks, type PayLinksShape } from "../ports/PayLinks.js"

export const FAKE_PAY_PAGE = "https://qwip.test/pay/"

export interface FakePayLinksControl {
  /** Every link made, in order. */
  readonly links: () => ReadonlyArray<{
    readonly sessionId: SessionId
    readonly link: string
    readonly expiresAt: Date
  }>
  /** The token of a link (what the pay page receives). */
  readonly tokenOf: (link: string) => string
}

export class FakePayLinks extends Context.Tag("@qwip/core/testing/FakePayLinks")<FakePayLinks, FakePayLinksControl>() {}

export const makeFakePayLinks = () => {
  const made: Array<{ sessionId: SessionId; link: string; expiresAt: Date }> = []
  const links: PayLinksShape = {
    linkFor: (sessionId, expiresAt) =>
      Effect.sync(() => {
        const link = `${FAKE_PAY_PAGE}${sessionId}.${expiresAt.getTime()}`
        made.push({ sessionId, link, expiresAt })
        return link
      }),
    sessionOf: (token) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const match = /^(.+)\.(\d+)$/.exec(token)
        if (match === null) return Option.none()
        const known = made.some((m) => m.link === `${FAKE_PAY_PAGE}${token}`)
        return known && Number(match[2]) > now ? Option.some(match[1] as SessionId) : Option.none()
      })
  }
  const control: FakePayLinksControl = {
    links: () => [...made],
    tokenOf: (link) => link.slice(FAKE_PAY_PAGE.length)
  }
  return { links, control }
}

export const layerFakePayLinks = Layer.effectContext(
  Effect.sync(() => {
    const { links, control } = makeFakePayLinks()
    return Context.make(PayLinks, links).pipe(Context.add(FakePayLinks, control))
  })
)
