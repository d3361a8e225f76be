/**
 * Choosing the store from configuration, in one place: DATABASE_URL, else SUPABASE_URL +
 * SUPABASE_KEY, else embedded under QWIP_DATA_DIR (default .qwip). A wrong or unreachable
 * setting fails at start with one line naming it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import {
  describeChoice,
  layerFromConfig,
  layerPglite,
  layerSupabase,
  StoreRecords,
  type StoreStartupError,
  storeChoice
} from "@qwip/adapters/store/index"
import { type PodId, SessionStore } from "@qwip/core"
import { demoPod } from "@qwip/core/testing"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { startPostgrestServer } from "../support/PostgrestServer.js"
import { freshSchema, testDatabaseUrl, testPool } from "../support/Stores.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

/** Starts the configured store and returns the one-line start-up error it fails with. */
const startupError = (env: Record<string, string>) =>
  Effect.scoped(Layer.build(layerFromConfig)).pipe(withEnv(env), Effect.flip)

const expectOneLine = (error: StoreStartupError, setting: string, ...fragments: ReadonlyArray<string>) => {
  expect(error._tag).toBe("StoreStartupError")
  expect(error.setting).toBe(setting)
  expect(error.message.startsWith(`${setting}: `)).toBe(true)
  expect(error.message).not.toContain("\n")
  for (const fragment of fragments) expect(error.message).toContain(fragment)
}

describe("store configuration", () => {
  it.effect("DATABASE_URL wins, then SUPABASE_URL with SUPABASE_KEY, then embedded in QWIP_DATA_DIR or .qwip", () =>
    Effect.gen(function* () {
      const all = { DATABASE_URL: "postgres://u@h/db", SUPABASE_URL: "https://x.supabase.co", SUPABASE_KEY: "k" }
      const postgres = yield* storeChoice.pipe(withEnv(all))
      expect(postgres._tag === "Postgres" && Redacted.value(postgres.url)).toBe("postgres://u@h/db")
      const supabase = yield* storeChoice.pipe(withEnv({ ...all, DATABASE_URL: "  " }))
      expect(supabase).toMatchObject({ _tag: "Supabase", url: "https://x.supabase.co" })
      expect(yield* storeChoice.pipe(withEnv({ QWIP_DATA_DIR: "/var/qwip" }))).toEqual({
        _tag: "Embedded",
        dataDir: "/var/qwip"
      })
      expect(yield* storeChoice.pipe(withEnv({}))).toEqual({ _tag: "Embedded", dataDir: ".qwip" })
      expect(postgres._tag === "Postgres" && postgres.schema).toBe("public")
      const own = yield* storeChoice.pipe(withEnv({ ...all, DATABASE_SCHEMA: "qwip" }))
      expect(own._tag === "Postgres" && own.schema).toBe("qwip")
      expect(describeChoice({ _tag: "Postgres", url: Redacted.make("postgres://u:secret@h/db"), schema: "qwip" })).toBe(
        "postgres at postgres://u:***@h/db (schema qwip)"
      )
      expect(
        describeChoice({ _tag: "Postgres", url: Redacted.make("postgres://u:secret@h/db"), schema: "public" })
      ).toBe("postgres at postgres://u:***@h/db")
      const missingKey = yield* Effect.flip(storeChoice.pipe(withEnv({ SUPABASE_URL: "https://x.supabase.co" })))
      expectOneLine(missingKey, "SUPABASE_KEY", "required when SUPABASE_URL is set")
    })
  )

  it.effect("a DATABASE_URL that is not a postgres URL, or not reachable, fails naming it (password hidden)", () =>
    Effect.gen(function* () {
      expectOneLine(yield* startupError({ DATABASE_URL: "localhost:5432" }), "DATABASE_URL", "postgres://")
      const unreachable = yield* startupError({ DATABASE_URL: "postgres://qwip:hunter2@127.0.0.1:1/qwip" })
      expectOneLine(unreachable, "DATABASE_URL", "cannot connect to postgres://qwip:***@127.0.0.1:1/qwip")
      expect(unreachable.message).not.toContain("hunter2")
    })
  )

  it.effect("a SUPABASE_URL that is wrong or unreachable fails naming it", () =>
    Effect.gen(function* () {
      expectOneLine(yield* startupError({ SUPABASE_URL: "ftp://x", SUPABASE_KEY: "k" }), "SUPABASE_URL", "not an http")
      const unreachable = yield* startupError({ SUPABASE_URL: "http://127.0.0.1:1", SUPABASE_KEY: "k" })
      expectOneLine(unreachable, "SUPABASE_URL", "cannot reach http://127.0.0.1:1")
    })
  )

  it.scoped("embedded: persisted under QWIP_DATA_DIR, and one process at a time", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "qwip-store-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const pod = demoPod({ id: "pod-disk" })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(layerFromConfig)
          yield* Effect.flatMap(StoreRecords, (r) => r.upsertPod(pod)).pipe(Effect.provide(context))
          // while this process holds it, the directory cannot be opened again
          const second = yield* Effect.flip(Effect.scoped(Layer.build(layerPglite({ dataDir: dir }))))
          expectOneLine(second, "QWIP_DATA_DIR", "in use by process")
        })
      ).pipe(withEnv({ QWIP_DATA_DIR: dir }))
      // released and reopened: the pod is still there
      const reopened = yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(layerPglite({ dataDir: dir }))
          return yield* Effect.flatMap(SessionStore, (s) => s.pod("pod-disk" as PodId)).pipe(Effect.provide(context))
        })
      )
      expect(reopened).toEqual(Option.some(pod))
    })
  )

  const withPostgres = testDatabaseUrl === undefined ? describe.skip : describe
  withPostgres("Supabase start-up checks (through the PostgREST stand-in)", () => {
    it.scoped("a wrong SUPABASE_KEY, and a project without the migrations, fail naming the setting", () =>
      Effect.gen(function* () {
        const schema = yield* freshSchema()
        const pool = yield* testPool({ max: 2 })
        const server = yield* Effect.acquireRelease(
          Effect.promise(() => startPostgrestServer({ pool, schemas: [schema], apiKey: "right" })),
          (s) => Effect.promise(() => s.close())
        )
        const start = (key: string) =>
          Effect.flip(Effect.scoped(Layer.build(layerSupabase({ url: server.url, key, schema }))))
        expectOneLine(yield* start("wrong"), "SUPABASE_KEY", "rejected", "service role key")
        expectOneLine(yield* start("right"), "SUPABASE_URL", "migrations are not applied")
      })
    )
  })
})
