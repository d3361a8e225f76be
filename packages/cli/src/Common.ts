/**
 * What every command shares: the common options, reaching the platform (the same
 * configuration and stores as the service), who is acting, confirmation on a terminal,
 * and parsing the ids and values staff type.
 */
import { userInfo } from "node:os"
import { Options, Prompt } from "@effect/cli"
import type * as Adapters from "@qwip/adapters"
import type { StaffPlatformServices, StaffViews, StoreAccess } from "@qwip/adapters"
import {
  type Pence,
  type PodId,
  PodId as PodIdSchema,
  pence,
  type SealedCodeKeys,
  type SessionId,
  SessionId as SessionIdSchema,
  type StaffStore,
  staffActorName
} from "@qwip/core"
import { ConfigProvider, Data, Duration, Effect, Either, Layer, Option, Schema } from "effect"

/** The command line is wrong: exit code 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** Staff said no at the confirmation prompt: exit code 1, nothing changed. */
export class Cancelled extends Data.TaggedError("Cancelled")<{ readonly message: string }> {}

// ---- options --------------------------------------------------------------------------------

export const dataDir = Options.text("data-dir").pipe(
  Options.withDescription("the embedded store's directory (default: QWIP_DATA_DIR, else .qwip)"),
  Options.optional
)

export const json = Options.boolean("json").pipe(Options.withDescription("print JSON, for scripts"))

export const yes = Options.boolean("yes").pipe(
  Options.withAlias("y"),
  Options.withDescription("do not ask for confirmation")
)

export const actor = Options.text("actor").pipe(
  Options.withDescription("who is acting, for the audit log (default: your user name)"),
  Options.optional
)

export const limit = (fallback: number) =>
  Options.integer("limit").pipe(
    Options.withDescription(`show at most this many (default ${fallback})`),
    Options.withDefault(fallback)
  )

/** Options of every command that reads. */
export const readOptions = { dataDir, json } as const
/** Options of every command that changes something. */
export const changeOptions = { dataDir, yes, actor } as const

// ---- the platform ---------------------------------------------------------------------------

/**
 * `@qwip/adapters`, loaded when a command first reaches the platform: `--help` and usage errors
 * print without loading Stripe, Supabase, PGlite and the other SDKs, most of the CLI's start-up.
 */
export const adapters: Effect.Effect<typeof Adapters> = Effect.promise(() => import("@qwip/adapters"))

export type StaffServices = StaffPlatformServices | StaffStore | StaffViews | SealedCodeKeys

/** Runs `self` with `QWIP_DATA_DIR` set to `--data-dir`, when given. */
export const withDataDir =
  (dir: Option.Option<string>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Option.isNone(dir)
      ? self
      : Effect.configProviderWith((current) =>
          Effect.withConfigProvider(
            self,
            ConfigProvider.fromMap(new Map([["QWIP_DATA_DIR", dir.value]])).pipe(ConfigProvider.orElse(() => current))
          )
        )

/** Where the configured store is, and how this process reaches it. */
export const access = (dir: Option.Option<string>) =>
  Effect.flatMap(adapters, (a) => a.storeAccess).pipe(withDataDir(dir))

/** Runs `program` on the platform the environment (and `--data-dir`) describes. */
export const onPlatform =
  (dir: Option.Option<string>) =>
  <A, E, R>(program: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const { layerStaff, platformVia, storeAccess } = yield* adapters
      const where: StoreAccess = yield* storeAccess
      return yield* program.pipe(Effect.provide(layerStaff.pipe(Layer.provideMerge(platformVia(where)))))
    }).pipe(withDataDir(dir))

/** `--actor`, else the operating system's user name. */
export const actorName = (given: Option.Option<string>): string =>
  staffActorName(given, [() => userInfo().username, () => process.env.USER, () => process.env.USERNAME])

const interactive = () => process.stdin.isTTY === true && process.stdout.isTTY === true

/** Asks on a terminal unless `--yes`; scripts (no terminal) are not asked. */
export const confirm = (assumeYes: boolean, question: string) =>
  assumeYes || !interactive()
    ? Effect.void
    : Prompt.confirm({ message: question, initial: false }).pipe(
        Effect.catchAll(() => Effect.succeed(false)),
        Effect.flatMap((ok) =>
          ok ? Effect.void : Effect.fail(new Cancelled({ message: "cancelled: nothing changed" }))
        )
      )

// ---- values staff type ----------------------------------------------------------------------

export const sessionIdOf = (text: string): Effect.Effect<SessionId, UsageError> =>
  Either.match(Schema.decodeUnknownEither(SessionIdSchema)(text.trim()), {
    onLeft: () =>
      Effect.fail(new UsageError({ message: `"${text}" is not a session id (a UUID); see qwip sessions list` })),
    onRight: Effect.succeed
  })

export const podIdOf = (text: string): Effect.Effect<PodId, UsageError> =>
  Either.match(Schema.decodeUnknownEither(PodIdSchema)(text), {
    onLeft: () => Effect.fail(new UsageError({ message: `"${text}" is not a pod id` })),
    onRight: Effect.succeed
  })

const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/

/** An ISO 8601 time with its zone (`2025-01-01T09:30Z`, `2025-06-01T10:30+01:00`). */
export const timeOf = (text: string): Effect.Effect<Date, UsageError> => {
  const date = new Date(text)
  return ZONED.test(text.trim()) && !Number.isNaN(date.getTime())
    ? Effect.succeed(date)
    : Effect.fail(
        new UsageError({ message: `--at "${text}" must be an ISO 8601 time with its zone, e.g. 2025-01-01T09:30Z` })
      )
}

const AMOUNT = /^£?\s*(\d+)(?:\.(\d{1,2}))?$/

/**
 * An amount of money as staff type it, `£12.50`, `12.50`, `12.5` or `12`, as whole pence, exactly
 * (no floating point: the pounds and pence are read as digits).
 */
export const penceOf = (option: string, text: string): Effect.Effect<Pence, UsageError> => {
  const trimmed = text.trim()
  const bad = (why: string) =>
    Effect.fail(
      new UsageError({ message: `${option} "${text}" ${why}; give pounds and pence, e.g. £12.50, 12.50 or 12` })
    )
  if (/^-|^£\s*-/.test(trimmed)) return bad("is negative")
  if (/^£?\s*\d+\.\d{3,}$/.test(trimmed)) return bad("has more than 2 decimal places (pence are the smallest unit)")
  const match = AMOUNT.exec(trimmed)
  if (match === null) return bad("is not an amount")
  const whole = Number(match[1])
  const fraction = Number((match[2] ?? "0").padEnd(2, "0"))
  const amount = whole * 100 + fraction
  if (!Number.isSafeInteger(amount)) return bad("is too large")
  if (amount === 0) return bad("is zero")
  return Effect.succeed(pence(amount))
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `--since`: how far back (`30m`, `24h`, `7d`) or an ISO 8601 time with its zone. */
export const sinceOf = (text: string, now: Date): Effect.Effect<Date, UsageError> => {
  const trimmed = text.trim()
  const relative = /^(\d+)\s*([mhd])$/i.exec(trimmed)
  if (relative !== null) {
    const ms = Number(relative[1]) * (UNIT_MS[(relative[2] ?? "").toLowerCase()] ?? 0)
    if (ms > 0) return Effect.succeed(new Date(now.getTime() - Duration.toMillis(Duration.millis(ms))))
  }
  const date = new Date(trimmed)
  if (ZONED.test(trimmed) && !Number.isNaN(date.getTime()) && date.getTime() < now.getTime()) {
    return Effect.succeed(date)
  }
  return Effect.fail(
    new UsageError({
      message: `--since "${text}" must be how far back (e.g. 30m, 24h, 7d) or a past ISO 8601 time with its zone (2025-01-01T09:30Z)`
    })
  )
}
