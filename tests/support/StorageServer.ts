/**
 * A small stand-in for Supabase Storage's HTTP API (`/storage/v1`), enough for the real
 * `@supabase/supabase-js` client's `storage` calls the checkout-photo adapter makes. Objects
 * are kept in memory. Covered, as Storage answers:
 * - Authentication: every request but the signed and public reads needs
 *   `Authorization: Bearer <service role key>`; anything else is refused as Storage refuses a
 *   JWT it cannot verify (`AccessDenied`). Only the service role key is known: no anon key,
 *   no row-level security.
 * - Buckets: `GET /bucket/<id>` (the bucket's row: `id, name, owner, public, created_at,
 *   updated_at, file_size_limit, allowed_mime_types`) and `POST /bucket` (`{id, name, public,
 *   file_size_limit, allowed_mime_types}` → `{name}`; numeric size limits only).
 * - Uploads: `POST /object/<bucket>/<path>` (insert; upsert with `x-upsert: true`) and `PUT`
 *   (always upsert) with the raw bytes as body and their `Content-Type` → `{Id, Key}`. The
 *   bucket's size limit and media types (exact or `type/*`) are enforced.
 * - `POST /object/list/<bucket>` `{prefix, limit, offset, sortBy, search}`: the folder's direct
 *   children, names relative to the prefix, folders with null `id` and `metadata`; `search` is
 *   a case-insensitive name prefix; sorted by `name`, `created_at` or `updated_at`.
 * - `DELETE /object/<bucket>` `{prefixes}` → the removed objects.
 * - `POST /object/sign/<bucket>/<path>` `{expiresIn}` (whole seconds, at least 1) →
 *   `{signedURL: "/object/sign/<bucket>/<path>?token=<jwt>"}`, the token an HS256 JWT of
 *   `{url, scope: "download", iat, exp}`.
 * - `GET /object/sign/<bucket>/<path>?token=`: no key needed; serves the bytes with their
 *   content type while the token is genuine, current and for that path; otherwise `InvalidJWT`
 *   (forged or expired: `"exp" claim timestamp check failed`) or `InvalidSignature`.
 * - `GET /object/public/<bucket>/<path>`: serves only from a public bucket; a private one
 *   answers `Bucket not found`, as Storage does.
 * - Errors in Storage's shape `{statusCode, code, error, message}`, sent with HTTP 400 (the
 *   logical status is in `statusCode`, e.g. `"404"` for a missing bucket or object), as Storage
 *   does by default; an unknown route is a 404.
 * Not covered: multipart (FormData/Blob) uploads, `x-metadata`, object versions, image
 * transforms, `download`, ranges, bucket update/delete/empty/list-all, move/copy, object info,
 * `list-v2`, signed uploads, authenticated object reads (`GET /object/<bucket>/<path>`), anon
 * keys and RLS, TUS and the S3 protocol.
 *
 * The server has its own clock (`advance`), so tests can expire signed URLs without waiting.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface StorageServerOptions {
  /** The service role key: the only bearer token accepted. */
  readonly serviceKey: string
  /** Buckets present at start. */
  readonly buckets?: ReadonlyArray<{ readonly id: string; readonly public: boolean }>
}

export interface StoredObject {
  readonly bucket: string
  /** The full path inside the bucket, e.g. `<session id>/checkout.jpg`. */
  readonly name: string
  readonly bytes: Uint8Array
  readonly contentType: string
}

export interface BucketRow {
  readonly id: string
  readonly name: string
  readonly owner: string
  readonly public: boolean
  readonly file_size_limit: number | null
  readonly allowed_mime_types: ReadonlyArray<string> | null
  readonly created_at: string
  readonly updated_at: string
}

export interface StorageServer {
  /** What `createClient` takes as the Supabase URL. */
  readonly url: string
  readonly bucket: (id: string) => BucketRow | undefined
  /** The bucket's objects, sorted by name. */
  readonly objects: (bucket: string) => ReadonlyArray<StoredObject>
  /** Puts an object directly (as if uploaded earlier), e.g. one the old service left. */
  readonly putObject: (object: StoredObject) => void
  /** Moves the server's clock on (signed URLs expire by it). */
  readonly advance: (millis: number) => void
  readonly close: () => Promise<void>
}

interface ObjectRecord {
  readonly id: string
  readonly bytes: Uint8Array
  readonly contentType: string
  readonly cacheControl: string
  readonly eTag: string
  readonly createdAt: string
  readonly updatedAt: string
}

class StorageFailure extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly error: string = code
  ) {
    super(message)
  }
}

const failures = {
  noSuchBucket: () => new StorageFailure(404, "NoSuchBucket", "Bucket not found", "Bucket not found"),
  noSuchKey: () => new StorageFailure(404, "NoSuchKey", "Object not found", "not_found"),
  accessDenied: (message: string) => new StorageFailure(403, "AccessDenied", message, "Unauthorized"),
  invalidJwt: (message: string) => new StorageFailure(400, "InvalidJWT", message),
  invalidSignature: (message = "Invalid signature") => new StorageFailure(400, "InvalidSignature", message),
  invalidRequest: (message: string) => new StorageFailure(400, "InvalidRequest", message, "Bad Request"),
  duplicate: (code: string) => new StorageFailure(409, code, "The resource already exists", "Duplicate"),
  tooLarge: () =>
    new StorageFailure(413, "EntityTooLarge", "The object exceeded the maximum allowed size", "Payload too large"),
  mimeType: (type: string) =>
    new StorageFailure(415, "InvalidMimeType", `mime type ${type} is not supported`, "invalid_mime_type")
}

const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text)
  })
  res.end(text)
}

const sendFailure = (res: ServerResponse, f: StorageFailure) =>
  sendJson(res, 400, { statusCode: String(f.statusCode), code: f.code, error: f.error, message: f.message })

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks)))
    req.on("error", reject)
  })

const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
  const text = (await readBody(req)).toString("utf8")
  try {
    const value: unknown = text === "" ? {} : JSON.parse(text)
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>
  } catch {
    // answered below
  }
  throw failures.invalidRequest("body must be a JSON object")
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString("base64url")

export const startStorageServer = async (options: StorageServerOptions): Promise<StorageServer> => {
  const signingKey = randomBytes(32)
  let offsetMillis = 0
  const now = () => Date.now() + offsetMillis
  const iso = () => new Date(now()).toISOString()

  const buckets = new Map<string, BucketRow>()
  const objects = new Map<string, Map<string, ObjectRecord>>()
  const addBucket = (row: BucketRow) => {
    buckets.set(row.id, row)
    objects.set(row.id, new Map())
  }
  for (const b of options.buckets ?? []) {
    addBucket({
      id: b.id,
      name: b.id,
      owner: "",
      public: b.public,
      file_size_limit: null,
      allowed_mime_types: null,
      created_at: iso(),
      updated_at: iso()
    })
  }

  const bucketOf = (id: string) => {
    const found = objects.get(id)
    if (found === undefined) throw failures.noSuchBucket()
    return found
  }
  const objectOf = (bucket: string, name: string) => {
    const found = objects.get(bucket)?.get(name)
    if (found === undefined) throw failures.noSuchKey()
    return found
  }

  const store = (bucket: string, name: string, bytes: Uint8Array, contentType: string, cacheControl: string) => {
    const files = bucketOf(bucket)
    const previous = files.get(name)
    const record: ObjectRecord = {
      id: previous?.id ?? randomUUID(),
      bytes,
      contentType,
      cacheControl,
      eTag: `"${createHash("md5").update(bytes).digest("hex")}"`,
      createdAt: previous?.createdAt ?? iso(),
      updatedAt: iso()
    }
    files.set(name, record)
    return record
  }

  const metadataOf = (o: ObjectRecord) => ({
    eTag: o.eTag,
    size: o.bytes.length,
    mimetype: o.contentType,
    cacheControl: o.cacheControl,
    lastModified: o.updatedAt,
    contentLength: o.bytes.length,
    httpStatusCode: 200
  })

  const fileObject = (name: string, o: ObjectRecord) => ({
    name,
    id: o.id,
    updated_at: o.updatedAt,
    created_at: o.createdAt,
    last_accessed_at: o.updatedAt,
    metadata: metadataOf(o)
  })

  // --- Signed URLs (HS256 JWTs, as Storage signs them) ------------------------------------------

  const hmac = (data: string) => createHmac("sha256", signingKey).update(data).digest()

  const signToken = (url: string, expiresIn: number) => {
    const iat = Math.floor(now() / 1000)
    const head = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))
    const body = base64url(JSON.stringify({ url, scope: "download", iat, exp: iat + expiresIn }))
    return `${head}.${body}.${base64url(hmac(`${head}.${body}`))}`
  }

  const verifyToken = (token: string): { readonly url: string; readonly scope: string } => {
    const [head, body, signature, ...rest] = token.split(".")
    if (head === undefined || body === undefined || signature === undefined || rest.length > 0) {
      throw failures.invalidJwt("Invalid Compact JWS")
    }
    const given = Buffer.from(signature, "base64url")
    const expected = hmac(`${head}.${body}`)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw failures.invalidJwt("signature verification failed")
    }
    const claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as {
      url: string
      scope: string
      exp: number
    }
    if (claims.exp <= Math.floor(now() / 1000)) throw failures.invalidJwt('"exp" claim timestamp check failed')
    return claims
  }

  // --- Routes -----------------------------------------------------------------------------------

  const requireServiceKey = (req: IncomingMessage) => {
    const token = (req.headers.authorization ?? "").replace(/^Bearer\s+/i, "")
    if (token === "") throw failures.accessDenied("Invalid Compact JWS")
    const given = Buffer.from(token)
    const expected = Buffer.from(options.serviceKey)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw failures.accessDenied("signature verification failed")
    }
  }

  const serveObject = (res: ServerResponse, o: ObjectRecord) => {
    res.writeHead(200, {
      "Content-Type": o.contentType,
      "Content-Length": o.bytes.length,
      "Cache-Control": o.cacheControl,
      ETag: o.eTag,
      "Last-Modified": new Date(o.updatedAt).toUTCString()
    })
    res.end(Buffer.from(o.bytes))
  }

  const createBucket = (body: Record<string, unknown>) => {
    const name = body.name
    if (typeof name !== "string" || name === "")
      throw failures.invalidRequest("body must have required property 'name'")
    const id = typeof body.id === "string" && body.id !== "" ? body.id : name
    if (buckets.has(id)) throw failures.duplicate("BucketAlreadyExists")
    const limit = body.file_size_limit
    if (limit !== undefined && limit !== null && typeof limit !== "number") {
      throw failures.invalidRequest("this stand-in takes file_size_limit in bytes only")
    }
    const types = body.allowed_mime_types
    addBucket({
      id,
      name,
      owner: "",
      public: body.public === true,
      file_size_limit: typeof limit === "number" ? limit : null,
      allowed_mime_types: Array.isArray(types)
        ? types.filter((t): t is string => typeof t === "string" && t !== "")
        : null,
      created_at: iso(),
      updated_at: iso()
    })
    return { name }
  }

  const upload = async (req: IncomingMessage, bucketId: string, name: string, upsert: boolean) => {
    const files = bucketOf(bucketId)
    const row = buckets.get(bucketId)
    const contentType = req.headers["content-type"] ?? "application/octet-stream"
    if (contentType.toLowerCase().startsWith("multipart/form-data")) {
      throw failures.invalidRequest("this stand-in takes the raw bytes as the body, not multipart")
    }
    const bytes = new Uint8Array(await readBody(req))
    const allowed = row?.allowed_mime_types
    const mediaType = contentType.split(";")[0]?.trim().toLowerCase() ?? ""
    if (
      allowed !== null &&
      allowed !== undefined &&
      allowed.length > 0 &&
      !allowed.some((t) => t === mediaType || (t.endsWith("/*") && mediaType.startsWith(t.slice(0, -1))))
    ) {
      throw failures.mimeType(contentType)
    }
    if (row?.file_size_limit !== null && row?.file_size_limit !== undefined && bytes.length > row.file_size_limit) {
      throw failures.tooLarge()
    }
    if (!upsert && files.has(name)) throw failures.duplicate("KeyAlreadyExists")
    const cacheControl = String(req.headers["cache-control"] ?? "no-cache")
    const record = store(bucketId, name, bytes, contentType, cacheControl)
    return { Id: record.id, Key: `${bucketId}/${name}` }
  }

  const list = (bucketId: string, body: Record<string, unknown>) => {
    const files = objects.get(bucketId) ?? new Map<string, ObjectRecord>()
    let prefix = typeof body.prefix === "string" ? body.prefix : ""
    if (prefix !== "" && !prefix.endsWith("/")) prefix = `${prefix}/`
    const search = (typeof body.search === "string" ? body.search : "").toLowerCase()
    const limit = typeof body.limit === "number" ? body.limit : 100
    const offset = typeof body.offset === "number" ? body.offset : 0
    const sortBy = (body.sortBy ?? {}) as { column?: unknown; order?: unknown }
    const column = sortBy.column === "created_at" || sortBy.column === "updated_at" ? sortBy.column : "name"
    const descending = sortBy.order === "desc"

    const folders = new Set<string>()
    const entries: Array<ReturnType<typeof fileObject>> = []
    for (const [name, o] of files) {
      if (!name.startsWith(prefix)) continue
      const rest = name.slice(prefix.length)
      if (!rest.toLowerCase().startsWith(search)) continue
      const slash = rest.indexOf("/")
      if (slash >= 0) folders.add(rest.slice(0, slash))
      else entries.push(fileObject(rest, o))
    }
    const folderRows = [...folders].map((name) => ({
      name,
      id: null,
      updated_at: null,
      created_at: null,
      last_accessed_at: null,
      metadata: null
    }))
    const key = (row: { name: string; created_at: string | null; updated_at: string | null }) =>
      column === "name" ? row.name.toLowerCase() : (row[column] ?? "")
    const rows = [...folderRows, ...entries].sort((a, b) => {
      const order = key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0
      return descending ? -order : order
    })
    return rows.slice(offset, offset + limit)
  }

  const remove = (bucketId: string, body: Record<string, unknown>) => {
    const files = bucketOf(bucketId)
    const prefixes = body.prefixes
    if (!Array.isArray(prefixes)) throw failures.invalidRequest("body must have required property 'prefixes'")
    const removed = []
    for (const name of prefixes) {
      const o = typeof name === "string" ? files.get(name) : undefined
      if (typeof name !== "string" || o === undefined) continue
      files.delete(name)
      removed.push({ ...fileObject(name, o), bucket_id: bucketId, owner: "" })
    }
    return removed
  }

  const sign = (bucketId: string, name: string, body: Record<string, unknown>) => {
    const expiresIn = body.expiresIn
    if (typeof expiresIn !== "number" || !Number.isInteger(expiresIn) || expiresIn < 1) {
      throw failures.invalidRequest("body/expiresIn must be an integer >= 1")
    }
    objectOf(bucketId, name)
    const url = `${bucketId}/${name}`
    return { signedURL: `/object/sign/${url}?token=${signToken(url, expiresIn)}` }
  }

  const readSigned = (res: ServerResponse, bucketId: string, name: string, token: string | null) => {
    if (token === null || token === "") throw failures.invalidRequest("querystring must have required property 'token'")
    const claims = verifyToken(token)
    if (claims.scope !== "download") throw failures.invalidSignature("Token is not scoped for download")
    if (claims.url !== `${bucketId}/${name}`) throw failures.invalidSignature()
    serveObject(res, objectOf(bucketId, name))
  }

  const readPublic = (res: ServerResponse, bucketId: string, name: string) => {
    if (buckets.get(bucketId)?.public !== true) throw failures.noSuchBucket()
    serveObject(res, objectOf(bucketId, name))
  }

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://storage.local")
    const method = req.method ?? "GET"
    const notFound = () =>
      sendJson(res, 404, {
        statusCode: "404",
        error: "Not Found",
        message: `Route ${method}:${url.pathname} not found`
      })
    if (!url.pathname.startsWith("/storage/v1/")) return notFound()
    const parts = url.pathname.slice("/storage/v1/".length).split("/").map(decodeURIComponent)
    const [area, second, third, ...rest] = parts
    const pathFrom = (segments: ReadonlyArray<string>) => segments.join("/")

    // reads by link: no key
    if (method === "GET" && area === "object" && (second === "sign" || second === "public") && third && rest.length) {
      return second === "sign"
        ? readSigned(res, third, pathFrom(rest), url.searchParams.get("token"))
        : readPublic(res, third, pathFrom(rest))
    }

    requireServiceKey(req)
    if (area === "bucket") {
      if (method === "GET" && second && third === undefined) {
        const row = buckets.get(second)
        if (row === undefined) throw failures.noSuchBucket()
        return sendJson(res, 200, row)
      }
      if (method === "POST" && (second === undefined || second === "")) {
        return sendJson(res, 200, createBucket(await readJson(req)))
      }
      return notFound()
    }
    if (area === "object" && second) {
      if (method === "POST" && second === "list" && third && rest.length === 0) {
        return sendJson(res, 200, list(third, await readJson(req)))
      }
      if (method === "POST" && second === "sign" && third && rest.length) {
        return sendJson(res, 200, sign(third, pathFrom(rest), await readJson(req)))
      }
      if (method === "DELETE" && third === undefined) {
        return sendJson(res, 200, remove(second, await readJson(req)))
      }
      if ((method === "POST" || method === "PUT") && third) {
        const upsert = method === "PUT" || req.headers["x-upsert"] === "true"
        return sendJson(res, 200, await upload(req, second, pathFrom([third, ...rest]), upsert))
      }
    }
    return notFound()
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (e instanceof StorageFailure) return sendFailure(res, e)
      sendJson(res, 500, { statusCode: "500", code: "InternalError", error: "Internal", message: String(e) })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    bucket: (id) => buckets.get(id),
    objects: (bucket) =>
      [...(objects.get(bucket) ?? new Map<string, ObjectRecord>())]
        .map(([name, o]) => ({ bucket, name, bytes: o.bytes, contentType: o.contentType }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    putObject: (o) => {
      store(o.bucket, o.name, o.bytes, o.contentType, "max-age=3600")
    },
    advance: (millis) => {
      offsetMillis += millis
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve()
        server.closeAllConnections()
        server.close((e) => (e ? reject(e) : resolve()))
      })
  }
}
