/**
 * What staff do to pods (`qwip pods`): add one, set its rate or lock device, release it.
 *
 * - Releasing a pod a live session holds is refused unless forced with a reason. Forcing
 *   ends each live session through the ordinary end (so the pod's in-use flag and its live
 *   sessions never disagree): each is priced by the one billing rule (`Billing`: an active
 *   session from when its code was ready up to now, a session still provisioning not at
 *   all), and an interrupted end is finished at its recorded time. `waive` waives them all.
 * - Changing a pod's lock device is refused while a live session holds the pod: its code
 *   would be revoked from the new device instead of the one it was made on.
 */
import { Effect, Option } from "effect"
import { PodMisconfigured, PodNotFound } from "../Errors.js"
import { endSession } from "../ending/SessionEnd.js"
import type { PodId } from "../Ids.js"
import { type AccessMode, Pod } from "../Pod.js"
import { SessionStore } from "../ports/SessionStore.js"
import { StaffStore } from "../ports/StaffStore.js"
import { type Session, Staff } from "../session/Session.js"
import type { RatePerMinute } from "../tariff/Rate.js"
import { audit, iso, podRecord, sessionRecord } from "./StaffAudit.js"
import { InvalidStaffRequest, PodBlockedByCode, PodHeld } from "./StaffErrors.js"

/** The pod with its status, or `PodNotFound`. */
export const requirePod = (podId: PodId) =>
  Effect.flatMap(SessionStore, (store) => store.podStatus(podId)).pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(new PodNotFound({ podId })), onSome: Effect.succeed }))
  )

const checkDevice = (pod: Pod) =>
  pod.accessMode === "lock-provider" && Option.isNone(pod.lockDeviceId)
    ? Effect.fail(new PodMisconfigured({ podId: pod.id, reason: "lock-provider mode needs a lock device" }))
    : Effect.void

export const addPod = Effect.fn("StaffPods.addPod")(function* (pod: Pod, options: { readonly by: string }) {
  const staff = yield* StaffStore
  yield* checkDevice(pod)
  const created = yield* staff.createPod(pod)
  yield* audit(options.by, "pods.add", pod.id, null, podRecord(created))
  return created
})

/** New sessions are priced at the new rate; live ones keep the rate they started with. */
export const setPodRate = Effect.fn("StaffPods.setPodRate")(function* (
  podId: PodId,
  rate: RatePerMinute,
  options: { readonly by: string }
) {
  const staff = yield* StaffStore
  const before = yield* requirePod(podId)
  if (before.pod.rate === rate) return { before, after: before, changed: false }
  const after = yield* staff.savePod(new Pod({ ...before.pod, rate }))
  yield* audit(options.by, "pods.set-rate", podId, podRecord(before), podRecord(after))
  return { before, after, changed: true }
})

/** Sets (or clears) the pod's lock device and, optionally, its access mode. */
export const setPodDevice = Effect.fn("StaffPods.setPodDevice")(function* (
  podId: PodId,
  change: { readonly deviceId: Option.Option<string>; readonly accessMode?: AccessMode | undefined },
  options: { readonly by: string }
) {
  const staff = yield* StaffStore
  const store = yield* SessionStore
  const before = yield* requirePod(podId)
  const pod = new Pod({
    ...before.pod,
    lockDeviceId: change.deviceId,
    accessMode: change.accessMode ?? before.pod.accessMode
  })
  yield* checkDevice(pod)
  const unchanged =
    Option.getOrNull(pod.lockDeviceId) === Option.getOrNull(before.pod.lockDeviceId) &&
    pod.accessMode === before.pod.accessMode
  if (unchanged) return { before, after: before, changed: false }
  const live = yield* store.liveSessionsOnPod(podId)
  if (live.length > 0) {
    return yield* new PodHeld({ podId, sessionIds: live.map((s) => s.id), action: "change the lock device of" })
  }
  // Likewise a code still on the old lock: its removal must go to the device it was made on.
  if (Option.isSome(before.codeHold)) {
    const { sessionId, since } = before.codeHold.value
    return yield* new PodBlockedByCode({ podId, sessionId, since, action: "change the lock device of" })
  }
  const after = yield* staff.savePod(pod)
  yield* audit(options.by, "pods.set-device", podId, podRecord(before), podRecord(after))
  return { before, after, changed: true }
})

/**
 * Frees a pod. Refused while a live session holds it unless `force` (with a reason) is
 * given: then each live session is ended first (see the module's notes), so the pod is
 * freed by the ordinary end. A pod kept in use for a previous session's door code not yet
 * confirmed gone from the lock is also freed only by force (staff removed the code by hand);
 * the audit row then names the code that may still be on the lock. A pod marked in use with
 * no live session (left by the previous service) is simply freed.
 */
export const releasePod = Effect.fn("StaffPods.releasePod")(function* (
  podId: PodId,
  options: {
    readonly by: string
    readonly force?: { readonly reason: string; readonly waive?: boolean | undefined } | undefined
  }
) {
  const store = yield* SessionStore
  const staff = yield* StaffStore
  const before = yield* requirePod(podId)
  const live = yield* store.liveSessionsOnPod(podId)
  const force = options.force
  if (force !== undefined && force.reason.trim() === "") {
    return yield* new InvalidStaffRequest({ reason: "forcing a release needs a reason" })
  }
  if (live.length > 0 && force === undefined) {
    return yield* new PodHeld({ podId, sessionIds: live.map((s) => s.id), action: "release" })
  }
  if (Option.isSome(before.codeHold) && force === undefined) {
    const hold = before.codeHold.value
    return yield* new PodBlockedByCode({ podId, sessionId: hold.sessionId, since: hold.since })
  }
  const ended: Array<Session> = []
  for (const session of live) {
    const reason = force?.reason.trim() ?? ""
    const after = yield* endSession(session.id, {
      by: Staff(options.by),
      ...(force?.waive === true ? { waiveReason: `pod released: ${reason}` } : {})
    })
    ended.push(after)
  }
  // The ends above may have left the pod held by a code of theirs; forcing overrides it too.
  const held = force === undefined ? Option.none() : (yield* requirePod(podId)).codeHold
  yield* staff.freePod(
    podId,
    Option.map(held, (h) => h.sessionId)
  )
  const after = yield* requirePod(podId)
  const changed = before.inUse !== after.inUse || ended.length > 0
  if (changed) {
    yield* audit(
      options.by,
      "pods.release",
      podId,
      { ...podRecord(before), liveSessions: live.map(sessionRecord) },
      {
        ...podRecord(after),
        endedSessions: ended.map(sessionRecord),
        ...(force === undefined ? {} : { reason: force.reason.trim() }),
        ...Option.match(held, {
          onNone: () => ({}),
          onSome: (h) => ({
            codeMayBeOnLock: {
              sessionId: h.sessionId,
              since: iso(h.since),
              note: "released before the lock confirmed this session's door code gone; it may still open the door"
            }
          })
        })
      }
    )
  }
  return { before, after, endedSessions: ended as ReadonlyArray<Session>, codeOverridden: held, changed }
})
