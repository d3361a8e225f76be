/**
 * What staff do to door codes (`qwip codes`): check, generate and rotate a pod's static code
 * list, and seal every stored code again under the current key. Codes never appear in the
 * audit log: code lists are recorded masked.
 */
import { type Duration, Effect, Either, Option, Random, Schema } from "effect"
import { AccessCode, accessCode, maskCode } from "../doorcodes/AccessCode.js"
import { PodNotFound } from "../Errors.js"
import type { PodId, SessionId } from "../Ids.js"
import { SealedCodeKeys } from "../ports/SealedCodeKeys.js"
import { SessionStore } from "../ports/SessionStore.js"
import { StaffStore } from "../ports/StaffStore.js"
import { AccessGrant, type Session, sealedCodeOf } from "../session/Session.js"
import { now } from "../session/SessionSteps.js"
import { audit } from "./StaffAudit.js"
import { InvalidCodeList } from "./StaffErrors.js"
import { requirePod } from "./StaffPods.js"

const codesRecord = (codes: ReadonlyArray<AccessCode>) => ({ count: codes.length, masked: codes.map(maskCode) })

const decodeCode = Schema.decodeUnknownEither(AccessCode)

/** Checks a code list: not empty, every entry 4 to 12 digits, no repeats. */
export const validateCodes = (
  codes: ReadonlyArray<string>
): Either.Either<ReadonlyArray<AccessCode>, InvalidCodeList> => {
  if (codes.length === 0) {
    return Either.left(new InvalidCodeList({ reason: "it is empty; a static pod needs at least one code" }))
  }
  const seen = new Set<string>()
  const out: Array<AccessCode> = []
  for (const [i, raw] of codes.entries()) {
    const code = decodeCode(raw)
    if (Either.isLeft(code)) {
      return Either.left(new InvalidCodeList({ reason: `entry ${i + 1} is not 4 to 12 digits` }))
    }
    if (seen.has(code.right)) return Either.left(new InvalidCodeList({ reason: `entry ${i + 1} repeats a code` }))
    seen.add(code.right)
    out.push(code.right)
  }
  return Either.right(out)
}

/** `count` distinct random codes of `digits` digits, from `Random` (cryptographic at the entry points). */
export const generateCodes = Effect.fn("StaffCodes.generateCodes")(function* (count: number, digits = 5) {
  if (!Number.isInteger(digits) || digits < 4 || digits > 12) {
    return yield* new InvalidCodeList({ reason: "codes have 4 to 12 digits" })
  }
  if (!Number.isInteger(count) || count < 1 || count > Math.min(1000, 10 ** digits / 10)) {
    return yield* new InvalidCodeList({
      reason: `generate between 1 and ${Math.min(1000, 10 ** digits / 10)} codes of ${digits} digits`
    })
  }
  const codes = new Set<string>()
  while (codes.size < count) {
    let code = ""
    for (let i = 0; i < digits; i++) code += String(yield* Random.nextIntBetween(0, 10))
    codes.add(code)
  }
  return [...codes].map(accessCode) as ReadonlyArray<AccessCode>
})

/**
 * Replaces a pod's static code list. New sessions pick from the new list; live sessions
 * keep the code they were given until they end (keep it working on the door until then).
 */
export const rotateCodes = Effect.fn("StaffCodes.rotateCodes")(function* (
  podId: PodId,
  codes: ReadonlyArray<string>,
  options: { readonly by: string }
) {
  const staff = yield* StaffStore
  const store = yield* SessionStore
  const pod = yield* requirePod(podId)
  const list = yield* validateCodes(codes)
  const before = yield* staff.podCodes(podId)
  if (!(yield* staff.setPodCodes(podId, list))) return yield* new PodNotFound({ podId })
  const live = yield* store.liveSessionsOnPod(podId)
  yield* audit(options.by, "codes.rotate", podId, codesRecord(before), codesRecord(list))
  return { pod, before: before.length, after: list, liveSessions: live.length }
})

export interface RekeyProgress {
  /** Sessions storing a sealed code when the run started. */
  readonly total: number
  readonly examined: number
  readonly rekeyed: number
  /** Already sealed under the current key. */
  readonly current: number
  /** Opened by no known key: left as they are. */
  readonly unreadable: ReadonlyArray<SessionId>
}

/**
 * Seals every stored door code again under the current key, a session at a time (each one
 * atomic, guarded by the session's version), so it can be interrupted and run again: a
 * re-run skips what is already current. Reports progress after every batch.
 */
export const rekeyAccessCodes = Effect.fn("StaffCodes.rekeyAccessCodes")(function* (options: {
  readonly by: string
  readonly batchSize?: number | undefined
  /** Stop after examining this many (a slice of a large store). */
  readonly limit?: number | undefined
  /** Pause between batches, to go easy on a production database. */
  readonly pause?: Duration.Duration | undefined
  readonly onProgress?: ((progress: RekeyProgress) => Effect.Effect<void>) | undefined
}) {
  const staff = yield* StaffStore
  const store = yield* SessionStore
  const keys = yield* SealedCodeKeys
  const batchSize = Math.max(1, options.batchSize ?? 100)
  const total = yield* staff.countSealedCodeSessions
  let examined = 0
  let rekeyed = 0
  let current = 0
  const unreadable: Array<SessionId> = []
  const progress = (): RekeyProgress => ({ total, examined, rekeyed, current, unreadable: [...unreadable] })

  /** One session: true when it was sealed again. Re-reads it if another writer changed it first. */
  const rekeyOne = (first: Session) =>
    Effect.gen(function* () {
      let session = first
      for (let tries = 0; tries < 20; tries++) {
        const grant = Option.getOrUndefined(session.access)
        const sealed = grant === undefined ? Option.none<string>() : sealedCodeOf(grant)
        if (grant === undefined || Option.isNone(sealed)) return "current" as const
        const needs = yield* Effect.either(keys.needsRekey(sealed.value))
        if (Either.isLeft(needs)) return "unreadable" as const
        if (!needs.right) return "current" as const
        const fresh = yield* Effect.either(keys.rekey(sealed.value))
        if (Either.isLeft(fresh)) return "unreadable" as const
        const replaced = new AccessGrant({
          ref: grant.ref === sealed.value ? fresh.right : grant.ref,
          sealedCode: fresh.right,
          mode: grant.mode
        })
        const written = yield* Effect.either(staff.replaceSealedCode(session, replaced, yield* now))
        if (Either.isRight(written)) return "rekeyed" as const
        const reread = yield* store.session(session.id)
        if (Option.isNone(reread)) return "current" as const
        session = reread.value
      }
      return yield* Effect.dieMessage(`session ${first.id} kept changing while its code was sealed again`)
    })

  let after = Option.none<SessionId>()
  while (options.limit === undefined || examined < options.limit) {
    const room = options.limit === undefined ? batchSize : Math.min(batchSize, options.limit - examined)
    const batch = yield* staff.sealedCodeSessions(after, room)
    if (batch.length === 0) break
    for (const session of batch) {
      const result = yield* rekeyOne(session)
      examined++
      if (result === "rekeyed") rekeyed++
      else if (result === "current") current++
      else unreadable.push(session.id)
    }
    after = Option.some((batch[batch.length - 1] as Session).id)
    if (options.onProgress !== undefined) yield* options.onProgress(progress())
    if (options.pause !== undefined && batch.length === room) yield* Effect.sleep(options.pause)
  }
  const report = progress()
  yield* audit(options.by, "codes.rekey", undefined, null, {
    total: report.total,
    examined: report.examined,
    rekeyed: report.rekeyed,
    current: report.current,
    unreadable: report.unreadable
  })
  return report
})
