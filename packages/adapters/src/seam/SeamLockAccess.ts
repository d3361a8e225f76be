/**
 * `LockAccess` over Seam: time-bound door codes on each pod's smart lock.
 *
 * Each SDK call is wrapped once (`Seam.<op>` span) and its failure mapped to the port's errors:
 * what a retry can fix (5xx, network, timeouts, rate limits) is `LockUnavailable`; what needs a
 * person (credentials, unknown device, a lock that cannot take codes) is `LockRejected`.
 * Waiting for a code to become `set` is the core's job (its policy bounds it), not this adapter's;
 * what a code may be on each lock is `CodeRules`'.
 */
import {
  AccessCode,
  LockAccess,
  type LockAccessShape,
  type LockCode,
  type LockError,
  LockRejected,
  LockUnavailable
} from "@qwip/core"
import {
  isApiKey,
  isSeamActionAttemptFailedError,
  isSeamActionAttemptTimeoutError,
  isSeamHttpApiError,
  type AccessCode as SeamAccessCode,
  SeamHttp,
  type UnmanagedAccessCode
} from "@seamapi/http"
import { Clock, Config, type ConfigError, Data, Effect, Either, Layer, Option, Redacted, Schema } from "effect"
import {
  codeLengthFor,
  codeNameFor,
  codeRulesFor,
  constraintsOf,
  DEFAULT_CODE_LENGTH,
  LOCK_CHOOSES_DIGITS,
  lockCodeStatus,
  pickCode
} from "./CodeRules.js"

export interface SeamLockAccessOptions {
  readonly apiKey: Redacted.Redacted<string>
  /** Seam's API origin; the SDK's default (Seam's cloud) when absent, a local fake in tests. */
  readonly endpoint?: string | undefined
  /** One HTTP attempt, in milliseconds: the policy's `outsideCallDeadline`. Default 10 000. */
  readonly timeoutMs?: number | undefined
}

/** One HTTP attempt; the SDK retries idempotent reads twice on network errors and 5xx. */
const REQUEST_TIMEOUT_MS = 10_000

/**
 * Why a Seam call failed. Holds text, never the SDK's error: that carries the request config,
 * whose headers hold the API key.
 */
class SeamCallFailed extends Data.TaggedError("SeamCallFailed")<{
  readonly status: number | undefined
  readonly code: string | undefined
  readonly detail: string
}> {}

interface AxiosLikeError {
  readonly isAxiosError: true
  readonly code?: string
  readonly message: string
  readonly response?: { readonly status?: number }
}

const isAxiosLike = (error: unknown): error is AxiosLikeError =>
  typeof error === "object" && error !== null && (error as { isAxiosError?: unknown }).isAxiosError === true

const describeFailure = (error: unknown): SeamCallFailed => {
  if (isSeamHttpApiError(error)) {
    const request = error.requestId === "" ? "" : `, request ${error.requestId}`
    return new SeamCallFailed({
      status: error.statusCode,
      code: error.code,
      detail: `${error.message} (Seam ${error.code}, HTTP ${error.statusCode}${request})`
    })
  }
  if (isSeamActionAttemptFailedError(error)) {
    return new SeamCallFailed({ status: undefined, code: error.code, detail: `Seam's action failed: ${error.message}` })
  }
  if (isSeamActionAttemptTimeoutError(error)) {
    return new SeamCallFailed({ status: undefined, code: undefined, detail: "Seam's action did not finish in time" })
  }
  if (isAxiosLike(error)) {
    const status = error.response?.status
    return new SeamCallFailed({
      status,
      code: error.code,
      detail: status === undefined ? `no answer from Seam (${error.code ?? error.message})` : `HTTP ${status} from Seam`
    })
  }
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return new SeamCallFailed({ status: undefined, code: undefined, detail })
}

/** Statuses a later retry can get past: timeouts, conflicts with a concurrent change, rate limits. */
const RETRY_LATER = new Set([408, 409, 423, 425, 429])

const lockErrorFor =
  (deviceId: string, doing: string) =>
  (failure: SeamCallFailed): LockError => {
    const status = failure.status
    if (status === 401 || status === 403) {
      return new LockRejected({
        deviceId,
        reason: `Seam refused Qwip's API key while trying to ${doing} (HTTP ${status}); check SEAM_API_KEY and its workspace`
      })
    }
    if (status === 404 && failure.code === "device_not_found") {
      return new LockRejected({
        deviceId,
        reason: "Seam has no lock with this id in Qwip's workspace; check the pod's lock device id"
      })
    }
    if (status === undefined || status >= 500 || RETRY_LATER.has(status)) {
      return new LockUnavailable({ deviceId, reason: `could not ${doing}: ${failure.detail}` })
    }
    return new LockRejected({ deviceId, reason: `Seam refused to ${doing}: ${failure.detail}` })
  }

/** Seam's answer when an access code id names no code (any more). */
const isCodeMissing = (failure: SeamCallFailed): boolean =>
  failure.status === 404 && (failure.code === "access_code_not_found" || failure.code === "not_found")

interface Page {
  readonly fetchResponse: () => Promise<unknown>
}
interface Pageable extends Page {
  readonly withPageCursor: (cursor?: string) => Page
}

/** Some locks hold hundreds of codes; this bounds a list that would never end. */
const MAX_PAGES = 50

/** Every item of a paginated Seam list. Older Seam deployments answer without `pagination`. */
const allPages = async <A>(request: Pageable, key: string): Promise<ReadonlyArray<A>> => {
  const items: Array<A> = []
  let page: Page = request
  for (let i = 0; i < MAX_PAGES; i++) {
    const body = await page.fetchResponse()
    const fields = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>
    const list = fields[key]
    if (!Array.isArray(list)) throw new Error(`Seam's answer has no "${key}" list`)
    items.push(...(list as Array<A>))
    const pagination = fields.pagination as { has_next_page?: unknown; next_page_cursor?: unknown } | undefined
    const cursor = pagination?.next_page_cursor
    if (pagination?.has_next_page !== true || typeof cursor !== "string") return items
    page = request.withPageCursor(cursor)
  }
  throw new Error(`Seam's "${key}" list ran past ${MAX_PAGES} pages`)
}

const makeClient = (options: SeamLockAccessOptions) =>
  Effect.try({
    try: () =>
      new SeamHttp({
        apiKey: Redacted.value(options.apiKey),
        timeout: options.timeoutMs ?? REQUEST_TIMEOUT_MS,
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint })
      }),
    // The SDK rejects a malformed key at construction; its message names the format, not the key.
    catch: (error) => new Error(`cannot build the Seam client: ${describeFailure(error).detail}`)
  }).pipe(Effect.orDie)

// --- The port ----------------------------------------------------------------------------------

export const makeSeamLockAccess = (options: SeamLockAccessOptions): Effect.Effect<LockAccessShape> =>
  Effect.gen(function* () {
    const seam = yield* makeClient(options)

    const call = <A>(op: string, attributes: Record<string, string>, run: () => PromiseLike<A>) =>
      Effect.tryPromise({ try: async () => await run(), catch: describeFailure }).pipe(
        Effect.withSpan(`Seam.${op}`, { attributes })
      )

    const getDevice = (deviceId: string) =>
      call("getDevice", { deviceId }, () => seam.devices.get({ device_id: deviceId }))

    // Filtered here as well: a Seam list is the workspace's business, the lock is ours.
    const listCodes = (deviceId: string) =>
      call("listAccessCodes", { deviceId }, () =>
        allPages<SeamAccessCode>(seam.accessCodes.list({ device_id: deviceId }), "access_codes")
      ).pipe(Effect.map((codes) => codes.filter((c) => c.device_id === deviceId)))

    const listUnmanagedCodes = (deviceId: string) =>
      call("listUnmanagedAccessCodes", { deviceId }, () =>
        allPages<UnmanagedAccessCode>(seam.accessCodes.unmanaged.list({ device_id: deviceId }), "access_codes")
      ).pipe(Effect.map((codes) => codes.filter((c) => c.device_id === deviceId)))

    const getCode = (ref: string) =>
      call("getAccessCode", { accessCodeId: ref }, () => seam.accessCodes.get({ access_code_id: ref })).pipe(
        Effect.map(Option.some),
        Effect.catchIf(isCodeMissing, () => Effect.succeed(Option.none<SeamAccessCode>()))
      )

    const toLockCode = (deviceId: string, code: SeamAccessCode): Effect.Effect<LockCode, LockError> => {
      const ref = code.access_code_id
      if (code.code === null) {
        return Effect.fail(
          new LockUnavailable({ deviceId, reason: `Seam has not reported the digits of code ${ref} yet` })
        )
      }
      // The digits never go into a reason: reasons are logged and shown to staff.
      return Schema.decodeUnknown(AccessCode)(code.code).pipe(
        Effect.map((digits): LockCode => ({ ref, code: digits, status: lockCodeStatus(code) })),
        Effect.mapError(
          () =>
            new LockRejected({
              deviceId,
              reason: `code ${ref} is not 4 to 12 digits, so it cannot be sent to a customer`
            })
        )
      )
    }

    const createCode = Effect.fn("LockAccess.createCode")(function* (request: {
      readonly deviceId: string
      readonly name: string
      readonly startsAt: Date
      readonly endsAt: Date
    }) {
      const { deviceId } = request
      const device = yield* getDevice(deviceId).pipe(Effect.mapError(lockErrorFor(deviceId, "read the lock")))
      const online = device.can_program_online_access_codes === true
      const offline = device.can_program_offline_access_codes === true
      if (!online && !offline) {
        return yield* new LockRejected({
          deviceId,
          reason:
            "Seam cannot program access codes on this lock (neither online nor offline); use a keypad lock or static codes for the pod"
        })
      }
      // Offline codes are made by the lock maker's algorithm and work while the lock is offline;
      // online codes need the lock connected now.
      const offlineOnly = !online
      if (online && device.properties.online === false) {
        return yield* new LockUnavailable({
          deviceId,
          reason: "the lock is offline, so Seam cannot program a code on it"
        })
      }

      const constraints = constraintsOf(device)
      const name = codeNameFor(request.name, constraints)
      const codes = yield* listCodes(deviceId).pipe(Effect.mapError(lockErrorFor(deviceId, "list the lock's codes")))
      // A retried creation (after a crash or a timeout whose request did land) finds its code.
      const existing = codes.find((c) => c.name === name || c.name === request.name)
      if (existing !== undefined) return yield* toLockCode(deviceId, existing)

      const lockChooses = offlineOnly || constraints.some((c) => LOCK_CHOOSES_DIGITS.includes(c.constraint_type))
      let digits: Option.Option<string> = Option.none()
      if (!lockChooses) {
        const unmanaged = yield* listUnmanagedCodes(deviceId).pipe(
          Effect.mapError(lockErrorFor(deviceId, "list the lock's other codes"))
        )
        const taken = [...codes, ...unmanaged].flatMap((c) => (c.code === null ? [] : [c.code]))
        const rules = yield* Either.match(codeRulesFor(device, taken), {
          onLeft: (reason) => Effect.fail(new LockRejected({ deviceId, reason })),
          onRight: Effect.succeed
        })
        digits = pickCode(rules)
        if (Option.isNone(digits)) {
          return yield* new LockRejected({
            deviceId,
            reason: `no free ${rules.length}-digit code fits the lock's rules (${rules.taken.size} codes on it); remove stale codes`
          })
        }
      }

      // Such locks refuse a start in the past, and the session started a moment ago.
      const now = yield* Clock.currentTimeMillis
      const startsAt =
        constraints.some((c) => c.constraint_type === "start_date_in_future") && request.startsAt.getTime() <= now
          ? new Date(now + 60_000)
          : request.startsAt
      const length = Either.getOrElse(
        codeLengthFor(device.properties.supported_code_lengths),
        () => DEFAULT_CODE_LENGTH
      )

      const created = yield* call("createAccessCode", { deviceId }, () =>
        seam.accessCodes.create({
          device_id: deviceId,
          name,
          starts_at: startsAt.toISOString(),
          ends_at: request.endsAt.toISOString(),
          ...Option.match(digits, { onNone: () => ({ preferred_code_length: length }), onSome: (code) => ({ code }) }),
          ...(offlineOnly ? { is_offline_access_code: true } : {})
        })
      ).pipe(Effect.mapError(lockErrorFor(deviceId, "create a code")))
      return yield* toLockCode(deviceId, created)
    })

    const readCode = Effect.fn("LockAccess.readCode")(function* (deviceId: string, ref: string) {
      const found = yield* getCode(ref).pipe(Effect.mapError(lockErrorFor(deviceId, `read code ${ref}`)))
      if (Option.isNone(found)) return Option.none<LockCode>()
      if (found.value.device_id !== deviceId) {
        return yield* new LockRejected({
          deviceId,
          reason: `code ${ref} is on lock ${found.value.device_id}, not this one; check the pod's lock device id`
        })
      }
      return Option.some(yield* toLockCode(deviceId, found.value))
    })

    const revokeCode = Effect.fn("LockAccess.revokeCode")(function* (deviceId: string, ref: string) {
      // Whatever went wrong, the code may still open the door: the caller must try again, so
      // every failure here is `LockUnavailable`, keeping the reason a person needs.
      const unavailable = (doing: string) => (failure: SeamCallFailed) => {
        const error = lockErrorFor(deviceId, doing)(failure)
        return error._tag === "LockUnavailable" ? error : new LockUnavailable({ deviceId, reason: error.reason })
      }
      yield* call("deleteAccessCode", { deviceId, accessCodeId: ref }, () =>
        seam.accessCodes.delete({ access_code_id: ref })
      ).pipe(
        Effect.catchIf(isCodeMissing, () => Effect.void),
        Effect.mapError(unavailable(`delete code ${ref}`))
      )
      // Seam accepts a deletion before the lock has dropped the code; only its absence confirms it.
      const left = yield* getCode(ref).pipe(Effect.mapError(unavailable(`confirm code ${ref} is gone`)))
      if (Option.isSome(left)) {
        return yield* new LockUnavailable({
          deviceId,
          reason: `code ${ref} is still on the lock (${left.value.status}); Seam is removing it`
        })
      }
    })

    const lockStatus = Effect.fn("LockAccess.lockStatus")(function* (deviceId: string) {
      const device = yield* getDevice(deviceId).pipe(Effect.mapError(lockErrorFor(deviceId, "read the lock")))
      const locked = device.properties.locked
      if (typeof locked !== "boolean") {
        return yield* new LockUnavailable({ deviceId, reason: "the lock does not report whether it is locked" })
      }
      return { isLocked: locked }
    })

    return { createCode, readCode, revokeCode, lockStatus } satisfies LockAccessShape
  })

export const layer = (options: SeamLockAccessOptions): Layer.Layer<LockAccess> =>
  Layer.effect(LockAccess, makeSeamLockAccess(options))

/**
 * `SEAM_API_KEY` (required) and `SEAM_ENDPOINT` (optional, for a proxy or a fake). A value that
 * is not a Seam API key stops start-up with a `ConfigError` naming the variable, not its value.
 */
export const layerFromConfigWith = (
  options: { readonly timeoutMs?: number } = {}
): Layer.Layer<LockAccess, ConfigError.ConfigError> =>
  Layer.effect(
    LockAccess,
    Effect.gen(function* () {
      const apiKey = yield* Config.redacted("SEAM_API_KEY").pipe(
        Config.validate({
          message: "SEAM_API_KEY is not a Seam API key (those start with seam_)",
          validation: (key) => isApiKey(Redacted.value(key))
        })
      )
      const endpoint = yield* Config.option(Config.nonEmptyString("SEAM_ENDPOINT"))
      return yield* makeSeamLockAccess({
        apiKey,
        endpoint: Option.getOrUndefined(endpoint),
        timeoutMs: options.timeoutMs
      })
    })
  )

/** `layerFromConfigWith` with the default per-request deadline. */
export const layerFromConfig: Layer.Layer<LockAccess, ConfigError.ConfigError> = layerFromConfigWith()
