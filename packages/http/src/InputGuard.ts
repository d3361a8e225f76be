/**
 * What every request's input must be before an endpoint sees it, checked once here for every
 * endpoint instead of per field:
 *
 * - text the store can keep: no U+0000 and no unpaired surrogate, in the path, the query string
 *   and the body (Postgres and PGlite refuse both, so they would reach the store as a fault);
 * - JSON bodies nested at most `MAX_JSON_DEPTH` levels (formatting the decode error of a deeper
 *   value recurses past the stack);
 * - a body in a content type the endpoint declares (415 otherwise).
 *
 * Which body to read and what the path's parameters are called come from the API definition,
 * so a new endpoint is covered without a line here. A failure names the field (or `body`).
 */
import { HttpApi, type HttpApiGroup, HttpMethod, type HttpServerError, type HttpServerRequest } from "@effect/platform"
import { firstUnstorableIn, isStorableText } from "@qwip/adapters"
import { Effect, Option } from "effect"
import { type ApiProblem, malformedJson, problem } from "./Problem.js"

/** Deeper than any body the API takes (two levels), far from what recursion can bear. */
const MAX_JSON_DEPTH = 64

const unstorable = (field: string) =>
  problem(400, "invalid_request", `${field}: must not contain NUL (U+0000) or unpaired surrogate characters`)

const unsupportedType = (accepted: ReadonlyArray<string>) =>
  problem(415, "unsupported_media_type", `body: send it as ${accepted.join(" or ")}`)

const tooDeep = () => problem(400, "invalid_request", `body: nests deeper than ${MAX_JSON_DEPTH} levels`)

/** A field's name for the detail, quoted and escaped when the name itself is the bad text. */
const nameOf = (key: string): string => (key.length > 0 && isStorableText(key) ? key : JSON.stringify(key))

/** Whether `text`'s arrays and objects nest deeper than `max`, read without parsing (or recursing). */
const nestsDeeperThan = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

const fieldOf = (path: ReadonlyArray<string>) => (path.length === 0 ? "body" : path.map(nameOf).join("."))

/** A JSON body: valid, bounded in depth, storable text throughout. */
const checkJsonBody = (text: string): Option.Option<ApiProblem> => {
  if (text.trim().length === 0) return Option.none()
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) return Option.some(tooDeep())
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return Option.some(malformedJson())
  }
  return Option.map(firstUnstorableIn(value), (path) => unstorable(fieldOf(path)))
}

/** A query string: each name and value storable, named by its parameter. */
const checkQuery = (params: URLSearchParams): Option.Option<ApiProblem> => {
  for (const [key, value] of params) {
    if (!isStorableText(key)) return Option.some(unstorable(`query parameter ${nameOf(key)}`))
    if (!isStorableText(value)) return Option.some(unstorable(key))
  }
  return Option.none()
}

const decodeSegment = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment // as the router leaves it
  }
}

interface Route {
  readonly method: string
  readonly segments: ReadonlyArray<string>
  /**
   * The content types of the body HttpApi decodes for the endpoint: the guard checks that body.
   * Empty when the endpoint reads its body itself (multipart, the webhook's raw body) or has none.
   */
  readonly bodyTypes: ReadonlyArray<string>
}

const matches = (route: Route, method: string, segments: ReadonlyArray<string>) =>
  route.method === method &&
  route.segments.length === segments.length &&
  route.segments.every((s, i) => s.startsWith(":") || s === segments[i])

/** Builds the guard for `api`'s endpoints: fails with the problem the request's input has, if any. */
export const makeInputGuard = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<Id, Groups, E, R>
) => {
  const routes: Array<Route> = []
  HttpApi.reflect(api, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint, payloads }) =>
      routes.push({
        method: endpoint.method,
        segments: endpoint.path.split("/"),
        bodyTypes:
          HttpMethod.hasBody(endpoint.method) && !payloads.has("multipart/form-data") ? [...payloads.keys()] : []
      })
  })

  const problemIn = (
    request: HttpServerRequest.HttpServerRequest
  ): Effect.Effect<Option.Option<ApiProblem>, HttpServerError.RequestError> =>
    Effect.gen(function* () {
      const q = request.url.indexOf("?")
      const segments = (q === -1 ? request.url : request.url.slice(0, q)).split("/")
      const route = routes.find((r) => matches(r, request.method, segments))
      for (const [i, segment] of segments.entries()) {
        if (isStorableText(decodeSegment(segment))) continue
        const param = route?.segments[i] ?? ""
        return Option.some(unstorable(param.startsWith(":") ? param.slice(1) : "path"))
      }
      const query = checkQuery(new URLSearchParams(q === -1 ? "" : request.url.slice(q + 1)))
      if (Option.isSome(query) || route === undefined || route.bodyTypes.length === 0) return query

      // No content type means JSON, as HttpApi reads it. HttpApi would also parse forms, text
      // and multipart for a JSON endpoint (and fail on multipart without a boundary): refused.
      const given = request.headers["content-type"]
      const type = given === undefined ? "application/json" : (given.split(";")[0] ?? "").trim().toLowerCase()
      if (!route.bodyTypes.includes(type)) return Option.some(unsupportedType(route.bodyTypes))
      return type === "application/json" ? checkJsonBody(yield* request.text) : Option.none()
    })

  return (
    request: HttpServerRequest.HttpServerRequest
  ): Effect.Effect<void, ApiProblem | HttpServerError.RequestError> =>
    Effect.flatMap(problemIn(request), Option.match({ onNone: () => Effect.void, onSome: Effect.fail }))
}
