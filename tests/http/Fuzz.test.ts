/**
 * Black-box fuzz on the embedded platform: for every operation `/openapi.json` lists, a fixed
 * set of hostile inputs (U+0000 and unpaired surrogates in every path, query and JSON field,
 * deep nesting, wrong types, arrays for objects, invalid JSON and UTF-8, empty bodies, other
 * content types, an oversized header and query string), plus malformed HTTP on the socket.
 * Every answer is below 500, every 4xx is the problem body, and the store is exactly as it was.
 */
import { connect } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { defaultHttpConfig } from "@qwip/http"
import { type Answer, book, type Client, eventually, sessionIdOf } from "@qwip/test-support/Client"
import { dataDir, serve } from "@qwip/test-support/Service"
import { Duration } from "effect"

const POD = "demo-pod"
const DEEP = 3000
const HUGE = 20_000

interface Parameter {
  readonly name: string
  readonly in: "path" | "query" | "header" | "cookie"
}
interface Operation {
  readonly parameters?: ReadonlyArray<Parameter>
  readonly requestBody?: {
    readonly content: Readonly<Record<string, { readonly schema?: { readonly properties?: Record<string, unknown> } }>>
  }
  readonly security?: ReadonlyArray<Readonly<Record<string, ReadonlyArray<string>>>>
}
interface Spec {
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>
}

interface Case {
  readonly label: string
  readonly method: string
  readonly path: string
  readonly headers?: Record<string, string>
  readonly raw?: string | Uint8Array | FormData
  /** The field a 400 must name: the case breaks only it. */
  readonly names?: string
}

const deepArray = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`
const json = { "content-type": "application/json" }
const invalidUtf8 = new Uint8Array([...Buffer.from('{"x":"'), 0xff, 0xfe, 0xc3, 0x28, ...Buffer.from('"}')])

/**
 * Hostile values for one field, as JSON text (a lone surrogate cannot be written otherwise),
 * and what the 400 must name: the field, or the body for a value too deep to look into.
 */
const hostileJsonValues: ReadonlyArray<readonly [string, string, "field" | "body"]> = [
  ["NUL", JSON.stringify("a\u0000b"), "field"],
  ["lone surrogate", '"a\\ud800b"', "field"],
  ["number", "42", "field"],
  ["boolean", "true", "field"],
  ["null", "null", "field"],
  ["object", '{"x":"y"}', "field"],
  ["array", '["a"]', "field"],
  ["deep nesting", deepArray(DEEP), "body"]
]

/** Hostile values for one URL parameter, percent-encoded, and whether the 400 must name it. */
const hostileUrlValues: ReadonlyArray<readonly [string, string, boolean]> = [
  ["NUL", "a%00b", true],
  ["invalid UTF-8", "a%FF%FEb", false],
  ["encoded lone surrogate", "a%ED%A0%80b", false],
  ["empty", "", false]
]

/** Every hostile request for one operation, with `good` values for the fields not under test. */
const casesFor = (
  method: string,
  template: string,
  operation: Operation,
  good: (name: string) => string,
  headers: Record<string, string>
): Array<Case> => {
  const parameters = operation.parameters ?? []
  const pathParams = parameters.filter((p) => p.in === "path").map((p) => p.name)
  const queryParams = parameters.filter((p) => p.in === "query").map((p) => p.name)
  const pathWith = (overrides: Record<string, string> = {}) =>
    template.replace(/\{([^}]+)\}/g, (_, name: string) => overrides[name] ?? encodeURIComponent(good(name)))
  const queryWith = (overrides: Record<string, string> = {}) =>
    queryParams.map((name) => `${name}=${overrides[name] ?? encodeURIComponent(good(name))}`).join("&")
  const url = (path: string, query: string) => (query.length > 0 ? `${path}?${query}` : path)
  const base = url(pathWith(), queryWith())
  const sep = base.includes("?") ? "&" : "?"
  const at = (label: string, path: string, extra: Partial<Case> = {}): Case => ({
    label,
    method,
    path,
    headers: { ...headers, ...extra.headers },
    ...(extra.raw === undefined ? {} : { raw: extra.raw }),
    ...(extra.names === undefined ? {} : { names: extra.names })
  })

  const cases: Array<Case> = []
  for (const name of pathParams) {
    for (const [kind, value, named] of hostileUrlValues) {
      if (value === "") continue
      cases.push(
        at(`path ${name}: ${kind}`, url(pathWith({ [name]: value }), queryWith()), named ? { names: name } : {})
      )
    }
  }
  for (const name of queryParams) {
    for (const [kind, value, named] of hostileUrlValues) {
      cases.push(
        at(`query ${name}: ${kind}`, url(pathWith(), queryWith({ [name]: value })), named ? { names: name } : {})
      )
    }
    cases.push(at(`query ${name}: repeated`, `${base}${sep}${name}=x`, { names: name }))
  }
  cases.push(
    at("unknown query parameter: NUL", `${base}${sep}zz=%00`, { names: "zz" }),
    at("query parameter name: NUL", `${base}${sep}z%00z=1`),
    at("huge query string", `${base}${sep}pad=${"q".repeat(HUGE)}`),
    at("huge header", base, { headers: { "x-pad": "h".repeat(HUGE) } })
  )
  if (method === "GET") return cases

  const properties = Object.keys(operation.requestBody?.content["application/json"]?.schema?.properties ?? {})
  const goodBody = Object.fromEntries(properties.map((p) => [p, good(p)]))
  const bodyWith = (name: string, valueJson: string) =>
    `{${[...properties.filter((p) => p !== name).map((p) => `${JSON.stringify(p)}:${JSON.stringify(goodBody[p])}`), `${JSON.stringify(name)}:${valueJson}`].join(",")}}`
  for (const name of properties) {
    for (const [kind, value, named] of hostileJsonValues) {
      const names = named === "field" ? name : "body"
      cases.push(at(`body ${name}: ${kind}`, base, { headers: json, raw: bodyWith(name, value), names }))
    }
    cases.push(
      at(`form ${name}: NUL`, base, {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        raw: new URLSearchParams({ ...goodBody, [name]: "a\u0000b" }).toString()
      })
    )
  }
  const form = new FormData()
  form.append("photo", new Blob([new Uint8Array([0, 1, 2, 3])], { type: "image/png" }), "a\u0000b.png")
  const nulField = new FormData()
  nulField.append("ph\u0000oto", new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: "image/png" }), "p.png")
  cases.push(
    at("body: deep array", base, { headers: json, raw: deepArray(DEEP) }),
    at("body: deep object", base, { headers: json, raw: deepObject(DEEP) }),
    // Bytes, so that fetch sends no content type (HttpApi then reads JSON).
    at("body: deep, no content type", base, { raw: new TextEncoder().encode(deepArray(DEEP)) }),
    at("body: array for object", base, { headers: json, raw: JSON.stringify([goodBody]) }),
    at("body: string", base, { headers: json, raw: '"a\\u0000b"' }),
    at("body: null", base, { headers: json, raw: "null" }),
    at("body: number", base, { headers: json, raw: "42" }),
    at("body: key with NUL", base, { headers: json, raw: JSON.stringify({ ...goodBody, "a\u0000b": 1 }) }),
    at("body: invalid JSON", base, { headers: json, raw: '{"a":' }),
    at("body: invalid UTF-8", base, { headers: json, raw: invalidUtf8 }),
    at("body: empty JSON", base, { headers: json, raw: "" }),
    at("body: text/plain", base, { headers: { "content-type": "text/plain" }, raw: "a\u0000b" }),
    at("body: octet-stream", base, { headers: { "content-type": "application/octet-stream" }, raw: invalidUtf8 }),
    at("body: unknown content type", base, { headers: { "content-type": "application/x-qwip" }, raw: "{}" }),
    at("body: multipart without boundary", base, { headers: { "content-type": "multipart/form-data" }, raw: "--x--" }),
    at("body: multipart, NUL file name, not an image", base, { raw: form }),
    at("body: multipart, NUL field name", base, { raw: nulField })
  )
  return cases
}

/** Sends `bytes` on a fresh connection and reads the answer until the server closes it. */
const rawExchange = (port: number, bytes: string) =>
  new Promise<{ readonly status: number; readonly body: string }>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(bytes))
    const chunks: Array<Buffer> = []
    socket.on("data", (c) => chunks.push(c))
    socket.on("error", reject)
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      const [head = "", body = ""] = text.split("\r\n\r\n")
      resolve({ status: Number(head.split(" ")[1]), body })
    })
  })

/** Every table's row count and a digest of its rows. */
const snapshot = async (query: <A>(text: string) => Promise<Array<A>>) => {
  const tables = await query<{ name: string }>(
    "select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1"
  )
  const out: Record<string, string> = {}
  for (const { name } of tables) {
    const [row] = await query<{ rows: number; digest: string }>(
      `select count(*)::int as rows, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from "${name}" t`
    )
    out[name] = `${row?.rows} rows, ${row?.digest}`
  }
  return out
}

const isProblem = (a: Answer) =>
  typeof a.body === "object" &&
  a.body !== null &&
  typeof a.body.error === "string" &&
  typeof a.body.detail === "string" &&
  a.body.detail.length > 0

describe("fuzz: hostile input to every endpoint", () => {
  it("no 5xx, every 4xx a problem body, nothing in the store changed", { timeout: 120_000 }, async () => {
    const unlimited = { limit: 1_000_000, window: Duration.minutes(1) }
    const { api, query, service } = await serve(
      { QWIP_DATA_DIR: dataDir() },
      {
        config: {
          worker: { ...defaultHttpConfig.worker, interval: Duration.millis(25), overdueInterval: Duration.hours(1) },
          rateLimits: { setupIntent: unlimited, sessionLookup: unlimited, general: unlimited }
        }
      }
    )

    // State worth attacking: an ended session (its token reads, but ends or uploads nothing
    // more) and a card set-up that is not confirmed (finalize refuses it).
    const ended = await book(api, POD)
    await eventually(
      () => api.get("/api/provisioning-status", { token: ended.sessionToken }),
      (a) => a.body.status === "ready"
    )
    expect((await api.post("/api/end-session", { token: ended.sessionToken })).status).toBe(200)
    const setup = await api.post("/api/setup-intent", { body: { pod_id: POD } })
    const pendingSetupIntent = String(setup.body.client_secret).split("_secret_")[0] as string
    await eventually(
      () =>
        query<{ due: number }>(
          "select count(*)::int as due from background_work where status = 'pending' and run_at <= now()"
        ),
      (rows) => rows[0]?.due === 0
    )
    const before = await snapshot(query)

    const goodValues: Record<string, string> = {
      pod_id: POD,
      device_id: "device-1",
      session_id: sessionIdOf(ended.sessionToken),
      expires: "9999999999",
      signature: "not-a-signature",
      id: pendingSetupIntent,
      card_number: "4242424242424242",
      email: "ada@example.com"
    }
    const good = (name: string) => goodValues[name] ?? "x"
    const tokens: Record<string, string> = {
      sessionToken: ended.sessionToken,
      provisioningToken: setup.body.provisioning_jwt_token
    }

    const spec = (await api.get("/openapi.json")).body as Spec
    const failures: Array<string> = []
    const sentPerOperation: Record<string, number> = {}
    let sent = 0
    const check = (label: string, a: Answer | { status: number; body: unknown }, names?: string) => {
      sent++
      if (a.status >= 500) failures.push(`${label}: ${a.status} ${JSON.stringify(a.body)}`)
      else if (a.status >= 400 && !isProblem(a as Answer)) failures.push(`${label}: ${a.status} without a problem body`)
      else if (names !== undefined && (a.status !== 400 || !(a as Answer).body.detail.startsWith(`${names}:`))) {
        failures.push(`${label}: ${a.status} ${JSON.stringify(a.body)} does not name ${names}`)
      }
    }

    const attack = async (client: Client, cases: ReadonlyArray<Case>, operation: string) => {
      for (const c of cases) {
        const answer = await client.send(c.method, c.path, {
          ...(c.headers === undefined ? {} : { headers: c.headers }),
          ...(c.raw === undefined ? {} : { raw: c.raw })
        })
        check(`${operation} ${c.label}`, answer, c.names)
        sentPerOperation[operation] = (sentPerOperation[operation] ?? 0) + 1
      }
    }

    for (const [template, operations] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const name = `${method.toUpperCase()} ${template}`
        const schemes = (operation.security ?? []).flatMap((s) => Object.keys(s))
        const variants: Array<Record<string, string>> = [{}]
        for (const scheme of schemes) {
          const token = tokens[scheme]
          if (token === undefined) throw new Error(`no token for ${scheme}`)
          variants.push({ authorization: `Bearer ${token}` })
        }
        if (template === "/webhook/stripe") variants.push({ "stripe-signature": "t=1,v1=00" })
        for (const headers of variants) {
          await attack(api, casesFor(method.toUpperCase(), template, operation, good, headers), name)
        }
      }
    }

    // What Node's parser refuses before there is a request.
    for (const [label, bytes] of [
      ["NUL in a header value", "GET /api/pods HTTP/1.1\r\nHost: x\r\nX-Pad: a\u0000b\r\n\r\n"],
      ["malformed request line", "GET /api/pods HTTP/9\r\n\r\n"],
      ["header without a colon", "GET /api/pods HTTP/1.1\r\nHost x\r\n\r\n"],
      ["huge header", `GET /api/pods HTTP/1.1\r\nHost: x\r\nX-Pad: ${"h".repeat(HUGE)}\r\n\r\n`]
    ] as const) {
      const answer = await rawExchange(service.port, bytes)
      let body: unknown = answer.body
      try {
        body = JSON.parse(answer.body)
      } catch {
        // not JSON: reported below
      }
      check(`socket: ${label}`, { status: answer.status, body })
    }

    expect(failures).toEqual([])
    expect(await snapshot(query)).toEqual(before)
    const operations = Object.entries(spec.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)
    )
    expect(operations.length).toBeGreaterThan(15)
    expect(Object.keys(sentPerOperation).sort()).toEqual(operations.sort())
    console.info(`fuzz: ${sent} requests over ${operations.length} operations`)
  })
})
