/**
 * An in-memory `SessionStore` with the same atomic semantics the SQL stores give: every
 * method runs synchronously inside one `Effect.sync`, so no other fiber sees it half-done.
 * For tests only; the embedded default is PGlite.
 */
import { Context, Duration, Effect, Layer, Option } from "effect"
import { WorkItem, type WorkOrder } from "../background/Work.js"
import { PodInUse, PodNotFound, StaleSession } from "../Errors.js"
import type { PodId, SessionId, SetupIntentId } from "../Ids.js"
import { CodeHold, type Pod, PodStatus } from "../Pod.js"
import { SessionStore, type SessionStoreShape } from "../ports/SessionStore.js"
import { isLive, isPastWindow, type Session } from "../session/Session.js"
import { type Faults, InjectedFault, makeFaults } from "./Faults.js"

export type StoreOperation = "openSession" | "commit" | "claimWork" | "finishWork" | "enqueue"

export interface StoredWork {
  readonly item: WorkItem
  readonly status: "pending" | "done" | "parked"
}

/** Test controls and views of the memory store. */
export interface MemoryStoreControl {
  readonly faults: Faults<StoreOperation>
  readonly addPod: (pod: Pod) => void
  readonly sessions: () => ReadonlyArray<Session>
  readonly podInUse: (id: PodId) => boolean
  /** `StaffStore.freePod`: frees the pod if no live session holds it and its code hold is `codeHold`. */
  readonly freePod: (id: PodId, codeHold: Option.Option<SessionId>) => Option.Option<{ readonly freed: boolean }>
  readonly work: () => ReadonlyArray<StoredWork>
}

export class MemoryStore extends Context.Tag("@qwip/core/testing/MemoryStore")<MemoryStore, MemoryStoreControl>() {}

export const makeMemoryStore = (initialPods: ReadonlyArray<Pod> = []) => {
  const pods = new Map<PodId, { pod: Pod; inUse: boolean; codeHold: Option.Option<CodeHold> }>()
  const sessions = new Map<SessionId, Session>()
  const bySetupIntent = new Map<SetupIntentId, SessionId>()
  const work = new Map<string, StoredWork>()
  const faults = makeFaults<StoreOperation>()
  let workSeq = 0
  for (const pod of initialPods) pods.set(pod.id, { pod, inUse: false, codeHold: Option.none() })

  // Runs `apply` atomically, honouring armed faults: "before" fails without applying,
  // "after" applies and then fails, as a crash after the database committed would.
  const atomically = <A, E>(op: StoreOperation, apply: () => Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.suspend(() => {
      if (faults.take(op, "before")) return Effect.die(new InjectedFault(op, "before"))
      const result = Effect.runSync(Effect.either(apply()))
      if (faults.take(op, "after")) return Effect.die(new InjectedFault(op, "after"))
      return result._tag === "Right" ? Effect.succeed(result.right) : Effect.fail(result.left)
    })

  const addWork = (orders: ReadonlyArray<WorkOrder>): Array<string> => {
    const fresh: Array<string> = []
    for (const order of orders) {
      if (work.has(order.key)) continue
      workSeq++
      work.set(order.key, {
        status: "pending",
        item: new WorkItem({
          ...order,
          id: `work-${workSeq}`,
          attempts: 0,
          leasedBy: "",
          leaseUntil: new Date(0),
          lastError: Option.none()
        })
      })
      fresh.push(order.key)
    }
    return fresh
  }

  const live = (s: Session) => isLive(s.state)

  const holdsLease = (item: WorkItem) => {
    const stored = work.get(item.key)
    return stored !== undefined && stored.status === "pending" && stored.item.leasedBy === item.leasedBy
  }

  const store: SessionStoreShape = {
    pod: (id) => Effect.sync(() => Option.fromNullable(pods.get(id)?.pod)),
    pods: Effect.sync(() => [...pods.values()].map((p) => new PodStatus(p))),
    podStatus: (id) => Effect.sync(() => Option.fromNullable(pods.get(id)).pipe(Option.map((p) => new PodStatus(p)))),
    session: (id) => Effect.sync(() => Option.fromNullable(sessions.get(id))),
    sessionWithPod: (id) =>
      Effect.sync(() => {
        const session = sessions.get(id)
        const pod = session === undefined ? undefined : pods.get(session.podId)?.pod
        return session === undefined || pod === undefined ? Option.none() : Option.some({ session, pod })
      }),
    sessionForSetupIntent: (id) =>
      Effect.sync(() =>
        Option.fromNullable(bySetupIntent.get(id)).pipe(Option.flatMapNullable((s) => sessions.get(s)))
      ),
    liveSessionsOnPod: (id) => Effect.sync(() => [...sessions.values()].filter((s) => s.podId === id && live(s))),
    liveSessionsPastWindow: (before) =>
      Effect.sync(() => [...sessions.values()].filter((s) => isPastWindow(s, before))),
    openSession: (session, orders) =>
      atomically("openSession", (): Effect.Effect<Session, PodInUse | PodNotFound> => {
        const existing = bySetupIntent.get(session.setupIntentId)
        if (existing !== undefined) return Effect.succeed(sessions.get(existing) as Session)
        const pod = pods.get(session.podId)
        if (pod === undefined) return Effect.fail(new PodNotFound({ podId: session.podId }))
        if (pod.inUse) return Effect.fail(new PodInUse({ podId: session.podId }))
        pods.set(session.podId, { ...pod, inUse: true })
        sessions.set(session.id, session)
        bySetupIntent.set(session.setupIntentId, session.id)
        addWork(orders)
        return Effect.succeed(session)
      }),
    commit: ({ before, after, releasePod, codeHold, work: orders }) =>
      atomically("commit", (): Effect.Effect<Session, StaleSession> => {
        const current = sessions.get(before.id)
        if (current === undefined || current.version !== before.version) {
          return Effect.fail(new StaleSession({ sessionId: before.id, expectedVersion: before.version }))
        }
        sessions.set(after.id, after)
        // As the SQL stores do: a pod is freed only while no other live session holds it, and
        // freeing it clears its code hold.
        const othersLive = [...sessions.values()].some((s) => s.podId === after.podId && s.id !== after.id && live(s))
        const free = (id: PodId) => {
          const pod = pods.get(id)
          if (pod !== undefined && !othersLive) pods.set(id, { ...pod, inUse: false, codeHold: Option.none() })
        }
        if (releasePod) free(after.podId)
        const pod = pods.get(after.podId)
        if (pod !== undefined && codeHold === "keep") {
          const hold = new CodeHold({ sessionId: after.id, since: after.updatedAt })
          pods.set(after.podId, { ...pod, inUse: true, codeHold: Option.some(hold) })
        }
        if (pod !== undefined && codeHold === "free" && Option.exists(pod.codeHold, (h) => h.sessionId === after.id)) {
          free(after.podId)
        }
        addWork(orders)
        return Effect.succeed(after)
      }),
    enqueue: (orders) => atomically("enqueue", () => Effect.succeed(addWork(orders))),
    claimWork: ({ worker, now, leaseFor, limit }) =>
      atomically("claimWork", () => {
        const due = [...work.values()]
          .filter(
            (w) =>
              w.status === "pending" &&
              w.item.runAt.getTime() <= now.getTime() &&
              (w.item.leasedBy === "" || w.item.leaseUntil.getTime() <= now.getTime())
          )
          .sort((a, b) => a.item.runAt.getTime() - b.item.runAt.getTime())
          .slice(0, limit)
        const claimed = due.map(
          (w) =>
            new WorkItem({
              ...w.item,
              attempts: w.item.attempts + 1,
              leasedBy: worker,
              leaseUntil: new Date(now.getTime() + Duration.toMillis(leaseFor))
            })
        )
        for (const item of claimed) work.set(item.key, { status: "pending", item })
        return Effect.succeed(claimed)
      }),
    finishWork: (item) =>
      atomically("finishWork", () => {
        if (holdsLease(item)) work.set(item.key, { status: "done", item })
        return Effect.void
      }),
    parkWork: (item, error) =>
      Effect.sync(() => {
        if (holdsLease(item))
          work.set(item.key, { status: "parked", item: new WorkItem({ ...item, lastError: Option.some(error) }) })
      }),
    renewLease: (item, until) =>
      Effect.sync(() => {
        const stored = work.get(item.key)
        if (stored === undefined || !holdsLease(item)) return false
        work.set(item.key, { status: "pending", item: new WorkItem({ ...stored.item, leaseUntil: until }) })
        return true
      }),
    deferWork: (item, runAt, error) =>
      Effect.sync(() => {
        if (!holdsLease(item)) return
        work.set(item.key, {
          status: "pending",
          item: new WorkItem({ ...item, runAt, leasedBy: "", leaseUntil: new Date(0), lastError: Option.some(error) })
        })
      }),
    workWaiting: Effect.sync(() => [...work.values()].filter((w) => w.status === "pending").length),
    releaseLeases: (worker) =>
      Effect.sync(() => {
        for (const w of work.values()) {
          if (w.status === "pending" && w.item.leasedBy === worker) {
            work.set(w.item.key, {
              status: "pending",
              item: new WorkItem({ ...w.item, leasedBy: "", leaseUntil: new Date(0) })
            })
          }
        }
      })
  }

  const control: MemoryStoreControl = {
    faults,
    addPod: (pod) => {
      const known = pods.get(pod.id)
      pods.set(pod.id, { pod, inUse: known?.inUse ?? false, codeHold: known?.codeHold ?? Option.none() })
    },
    sessions: () => [...sessions.values()],
    podInUse: (id) => pods.get(id)?.inUse ?? false,
    freePod: (id, codeHold) => {
      const pod = pods.get(id)
      if (pod === undefined) return Option.none()
      const held = Option.map(pod.codeHold, (h) => h.sessionId)
      const sameHold = Option.getOrNull(held) === Option.getOrNull(codeHold)
      const liveHere = [...sessions.values()].some((s) => s.podId === id && live(s))
      if (!sameHold || liveHere) return Option.some({ freed: false })
      pods.set(id, { ...pod, inUse: false, codeHold: Option.none() })
      return Option.some({ freed: true })
    },
    work: () => [...work.values()]
  }
  return { store, control }
}

/** A fresh memory store and its controls, seeded with `pods`. */
export const layerMemoryStore = (pods: ReadonlyArray<Pod> = []) =>
  Layer.effectContext(
    Effect.sync(() => {
      const { store, control } = makeMemoryStore(pods)
      return Context.make(SessionStore, store).pipe(Context.add(MemoryStore, control))
    })
  )
