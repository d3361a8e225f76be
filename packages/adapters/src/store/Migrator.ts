/**
 * Applies the numbered SQL files in `packages/adapters/migrations` (`0001_name.sql`), in
 * order, each in its own transaction. The whole run holds one session-level advisory lock per
 * schema, so when several instances start at once on an empty database exactly one applies
 * the migrations; the others wait for it, find the schema current and start. (Each file also
 * takes the lock for its transaction, so a file applied by hand or by an older build cannot
 * run twice either.) Each file records its own version in `qwip_schema_migrations`,
 * so applying the files with the Supabase CLI records them the same way. A database whose
 * recorded version is newer than the newest file is refused: this build does not know it.
 *
 * The files are read at run time from the package's `migrations/` folder (two levels above
 * this module in both `src/store/` and `dist/store/`), which `files` in package.json ships.
 */
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Schema } from "effect"
import { describeCause, quoteIdent } from "./Backend.js"

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

/** Where the SQL files live. */
export const migrationsDirectory: string = fileURLToPath(new URL("../../migrations/", import.meta.url))

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/

export class MigrationFailed extends Schema.TaggedError<MigrationFailed>()("MigrationFailed", {
  version: Schema.Number,
  name: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `migration ${String(this.version).padStart(4, "0")}_${this.name} failed: ${this.reason}`
  }
}

/** The database was migrated by a newer build; this one must not run against it. */
export class SchemaTooNew extends Schema.TaggedError<SchemaTooNew>()("SchemaTooNew", {
  databaseVersion: Schema.Number,
  codeVersion: Schema.Number
}) {
  override get message() {
    return `database schema is at version ${this.databaseVersion}, newer than this build knows (${this.codeVersion}); run a newer build`
  }
}

/** The database lacks migrations this build needs and cannot apply them itself (Supabase). */
export class SchemaTooOld extends Schema.TaggedError<SchemaTooOld>()("SchemaTooOld", {
  databaseVersion: Schema.Number,
  codeVersion: Schema.Number
}) {
  override get message() {
    return `database schema is at version ${this.databaseVersion}, this build needs ${this.codeVersion}: apply the migrations in packages/adapters/migrations`
  }
}

export class MigrationsUnreadable extends Schema.TaggedError<MigrationsUnreadable>()("MigrationsUnreadable", {
  directory: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot read migrations from ${this.directory}: ${this.reason}`
  }
}

let cached: ReadonlyArray<Migration> | undefined

/** The migrations this build carries, in version order. */
export const migrations: Effect.Effect<ReadonlyArray<Migration>, MigrationsUnreadable> = Effect.suspend(() =>
  cached !== undefined
    ? Effect.succeed(cached)
    : Effect.tryPromise({
        try: async () => {
          const names = (await readdir(migrationsDirectory)).filter((n) => n.endsWith(".sql")).sort()
          const loaded: Array<Migration> = []
          for (const name of names) {
            const match = FILE.exec(name)
            if (match === null) throw new Error(`${name} is not named NNNN_name.sql`)
            const version = Number(match[1])
            if (version !== loaded.length + 1) throw new Error(`${name}: expected version ${loaded.length + 1}`)
            loaded.push({ version, name: match[2] ?? "", sql: await readFile(join(migrationsDirectory, name), "utf8") })
          }
          if (loaded.length === 0) throw new Error("no migrations found")
          cached = loaded
          return loaded
        },
        catch: (cause) => new MigrationsUnreadable({ directory: migrationsDirectory, reason: describeCause(cause) })
      })
)

/** The newest version this build knows. */
export const latestVersion: Effect.Effect<number, MigrationsUnreadable> = Effect.map(
  migrations,
  (all) => all[all.length - 1]?.version ?? 0
)

/** What the migrator needs from a database connection. */
export interface MigrationTarget {
  readonly query: (
    text: string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, unknown>
  /** Runs a multi-statement script in one transaction (rolled back on error). */
  readonly runScript: (script: string) => Effect.Effect<void, unknown>
  /**
   * Runs `use` on one connection held throughout, so a session-level advisory lock taken on it
   * covers everything `use` does. A single-connection database passes itself.
   */
  readonly onOneConnection: <A, E>(
    use: (connection: MigrationTarget) => Effect.Effect<A, E>,
    connectFailed: (cause: unknown) => E
  ) => Effect.Effect<A, E>
}

/** The migrator's `query` on any client that runs a parameterised statement (PGlite, node-postgres). */
export const queryWith =
  (db: {
    readonly query: (text: string, params: Array<unknown>) => Promise<{ readonly rows: ReadonlyArray<unknown> }>
  }): MigrationTarget["query"] =>
  (text, params) =>
    Effect.tryPromise({
      try: () => db.query(text, params === undefined ? [] : [...params]),
      catch: (cause) => cause
    }).pipe(Effect.map((result) => result.rows as ReadonlyArray<Record<string, unknown>>))

/** The advisory lock key for migrating `schema`: one per schema, shared by every build. */
const lockKey = (schema: string) => literal(`qwip-migrations:${schema}`)

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`

/** The version recorded in `schema` (0 when nothing was ever applied). */
export const databaseVersion = (target: MigrationTarget, schema: string): Effect.Effect<number, unknown> =>
  Effect.gen(function* () {
    const table = `${quoteIdent(schema)}.qwip_schema_migrations`
    const present = yield* target.query("select to_regclass($1) is not null as present", [table])
    if (present[0]?.present !== true) return 0
    const rows = yield* target.query(`select coalesce(max(version), 0)::integer as version from ${table}`)
    return Number(rows[0]?.version ?? 0)
  })

/** Marks a migration another process applied while we waited for the lock. */
const ALREADY_APPLIED = "QW001"

const scriptFor = (schema: string, migration: Migration) => `
select set_config('search_path', ${literal(quoteIdent(schema))}, true);
select pg_advisory_xact_lock(hashtext(${lockKey(schema)}));
do $qwip_guard$
begin
  if to_regclass('qwip_schema_migrations') is not null then
    if exists (select 1 from qwip_schema_migrations where version = ${migration.version}) then
      raise exception 'migration ${migration.version} already applied' using errcode = '${ALREADY_APPLIED}';
    end if;
  end if;
end
$qwip_guard$;
${migration.sql}
;
do $qwip_check$
begin
  if not exists (select 1 from qwip_schema_migrations where version = ${migration.version}) then
    raise exception 'migration ${migration.version} did not record its version';
  end if;
end
$qwip_check$;
`

const sqlState = (cause: unknown): string | undefined => {
  for (let c: unknown = cause, depth = 0; c !== undefined && c !== null && depth < 4; depth++) {
    if (typeof c === "object" && "code" in c && typeof c.code === "string") return c.code
    c = typeof c === "object" && "cause" in c ? c.cause : undefined
  }
  return undefined
}

export interface MigrationReport {
  readonly from: number
  readonly to: number
  readonly applied: ReadonlyArray<number>
}

/** Applies what `schema` lacks; runs while this process holds the migration lock. */
const applyPending = (
  target: MigrationTarget,
  schema: string,
  all: ReadonlyArray<Migration>,
  failed: (version: number, name: string) => (cause: unknown) => MigrationFailed
): Effect.Effect<MigrationReport, MigrationFailed | SchemaTooNew> =>
  Effect.gen(function* () {
    const latest = all[all.length - 1]?.version ?? 0
    const from = yield* databaseVersion(target, schema).pipe(Effect.mapError(failed(0, "read_version")))
    if (from > latest) return yield* new SchemaTooNew({ databaseVersion: from, codeVersion: latest })
    const applied: Array<number> = []
    for (const migration of all) {
      if (migration.version <= from) continue
      const ran = yield* target.runScript(scriptFor(schema, migration)).pipe(
        Effect.as(true),
        Effect.catchAll((cause) =>
          sqlState(cause) === ALREADY_APPLIED
            ? Effect.succeed(false)
            : Effect.fail(failed(migration.version, migration.name)(cause))
        )
      )
      if (ran) applied.push(migration.version)
    }
    const to = yield* databaseVersion(target, schema).pipe(Effect.mapError(failed(latest, "read_version")))
    if (to > latest) return yield* new SchemaTooNew({ databaseVersion: to, codeVersion: latest })
    return { from, to, applied }
  })

/**
 * Brings `schema` up to the newest version, creating the schema if needed. Refuses a
 * database newer than this build.
 */
export const migrate = (
  target: MigrationTarget,
  options: { readonly schema: string }
): Effect.Effect<MigrationReport, MigrationFailed | SchemaTooNew | MigrationsUnreadable> =>
  Effect.gen(function* () {
    const all = yield* migrations
    const failed = (version: number, name: string) => (cause: unknown) =>
      new MigrationFailed({ version, name, reason: describeCause(cause) })
    return yield* target.onOneConnection(
      (connection) =>
        Effect.acquireUseRelease(
          connection
            .query(`select pg_advisory_lock(hashtext(${lockKey(options.schema)}))`)
            .pipe(Effect.mapError(failed(0, "lock"))),
          () =>
            Effect.gen(function* () {
              // Inside the lock: two instances creating the schema at once would collide.
              if (options.schema !== "public") {
                yield* connection
                  .query(`create schema if not exists ${quoteIdent(options.schema)}`)
                  .pipe(Effect.mapError(failed(0, "create_schema")))
              }
              return yield* applyPending(connection, options.schema, all, failed)
            }),
          () => connection.query(`select pg_advisory_unlock(hashtext(${lockKey(options.schema)}))`).pipe(Effect.ignore)
        ),
      failed(0, "connect")
    )
  }).pipe(Effect.withSpan("Migrator.migrate", { attributes: { schema: options.schema } }))

/** Checks a database that this process cannot migrate (Supabase over PostgREST). */
export const checkVersion = (
  version: number
): Effect.Effect<number, SchemaTooNew | SchemaTooOld | MigrationsUnreadable> =>
  Effect.flatMap(
    latestVersion,
    (latest): Effect.Effect<number, SchemaTooNew | SchemaTooOld> =>
      version > latest
        ? Effect.fail(new SchemaTooNew({ databaseVersion: version, codeVersion: latest }))
        : version < latest
          ? Effect.fail(new SchemaTooOld({ databaseVersion: version, codeVersion: latest }))
          : Effect.succeed(version)
  )
