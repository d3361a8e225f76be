/**
 * A small stand-in for Supabase's REST gateway (Kong in front of PostgREST), enough for the
 * real `@supabase/supabase-js` client to call SQL functions on a real Postgres. Covered, as
 * PostgREST 12 behaves:
 * - `POST /rest/v1/rpc/<function>` with a JSON object of named arguments. The function is
 *   looked up in `pg_catalog` by schema, name and argument names (arguments with defaults may
 *   be left out); arguments are read with `json_to_record` typed by the function's signature,
 *   as PostgREST does, and the call runs in its own transaction.
 * - Schema switching with `Content-Profile` (POST) / `Accept-Profile`; a schema not exposed
 *   gives 406 `PGRST106`.
 * - Results: the function's JSON value with 200 (`null` for SQL null); set-returning functions
 *   as a JSON array; `void` functions 204.
 * - Errors in PostgREST's shape `{code, details, hint, message}`: a missing function 404
 *   `PGRST202`, a body that is not a JSON object 400 `PGRST102`, another verb 405 `PGRST101`,
 *   and database errors with PostgREST's SQLSTATE → status table (23505 and 23503 → 409,
 *   P0001 → 400, 42883 → 404, classes 08 and 53 → 503, classes 40, XX and the like → 500,
 *   anything else 400).
 * - The gateway's API key check: a request without the configured `apikey` gets 401.
 * Not covered: tables and views (`/rest/v1/<table>`), filters, `GET` calls of functions,
 * `Prefer` headers, count and range headers, JWT roles (`set role`) and the
 * `request.jwt.claims` settings: the stores use none of them.
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type { Pool } from "pg"

export interface PostgrestServerOptions {
  /** The real database, through a pool (one connection per concurrent request). */
  readonly pool: Pool
  /** Exposed schemas (PostgREST's `db-schemas`); the first is the default. */
  readonly schemas: ReadonlyArray<string>
  /** The key the gateway accepts in the `apikey` header. */
  readonly apiKey: string
}

export interface PostgrestServer {
  /** What `createClient` takes as the Supabase URL. */
  readonly url: string
  /** Requests answered so far, for tests that want to see traffic. */
  readonly requests: () => number
  readonly close: () => Promise<void>
}

interface PgError {
  readonly code?: string
  readonly message?: string
  readonly detail?: string
  readonly hint?: string
}

interface FunctionInfo {
  readonly argNames: ReadonlyArray<string>
  readonly argTypes: ReadonlyArray<string>
  readonly required: number
  readonly returnsSet: boolean
  readonly returnType: string
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  const text = body === undefined ? "" : JSON.stringify(body)
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text)
  })
  res.end(text)
}

const pgrstError = (code: string, message: string, details: string | null = null, hint: string | null = null) => ({
  code,
  details,
  hint,
  message
})

/** PostgREST's table from SQLSTATE to HTTP status. */
export const statusForSqlState = (code: string): number => {
  if (code === "23503" || code === "23505") return 409
  if (code === "25006") return 405
  if (code === "P0001") return 400
  if (code === "42883" || code === "42P01") return 404
  if (code === "42501") return 403
  if (code === "53400") return 500
  const cls = code.slice(0, 2)
  if (cls === "08" || cls === "53") return 503
  if (cls === "0L" || cls === "0P" || cls === "28") return 403
  if (cls === "54") return 413
  if (["09", "25", "2D", "38", "39", "3B", "40", "55", "57", "58", "F0", "HV", "XX", "P0"].includes(cls)) return 500
  return 400
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`

const lookup = async (pool: Pool, schema: string, name: string): Promise<ReadonlyArray<FunctionInfo>> => {
  const { rows } = await pool.query<{
    arg_names: Array<string> | null
    arg_types: Array<string>
    arg_modes: Array<string> | null
    nargs: number
    ndefaults: number
    returns_set: boolean
    return_type: string
  }>(
    `select p.proargnames as arg_names,
            array(select format_type(t, null) from unnest(p.proargtypes) as t) as arg_types,
            p.proargmodes::text[] as arg_modes,
            p.pronargs as nargs, p.pronargdefaults as ndefaults,
            p.proretset as returns_set, format_type(p.prorettype, null) as return_type
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = $1 and p.proname = $2 and p.prokind = 'f'`,
    [schema, name]
  )
  return rows
    .filter((r) => r.arg_modes === null || r.arg_modes.every((m) => m === "i"))
    .map((r) => ({
      argNames: (r.arg_names ?? []).slice(0, r.nargs),
      argTypes: r.arg_types,
      required: r.nargs - r.ndefaults,
      returnsSet: r.returns_set,
      returnType: r.return_type
    }))
}

const matches = (fn: FunctionInfo, keys: ReadonlyArray<string>) =>
  keys.every((k) => fn.argNames.includes(k)) && fn.argNames.slice(0, fn.required).every((n) => keys.includes(n))

const handleRpc = async (
  options: PostgrestServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
  name: string
): Promise<void> => {
  if (req.method !== "POST") {
    return send(res, 405, pgrstError("PGRST101", "Only GET and POST verbs are allowed"))
  }
  const profile = req.headers["content-profile"]
  const schema = typeof profile === "string" && profile !== "" ? profile : options.schemas[0]
  if (schema === undefined || !options.schemas.includes(schema)) {
    return send(
      res,
      406,
      pgrstError("PGRST106", `The schema must be one of the following: ${options.schemas.join(", ")}`, null, null)
    )
  }
  const text = await readBody(req)
  let args: Record<string, unknown>
  try {
    const parsed: unknown = text === "" ? {} : JSON.parse(text)
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object")
    args = parsed as Record<string, unknown>
  } catch {
    return send(res, 400, pgrstError("PGRST102", "Empty or invalid json"))
  }
  const keys = Object.keys(args).sort()
  const fn = (await lookup(options.pool, schema, name)).find((f) => matches(f, keys))
  if (fn === undefined) {
    const listed = keys.join(", ")
    return send(
      res,
      404,
      pgrstError(
        "PGRST202",
        `Could not find the function ${schema}.${name}(${listed}) in the schema cache`,
        `Searched for the function ${schema}.${name} with parameters ${listed} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
        null
      )
    )
  }
  const given = fn.argNames.filter((n) => keys.includes(n))
  const record = given.map((n) => `${quoteIdent(n)} ${fn.argTypes[fn.argNames.indexOf(n)]}`).join(", ")
  const call = `${quoteIdent(schema)}.${quoteIdent(name)}(${given.map((n) => `${quoteIdent(n)} := _.${quoteIdent(n)}`).join(", ")})`
  const source = given.length === 0 ? "" : `json_to_record($1::json) as _(${record})`
  const statement = fn.returnsSet
    ? `select coalesce(json_agg(_r), '[]'::json) as body from ${source === "" ? "" : `${source} cross join lateral `}${call} as _r`
    : `select to_json(${call}) as body${source === "" ? "" : ` from ${source}`}`
  const client = await options.pool.connect()
  try {
    await client.query("begin")
    await client.query("select set_config('search_path', $1, true)", [quoteIdent(schema)])
    const result = await client.query<{ body: unknown }>(statement, given.length === 0 ? [] : [JSON.stringify(args)])
    await client.query("commit")
    if (fn.returnType === "void") {
      res.writeHead(204)
      res.end()
      return
    }
    return send(res, 200, result.rows[0]?.body ?? null)
  } catch (e) {
    await client.query("rollback").catch(() => undefined)
    const err = e as PgError
    const code = err.code ?? "XX000"
    return send(
      res,
      statusForSqlState(code),
      pgrstError(code, err.message ?? "unknown error", err.detail ?? null, err.hint ?? null)
    )
  } finally {
    client.release()
  }
}

/** Starts the stand-in on a free local port. */
export const startPostgrestServer = async (options: PostgrestServerOptions): Promise<PostgrestServer> => {
  let served = 0
  const server = createServer((req, res) => {
    served++
    const url = new URL(req.url ?? "/", "http://localhost")
    if (req.headers.apikey !== options.apiKey) {
      return send(res, 401, { message: "Invalid API key" })
    }
    const match = /^\/rest\/v1\/rpc\/([A-Za-z0-9_]+)$/.exec(url.pathname)
    if (match?.[1] === undefined) {
      return send(res, 404, pgrstError("PGRST125", `Invalid path specified in request URL`))
    }
    handleRpc(options, req, res, match[1]).catch((e: unknown) => {
      if (!res.headersSent) send(res, 503, pgrstError("PGRST000", e instanceof Error ? e.message : String(e)))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
