/**
 * Pay links: signed with the access tokens' key (`JWT_SECRET_KEY`, or the embedded store's
 * generated one), still verifying links signed under `JWT_PREVIOUS_SECRET_KEYS`, pointing at
 * `PUBLIC_URL`, where the service serves the pay page. The keys are read once, by
 * `secretsFromEnv`.
 */
import { PayLinks } from "@qwip/core"
import { Effect, Layer, type Redacted } from "effect"
import { makePayLinks } from "../paylinks/PayLinks.js"
import { publicUrlFromEnv } from "./PublicUrlFromEnv.js"
import type { PlatformStartError } from "./StartError.js"

export const payLinksFromEnv = (keys: {
  readonly secret: Redacted.Redacted<string>
  readonly previousSecrets: ReadonlyArray<Redacted.Redacted<string>>
}): Effect.Effect<Layer.Layer<PayLinks>, PlatformStartError> =>
  Effect.map(publicUrlFromEnv, (publicUrl) =>
    Layer.succeed(PayLinks, makePayLinks({ secret: keys.secret, previousSecrets: keys.previousSecrets, publicUrl }))
  )
