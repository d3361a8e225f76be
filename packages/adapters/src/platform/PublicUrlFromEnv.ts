/**
 * Where customers reach the service (`PUBLIC_URL`, default `http://localhost:<PORT>`): links in
 * emails (pay links) and to local checkout photos start with it.
 */
import { Config, Effect, Option } from "effect"
import { fromConfigError, type PlatformStartError } from "./StartError.js"

export const publicUrlFromEnv: Effect.Effect<string, PlatformStartError> = Config.all({
  publicUrl: Config.option(Config.string("PUBLIC_URL")),
  port: Config.port("PORT").pipe(Config.withDefault(8000))
}).pipe(
  Config.map(({ publicUrl, port }) =>
    Option.match(
      // Empty counts as unset, as for every setting.
      Option.filter(publicUrl, (u) => u.trim() !== ""),
      {
        onSome: (url) => url.trim().replace(/\/+$/, ""),
        onNone: () => `http://localhost:${port}`
      }
    )
  ),
  Effect.mapError(fromConfigError)
)
