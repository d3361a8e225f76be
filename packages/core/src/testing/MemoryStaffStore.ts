/**
 * `StaffStore` in memory, over the memory store and the static-code double in context.
 * The audit log and charge attempts are kept here and readable through `MemoryStaff`.
 * The memory store keeps a pod's in-use flag in step with its live sessions, so `freePod`
 * clears only a code hold there (the SQL stores test a flag left set by the previous service).
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import type { SessionId } from "../Ids.js"
import { PodStatus } from "../Pod.js"
import { SessionStore } from "../ports/SessionStore.js"
import {
  ChargeAttempt,
  listingIncludes,
  PodAlreadyExists,
  type StaffAuditEntry,
  StaffStore,
  type StaffStoreShape
} from "../ports/StaffStore.js"
import { StaticCodes } from "../ports/StaticCodes.js"
import { type Session, Session as SessionClass, sealedCodeOf } from "../session/Session.js"
import { FakeStaticCodes } from "./FakeStaticCodes.js"
import { MemoryStore } from "./MemoryStore.js"

export interface MemoryStaffControl {
  /** Audit rows, oldest first. */
  readonly audit: () => ReadonlyArray<StaffAuditEntry>
  readonly attempts: () => ReadonlyArray<ChargeAttempt>
}

export class MemoryStaff extends Context.Tag("@qwip/core/testing/MemoryStaff")<MemoryStaff, MemoryStaffControl>() {}

const hasSealedCode = (s: Session) => Option.isSome(Option.flatMap(s.access, sealedCodeOf))

export const layerMemoryStaffStore: Layer.Layer<
  StaffStore | MemoryStaff,
  never,
  SessionStore | MemoryStore | StaticCodes | FakeStaticCodes
> = Layer.effectContext(
  Effect.gen(function* () {
    const store = yield* SessionStore
    const memory = yield* MemoryStore
    const codes = yield* StaticCodes
    const lists = yield* FakeStaticCodes
    const audit: Array<StaffAuditEntry> = []
    const attempts: Array<ChargeAttempt> = []
    const nowDate = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))
    const sealedById = () =>
      memory
        .sessions()
        .filter(hasSealedCode)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

    const staff: StaffStoreShape = {
      sessions: (listing) =>
        Effect.sync(() =>
          memory
            .sessions()
            .filter((s) => listingIncludes(listing, s))
            .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime())
            .slice(0, listing.limit)
        ),
      createPod: (pod) =>
        Effect.flatMap(store.pod(pod.id), (existing) =>
          Option.isSome(existing)
            ? Effect.fail(new PodAlreadyExists({ podId: pod.id }))
            : Effect.sync(() => {
                memory.addPod(pod)
                return new PodStatus({ pod, inUse: false })
              })
        ),
      savePod: (pod) =>
        Effect.sync(() => memory.addPod(pod)).pipe(
          Effect.zipRight(store.podStatus(pod.id)),
          Effect.map(Option.getOrThrow)
        ),
      freePod: (podId, codeHold) => Effect.sync(() => memory.freePod(podId, codeHold)),
      podCodes: (podId) => codes.codesFor(podId),
      setPodCodes: (podId, list) =>
        Effect.map(store.pod(podId), (pod) => {
          if (Option.isNone(pod)) return false
          lists.setCodes(podId, list)
          return true
        }),
      sealedCodeSessions: (after, limit) =>
        Effect.sync(() =>
          sealedById()
            .filter((s) => Option.isNone(after) || s.id > after.value)
            .slice(0, limit)
        ),
      countSealedCodeSessions: Effect.sync(() => sealedById().length),
      replaceSealedCode: (session, grant, at) =>
        store.commit({
          before: session,
          after: new SessionClass({
            ...session,
            access: Option.some(grant),
            version: session.version + 1,
            updatedAt: at
          }),
          releasePod: false,
          work: []
        }),
      chargeAttempts: (sessionId) => Effect.sync(() => attempts.filter((a) => a.sessionId === sessionId)),
      beginChargeAttempt: ({ sessionId, by, attempt: n, idempotencyKey }) =>
        Effect.flatMap(nowDate, (at) =>
          Effect.sync(() => {
            const mine = attempts.filter((a) => a.sessionId === sessionId)
            const pending = mine.find((a) => a.status === "pending")
            if (pending !== undefined) return Option.some(pending)
            if (mine.some((a) => a.attempt === n) || attempts.some((a) => a.idempotencyKey === idempotencyKey)) {
              return Option.none()
            }
            const attempt = new ChargeAttempt({
              sessionId: sessionId as SessionId,
              attempt: n,
              idempotencyKey,
              status: "pending",
              paymentIntentId: Option.none(),
              by,
              createdAt: at,
              updatedAt: at
            })
            attempts.push(attempt)
            return Option.some(attempt)
          })
        ),
      finishChargeAttempt: (attempt, result) =>
        Effect.flatMap(nowDate, (at) =>
          Effect.sync(() => {
            const i = attempts.findIndex((a) => a.sessionId === attempt.sessionId && a.attempt === attempt.attempt)
            if (i >= 0) attempts[i] = new ChargeAttempt({ ...attempt, ...result, updatedAt: at })
          })
        ),
      appendAudit: (entry) => Effect.sync(() => void audit.push(entry))
    }
    const control: MemoryStaffControl = { audit: () => [...audit], attempts: () => [...attempts] }
    return Context.make(StaffStore, staff).pipe(Context.add(MemoryStaff, control))
  })
)
