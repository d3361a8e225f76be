/**
 * The platform's keys: the tokens' `JWT_SECRET_KEY` and the door codes' `STATIC_CODE_B64_KEY`.
 * On the embedded store each defaults to a key generated on first run under `QWIP_DATA_DIR`;
 * a shared store needs them set, since every instance must sign and seal alike.
 */
import { Config, Context, Duration, Effect, Option, Redacted } from "effect"
import { makeStaticCodeCipher, type StaticCodeCipher } from "../static-codes/StaticCodeCipher.js"
import { type AccessTokensShape, accessTokensConfig, makeAccessTokens } from "../tokens/AccessTokens.js"
import { deriveSandboxWebhookSecret, type LocalSecrets, loadLocalSecrets } from "./LocalSecrets.js"
import { fromConfigError, optionalSecret, PlatformStartError } from "./StartError.js"

/** The cipher for static codes and sealed door codes, for tools that rekey tokens. */
export class CodeCipher extends Context.Tag("@qwip/adapters/CodeCipher")<CodeCipher, StaticCodeCipher>() {}

export interface PlatformSecrets {
  readonly tokens: AccessTokensShape
  /** The tokens' key and the retired ones still accepted; pay links are signed with them too. */
  readonly jwtSecret: Redacted.Redacted<string>
  readonly previousJwtSecrets: ReadonlyArray<Redacted.Redacted<string>>
  readonly cipher: StaticCodeCipher
  /** The sandbox's webhook secret unless `QWIP_SANDBOX_WEBHOOK_SECRET` is set. */
  readonly sandboxWebhookSecret: Redacted.Redacted<string>
}

const tokenSettings = accessTokensConfig.pipe(
  Config.orElse(() =>
    // JWT_SECRET_KEY unset: the other settings still apply.
    Config.all({
      secret: Config.succeed(Redacted.make("")),
      previousSecrets: Config.succeed([] as Array<Redacted.Redacted<string>>),
      acceptLegacy: Config.boolean("JWT_ACCEPT_LEGACY").pipe(Config.withDefault(true)),
      sessionTtl: Config.duration("SESSION_TOKEN_TTL").pipe(Config.withDefault(Duration.hours(24)))
    })
  ),
  Effect.mapError(fromConfigError)
)

const keyList = (value: Option.Option<Redacted.Redacted<string>>) =>
  Option.match(value, {
    onNone: () => [],
    onSome: (v) =>
      Redacted.value(v)
        .split(",")
        .map((k) => k.trim())
        .filter((k) => k.length > 0)
        .map(Redacted.make)
  })

/** The keys, with `local` (the embedded store's generated secrets) filling in what is unset. */
export const secretsFromEnv = (local: Option.Option<LocalSecrets>) =>
  Effect.gen(function* () {
    const required = (name: string, fromLocal: (s: LocalSecrets) => Redacted.Redacted<string>) =>
      Effect.flatMap(optionalSecret(name), (value) =>
        Option.isSome(value)
          ? Effect.succeed(value.value)
          : Option.isSome(local)
            ? Effect.succeed(fromLocal(local.value))
            : Effect.fail(
                new PlatformStartError({
                  setting: name,
                  reason:
                    "required when the store is shared (DATABASE_URL or SUPABASE_URL): every instance needs the same key"
                })
              )
      )

    const settings = yield* tokenSettings
    const jwtSecret = yield* required("JWT_SECRET_KEY", (s) => s.jwtSecret)
    const tokens = yield* makeAccessTokens({ ...settings, secret: jwtSecret }).pipe(
      Effect.mapError((e) => new PlatformStartError({ setting: e.variable, reason: e.reason }))
    )

    // Static codes; the same key seals lock-provider codes at rest.
    const staticKey = yield* required("STATIC_CODE_B64_KEY", (s) => s.staticCodeKey)
    const previousKeys = yield* optionalSecret("STATIC_CODE_PREVIOUS_KEYS")
    const cipher = yield* makeStaticCodeCipher({ current: staticKey, previous: keyList(previousKeys) }).pipe(
      Effect.mapError((e) => new PlatformStartError({ setting: e.variable, reason: e.reason }))
    )

    return {
      tokens,
      jwtSecret,
      previousJwtSecrets: settings.previousSecrets,
      cipher,
      // A shared database: every instance must accept what any of them (or a tester) signed.
      sandboxWebhookSecret: Option.match(local, {
        onSome: (l) => l.sandboxWebhookSecret,
        onNone: () => deriveSandboxWebhookSecret(jwtSecret)
      })
    } satisfies PlatformSecrets
  })

/** The embedded store's generated secrets under `dataDir`, created on first run. */
export const localSecretsIn = (dataDir: string) =>
  loadLocalSecrets(dataDir).pipe(
    Effect.mapError((e) => new PlatformStartError({ setting: "QWIP_DATA_DIR", reason: e.message }))
  )
