/**
 * Races, on every store, with real concurrency: 50 fibers at once, each call on its own
 * pooled connection for Postgres, its own HTTP request for Supabase (PGlite runs one
 * statement at a time, so there the fibers interleave between statements). The database's
 * conditional updates, row locks and constraints decide the winner, not the caller.
 */
import { expect } from "@effect/vitest"
import { StoreRecords } from "@qwip/adapters/store/index"
import { Paid, type PodId, pence, SessionStore, type WorkItem } from "@qwip/core"
import { Duration, Effect, Either, Option } from "effect"
import { activate, beginEnd, close, makePod, makeSession, minutes, newPodId, T0, workFor } from "../support/Fixtures.js"
import { forEachStore, TestSql } from "../support/Stores.js"

const N = 50
const all = { concurrency: "unbounded" } as const

const freshPod = () =>
  Effect.flatMap(StoreRecords, (records) => records.upsertPod(makePod())).pipe(Effect.map((s) => s.pod.id))

const count = (text: string, params: ReadonlyArray<unknown>) =>
  Effect.flatMap(TestSql, (sql) => sql.query<{ n: number | string }>(text, params)).pipe(
    Effect.map((rows) => Number(rows[0]?.n ?? 0))
  )

forEachStore("concurrency", (it) => {
  it.effect(`${N} concurrent finalizes for one pod give exactly one live session`, () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const podId = yield* freshPod()
      const results = yield* Effect.forEach(
        Array.from({ length: N }, () => makeSession(podId)),
        (s) => Effect.either(store.openSession(s, [workFor(s.id, "provision-access", T0)])),
        all
      )
      const won = results.filter(Either.isRight)
      expect(won).toHaveLength(1)
      expect(results.filter(Either.isLeft).every((r) => r.left._tag === "PodInUse")).toBe(true)
      const live = yield* store.liveSessionsOnPod(podId)
      expect(live.map((s) => s.id)).toEqual(won.map((w) => w.right.id))
      expect(Option.getOrThrow(yield* store.podStatus(podId)).inUse).toBe(true)
      expect(yield* count("select count(*) as n from pod_sessions where pod_id = $1", [podId])).toBe(1)
      expect(
        yield* count("select count(*) as n from background_work where kind = 'provision-access' and session_id = $1", [
          won[0]?.right.id
        ])
      ).toBe(1)
    })
  )

  it.effect(`${N} concurrent finalizes of one SetupIntent make one session, returned to every caller`, () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const pods: Array<PodId> = []
      for (let i = 0; i < 5; i++) pods.push(yield* freshPod())
      const intent = `seti_race_${newPodId()}`
      const results = yield* Effect.forEach(
        Array.from({ length: N }, (_, i) => makeSession(pods[i % pods.length] as PodId, { setupIntentId: intent })),
        (s) => store.openSession(s, []),
        all
      )
      expect(new Set(results.map((s) => s.id)).size).toBe(1)
      expect(yield* count("select count(*) as n from pod_sessions where stripe_setup_intent_id = $1", [intent])).toBe(1)
      const held = yield* Effect.forEach(pods, (p) => store.podStatus(p))
      expect(held.filter((s) => Option.getOrThrow(s).inUse)).toHaveLength(1)
    })
  )

  it.effect(`${N} concurrent closes of one session record exactly one charge`, () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const records = yield* StoreRecords
      const podId = yield* freshPod()
      const opened = yield* store.openSession(makeSession(podId), [])
      const active = yield* store.commit({
        before: opened,
        after: activate(opened, minutes(T0, 1)),
        releasePod: false,
        work: []
      })
      const ending = yield* store.commit({
        before: active,
        after: beginEnd(active, minutes(T0, 30)),
        releasePod: false,
        work: []
      })
      const results = yield* Effect.forEach(
        Array.from({ length: N }, (_, i) => i),
        (i) =>
          Effect.either(
            store.commit({
              before: ending,
              after: close(ending, new Paid({ paymentIntentId: `pi_${i}`, amountPence: pence(1000) }), minutes(T0, 31)),
              releasePod: true,
              work: [workFor(ending.id, "revoke-access", minutes(T0, 31))]
            })
          ),
        all
      )
      const won = results.filter(Either.isRight)
      expect(won).toHaveLength(1)
      expect(results.filter(Either.isLeft).every((r) => r.left._tag === "StaleSession")).toBe(true)
      const winner = won[0]?.right
      const charge = Option.getOrThrow(yield* records.chargeFor(ending.id))
      expect(
        winner?.state._tag === "Ended" && winner.state.outcome._tag === "Paid" && winner.state.outcome.paymentIntentId
      ).toBe(charge.paymentIntentId)
      expect(yield* count("select count(*) as n from session_charges where session_id = $1", [ending.id])).toBe(1)
      expect(yield* count("select count(*) as n from background_work where session_id = $1", [ending.id])).toBe(1)
      expect(Option.getOrThrow(yield* store.podStatus(podId)).inUse).toBe(false)
    })
  )

  it.effect("workers racing for the same due work each get it once; an expired lease is claimed again", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const session = makeSession(newPodId())
      const base = minutes(T0, 5 * 24 * 60 * 365) // later than anything else in this store
      const keys = Array.from({ length: 40 }, (_, i) => `race-${i}:${session.id}`)
      yield* store.enqueue(keys.map((key) => workFor(session.id, "send-mail", base, key)))
      const mine = (items: ReadonlyArray<WorkItem>) => items.filter((w) => w.sessionId === session.id)
      const claims = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => `worker-${i}`),
        (worker) => store.claimWork({ worker, now: base, leaseFor: Duration.seconds(30), limit: 7 }),
        all
      )
      const claimed = claims.flatMap(mine)
      expect(claimed.map((w) => w.key).sort()).toEqual([...keys].sort())
      expect(claimed.every((w) => w.attempts === 1)).toBe(true)

      // Two workers at the same instant after the leases ran out: each item goes to one of them.
      const later = minutes(base, 1)
      const [a, b] = yield* Effect.all(
        [
          store.claimWork({ worker: "late-a", now: later, leaseFor: Duration.minutes(5), limit: 1000 }),
          store.claimWork({ worker: "late-b", now: later, leaseFor: Duration.minutes(5), limit: 1000 })
        ],
        all
      )
      const again = [...mine(a ?? []), ...mine(b ?? [])]
      expect(again.map((w) => w.key).sort()).toEqual([...keys].sort())
      expect(again.every((w) => w.attempts === 2)).toBe(true)
      // The first holders lost their leases: their finishes change nothing.
      yield* Effect.forEach(claimed, (w) => store.finishWork(w), all)
      const pending = yield* count(
        "select count(*) as n from background_work where session_id = $1 and status = 'pending'",
        [session.id]
      )
      expect(pending).toBe(keys.length)
      yield* Effect.forEach(again, (w) => store.finishWork(w), all)
      expect(
        yield* count("select count(*) as n from background_work where session_id = $1 and status = 'done'", [
          session.id
        ])
      ).toBe(keys.length)
    })
  )
})
