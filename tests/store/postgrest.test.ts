/**
 * The PostgREST stand-in answers as PostgREST does for the part the Supabase store uses
 * (see the header of tests/support/PostgrestServer.ts). Needs QWIP_TEST_DATABASE_URL.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { startPostgrestServer } from "../support/PostgrestServer.js"
import { freshSchema, testDatabaseUrl, testPool } from "../support/Stores.js"

const suite = testDatabaseUrl === undefined ? describe.skip : describe

const setup = Effect.gen(function* () {
  const schema = yield* freshSchema("qwip_pgrst")
  const pool = yield* testPool({ max: 4 })
  yield* Effect.promise(() =>
    pool.query(`
      set search_path to ${schema};
      create table t (k text primary key);
      create function add_k(p_k text) returns jsonb language sql as $$ insert into t values (p_k) returning jsonb_build_object('k', k) $$;
      create function refuse(p_why text) returns void language plpgsql as $$
        begin raise exception 'refused: %', p_why using detail = 'the detail', hint = 'the hint'; end $$;
      create function nothing() returns void language sql as $$ select $$;
      create function keys() returns setof t language sql as $$ select * from t order by k $$;
      create function maybe(p_a integer, p_b integer default 2) returns integer language sql as $$ select p_a + p_b $$;
      create function nul() returns jsonb language sql as $$ select null::jsonb $$;
      reset search_path;
    `)
  )
  const server = yield* Effect.acquireRelease(
    Effect.promise(() => startPostgrestServer({ pool, schemas: [schema], apiKey: "key" })),
    (s) => Effect.promise(() => s.close())
  )
  const post = (fn: string, body: unknown, headers: Record<string, string> = {}) =>
    Effect.promise(async () => {
      const res = await fetch(`${server.url}/rest/v1/rpc/${fn}`, {
        method: "POST",
        headers: { apikey: "key", "Content-Type": "application/json", "Content-Profile": schema, ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body)
      })
      const text = await res.text()
      return { status: res.status, body: text === "" ? undefined : JSON.parse(text) }
    })
  return { post }
})

suite("PostgREST stand-in", () => {
  it.scoped("results: JSON value, set as array, defaults, null, void as 204", () =>
    Effect.gen(function* () {
      const { post } = yield* setup
      expect(yield* post("add_k", { p_k: "a" })).toEqual({ status: 200, body: { k: "a" } })
      expect(yield* post("keys", {})).toEqual({ status: 200, body: [{ k: "a" }] })
      expect(yield* post("maybe", { p_a: 1 })).toEqual({ status: 200, body: 3 })
      expect(yield* post("maybe", { p_a: 1, p_b: 5 })).toEqual({ status: 200, body: 6 })
      expect(yield* post("nul", {})).toEqual({ status: 200, body: null })
      expect(yield* post("nothing", {})).toEqual({ status: 204, body: undefined })
    })
  )

  it.scoped("errors: PostgREST's shape and status codes", () =>
    Effect.gen(function* () {
      const { post } = yield* setup
      yield* post("add_k", { p_k: "dup" })
      expect(yield* post("add_k", { p_k: "dup" })).toMatchObject({ status: 409, body: { code: "23505" } })
      expect(yield* post("refuse", { p_why: "no" })).toEqual({
        status: 400,
        body: { code: "P0001", message: "refused: no", details: "the detail", hint: "the hint" }
      })
      expect(yield* post("add_k", { p_nope: "x" })).toMatchObject({
        status: 404,
        body: { code: "PGRST202", hint: null }
      })
      expect(yield* post("absent", {})).toMatchObject({ status: 404, body: { code: "PGRST202" } })
      expect(yield* post("add_k", "[1]")).toMatchObject({ status: 400, body: { code: "PGRST102" } })
      expect(yield* post("add_k", { p_k: "x" }, { "Content-Profile": "elsewhere" })).toMatchObject({
        status: 406,
        body: { code: "PGRST106" }
      })
      expect(yield* post("add_k", { p_k: "y" }, { apikey: "wrong" })).toMatchObject({ status: 401 })
      // a failed call leaves nothing behind (its transaction is rolled back)
      expect((yield* post("keys", {})).body).toEqual([{ k: "dup" }])
    })
  )
})
