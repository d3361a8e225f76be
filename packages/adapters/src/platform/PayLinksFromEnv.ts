/**
 * Pay links from the environment: signed with a key derived from `JWT_SECRET_KEY` (or the
 * embedded store's generated one, as the access tokens are), still verifying links signed
 * under `JWT_PREVIOUS_SECRET_KEYS`, pointing at `PUBLIC_URL` (default `http://localhost:<PORT>`),
 * where the service serves the pay page.
 */
import { PayLinks } from "@qwip/core"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import { makePayLinks } from "../paylinks/PayLinks.js"
import type { LocalSecrets } from "./LocalSecrets.js"
import { fromConfigError, optionalSecret, PlatformStartError } from "./StartError.js"

/** Where customers reach the service; links in emails start with it. */
export const publicUrlFromEnv: Effect.Effect<string, PlatformStartError> = Config.all({
  publicUrl: Config.option(Config.string("PUBLIC_URL")),
  port: Config.port("PORT").pipe(Config.withDefault(8000))
}).pipe(
  Config.map(({ publicUrl, port }) =>
    Option.match(
      Option.filter(publicUrl, (u) => u.trim() !== ""),
      {
        onSome: (url) => url.trim().replace(/\/+$/, ""),
        onNone: () => `http://localhost:${port}`
      }
    )
  ),
  Effect.mapError(fromConfigError)
)

const secretList = (value: Option.Option<Redacted.Redacted<string>>) =>
  Option.match(value, {
    onNone: () => [],
    onSome: (v) =>
      Redacted.value(v)
        .split(",")
        .map((k) => k.trim())
        .filter((k) => k.length > 0)
        .map(Redacted.make)
  })

export const payLinksFromEnv = (
  local: Option.Option<LocalSecrets>
): Effect.Effect<Layer.Layer<PayLinks>, PlatformStartError> =>
  Effect.gen(function* () {
    const given = yield* optionalSecret("JWT_SECRET_KEY")
    const secret = Option.orElse(given, () => Option.map(local, (l) => l.jwtSecret))
    if (Option.isNone(secret)) {
      return yield* new PlatformStartError({
        setting: "JWT_SECRET_KEY",
        reason: "required when the store is shared (DATABASE_URL or SUPABASE_URL): pay links are signed with it"
      })
    }
    const previousSecrets = secretList(yield* optionalSecret("JWT_PREVIOUS_SECRET_KEYS"))
    const publicUrl = yield* publicUrlFromEnv
    return Layer.succeed(PayLinks, makePayLinks({ secret: secret.value, previousSecrets, publicUrl }))
  })
