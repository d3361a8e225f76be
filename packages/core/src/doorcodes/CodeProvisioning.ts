/**
 * Making a session's door code (provisioning) and telling the customer it is ready.
 */
import { Clock, Duration, Effect, Either, Option, Ref } from "effect"
import { mailAccessReadyWork, revokeAccessWork, sendMail } from "../background/Work.js"
import { PodNotFound, WorkNotDone } from "../Errors.js"
import type { SessionId } from "../Ids.js"
import { AccessReady, ProvisioningFailedNotice, StaffAlert } from "../Messages.js"
import { boundedLock, boundedMailer } from "../OutsideCalls.js"
import type { Pod } from "../Pod.js"
import { accessModeOf, activationChecks, Policy, pickStaticCode, provisioningRetry } from "../Policy.js"
import {
  type LockAccess,
  type LockCode,
  type LockError,
  LockRejected,
  LockUnavailable,
  lockCodeNameFor
} from "../ports/LockAccess.js"
import { SessionStore } from "../ports/SessionStore.js"
import { StaticCodes } from "../ports/StaticCodes.js"
import { activate, failProvisioning } from "../session/Lifecycle.js"
import { AccessGrant, type Session, sealedCodeOf } from "../session/Session.js"
import { leavePod, loadSession, now, persist, retryWhenStale } from "../session/SessionSteps.js"
import { placeBookingHold, releaseWorkIfHeld } from "../settlement/CardHolds.js"
import type { AccessCode } from "./AccessCode.js"

/** The pod's other live sessions' codes, which a static pick should avoid. */
const codesHeldByOthers = (session: Session) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const codes = yield* StaticCodes
    const live = yield* store.liveSessionsOnPod(session.podId)
    const held: Array<AccessCode> = []
    for (const other of live) {
      const sealed = Option.flatMap(other.access, sealedCodeOf)
      if (other.id === session.id || Option.isNone(sealed)) continue
      const opened = yield* Effect.option(codes.open(sealed.value))
      if (Option.isSome(opened)) held.push(opened.value)
    }
    return held
  })

const grantStaticCode = (pod: Pod, session: Session) =>
  Effect.gen(function* () {
    const codes = yield* StaticCodes
    const list = yield* codes.codesFor(pod.id)
    const picked = yield* pickStaticCode(list, yield* codesHeldByOthers(session))
    if (Option.isNone(picked)) {
      return yield* new LockRejected({ deviceId: `static:${pod.id}`, reason: "the pod has no static codes" })
    }
    const sealed = yield* codes.seal(picked.value)
    return new AccessGrant({ ref: sealed, sealedCode: sealed, mode: "static" })
  })

/**
 * Waits for the lock to report the code as set, checking at growing intervals. Only the
 * provisioning deadline `until` ends the wait; "still setting" and failed checks are
 * `LockUnavailable`.
 */
const awaitActive = (deviceId: string, created: LockCode, until: number) =>
  Effect.gen(function* () {
    const policy = yield* Policy
    const lock = yield* boundedLock
    const isActive = (found: Option.Option<LockCode>): Effect.Effect<LockCode, LockError> => {
      if (Option.isNone(found)) {
        return Effect.fail(new LockRejected({ deviceId, reason: "the code disappeared from the lock" }))
      }
      const code = found.value
      if (code.status === "set") return Effect.succeed(code)
      if (code.status === "failed") {
        return Effect.fail(new LockRejected({ deviceId, reason: "the code failed to set on the device" }))
      }
      return Effect.fail(new LockUnavailable({ deviceId, reason: `code still ${code.status}` }))
    }
    const check = lock.readCode(deviceId, created.ref).pipe(Effect.flatMap(isActive))
    return yield* check.pipe(
      Effect.retry({ schedule: activationChecks(policy, until), while: (e) => e._tag === "LockUnavailable" })
    )
  })

/** A lock code created but not (yet) active; kept so a failed provisioning can revoke it. */
type CreatedCode = Ref.Ref<Option.Option<AccessGrant>>

const grantLockCode = (pod: Pod, session: Session, created: CreatedCode, until: number) =>
  Effect.gen(function* () {
    const lock = yield* boundedLock
    const codes = yield* StaticCodes
    const deviceId = yield* Option.match(pod.lockDeviceId, {
      onNone: () => Effect.fail(new LockRejected({ deviceId: "(none)", reason: `pod ${pod.id} has no lock device` })),
      onSome: Effect.succeed
    })
    const code = yield* lock.createCode({
      deviceId,
      name: lockCodeNameFor(session.id),
      startsAt: session.startedAt,
      endsAt: session.accessUntil
    })
    const grant = new AccessGrant({ ref: code.ref, sealedCode: yield* codes.seal(code.code), mode: "lock-provider" })
    yield* Ref.set(created, Option.some(grant))
    if (code.status !== "set") yield* awaitActive(deviceId, code, until)
    return grant
  })

/** How long a lock call still in flight at the provisioning deadline may take to answer. */
const LOCK_ANSWER_GRACE = Duration.seconds(10)

/** `n attempt(s)`, for messages. */
const attemptsText = (n: number) => `${n} attempt${n === 1 ? "" : "s"}`

/**
 * Runs `make` with retries until the deadline `until` (the policy's `provisioningDeadline`
 * after this provisioning started): what the customer waits at most. Giving up says how long,
 * after how many attempts, and what the lock last said.
 */
const withinDeadline = <R>(
  pod: Pod,
  created: CreatedCode,
  until: number,
  make: Effect.Effect<AccessGrant, LockError, R>
) =>
  Effect.gen(function* () {
    const policy = yield* Policy
    const attempts = yield* Ref.make(0)
    const last = yield* Ref.make("no answer from the lock yet")
    const giveUp = Effect.gen(function* () {
      const n = yield* Ref.get(attempts)
      const what =
        (yield* Clock.currentTimeMillis) >= until
          ? `no door code was active within ${Duration.format(policy.provisioningDeadline)}`
          : "no door code could be made"
      // A code made but still waiting: the lock never confirmed it; else the last failure.
      const lastWord = Option.isSome(yield* Ref.get(created))
        ? "the lock never confirmed the code"
        : `last: ${yield* Ref.get(last)}`
      return yield* new LockUnavailable({
        deviceId: Option.getOrElse(pod.lockDeviceId, () => `static:${pod.id}`),
        reason: `${what} after ${attemptsText(n)} (${lastWord})`
      })
    })
    return yield* Ref.update(attempts, (n) => n + 1).pipe(
      Effect.zipRight(make),
      Effect.tapError((e) => Ref.set(last, e.reason)),
      Effect.retry({ schedule: provisioningRetry(policy, until), while: (e) => e._tag === "LockUnavailable" }),
      Effect.catchTag("LockUnavailable", () => giveUp),
      // The schedules stop at the deadline; this stops a lock call that never answers.
      Effect.timeout(Duration.sum(policy.provisioningDeadline, LOCK_ANSWER_GRACE)),
      Effect.catchTag("TimeoutException", () => giveUp)
    )
  })

/**
 * Makes the session's door code (background work). Retries with backoff per the policy, all
 * within its provisioning deadline; on final failure the pod is released, nothing is charged,
 * and customer and staff are told. A session that is no longer provisioning is left alone.
 */
export const provisionAccess = Effect.fn("CodeProvisioning.provisionAccess")(function* (sessionId: SessionId) {
  const store = yield* SessionStore
  const policy = yield* Policy
  // The card check comes before the code: a crash after opening the session is finished here.
  const held = yield* placeBookingHold(sessionId).pipe(
    Effect.map(Option.some),
    Effect.catchTag("CardDeclined", () => Effect.succeed(Option.none()))
  )
  if (Option.isNone(held)) return yield* loadSession(sessionId)
  const session = held.value
  if (session.state._tag !== "Provisioning") return session
  const pod = yield* store
    .pod(session.podId)
    .pipe(
      Effect.flatMap(
        Option.match({ onNone: () => Effect.fail(new PodNotFound({ podId: session.podId })), onSome: Effect.succeed })
      )
    )
  const created: CreatedCode = yield* Ref.make(Option.none<AccessGrant>())
  const until = (yield* Clock.currentTimeMillis) + Duration.toMillis(policy.provisioningDeadline)
  const make: Effect.Effect<AccessGrant, LockError, SessionStore | StaticCodes | LockAccess | Policy> =
    accessModeOf(policy, pod) === "static" ? grantStaticCode(pod, session) : grantLockCode(pod, session, created, until)
  const grant = yield* withinDeadline(pod, created, until, make).pipe(Effect.either)

  return yield* retryWhenStale(
    Effect.gen(function* () {
      const current = yield* loadSession(sessionId)
      const at = yield* now
      if (grant._tag === "Right") {
        if (current.state._tag !== "Provisioning") {
          // Ended while we worked: the new code must not stay on the lock.
          const deviceId = pod.lockDeviceId
          if (grant.right.mode === "lock-provider" && Option.isSome(deviceId)) {
            const lock = yield* boundedLock
            yield* lock
              .revokeCode(deviceId.value, grant.right.ref)
              .pipe(Effect.mapError((e) => new WorkNotDone({ reason: `orphan code not revoked: ${e.message}` })))
          }
          return current
        }
        return yield* persist(current, {
          transition: activate(current, grant.right, at),
          work: [mailAccessReadyWork(sessionId, at)]
        })
      }
      yield* Effect.logWarning("provisioning failed for good").pipe(
        Effect.annotateLogs({ sessionId, podId: pod.id, reason: grant.left.message })
      )
      const leftover = yield* Ref.get(created)
      const transition = failProvisioning(current, grant.left.message, at, leftover)
      return yield* persist(current, {
        transition,
        // A leftover code keeps the pod held until its revocation is confirmed.
        ...leavePod(Either.match(transition, { onLeft: () => current, onRight: (r) => r.session })),
        work: [
          // A code created but never active could still become active on the lock later.
          ...(Option.isSome(leftover) ? [revokeAccessWork(sessionId, at)] : []),
          // The card check hold is not needed any more.
          ...releaseWorkIfHeld(current, at),
          sendMail(new ProvisioningFailedNotice({ to: current.card.email, sessionId, podName: pod.name }), at),
          sendMail(
            new StaffAlert({ topic: "provisioning_failed", sessionId, podId: pod.id, detail: grant.left.message }),
            at
          )
        ]
      })
    })
  )
})

/** Emails the customer their code (background work), built at send time from the session. */
export const sendAccessReady = Effect.fn("CodeProvisioning.sendAccessReady")(function* (sessionId: SessionId) {
  const store = yield* SessionStore
  const codes = yield* StaticCodes
  const mailer = yield* boundedMailer
  const found = yield* store.sessionWithPod(sessionId)
  if (Option.isNone(found)) return
  const { session, pod } = found.value
  // Only a session still active needs its code; an ended one must not be sent a code.
  const sealed = Option.flatMap(session.access, sealedCodeOf)
  if (session.state._tag !== "Active" || Option.isNone(sealed)) return
  const code = yield* codes.open(sealed.value)
  yield* mailer.send(
    new AccessReady({
      to: session.card.email,
      sessionId,
      podName: pod.name,
      podAddress: pod.address,
      startsAt: session.startedAt,
      accessUntil: session.accessUntil,
      code
    })
  )
})
