/**
 * The session store contract, run against every store: [memory] (the in-memory store of
 * @qwip/core/testing) and [pglite] always, [postgres] and [supabase] when
 * QWIP_TEST_DATABASE_URL is set. One suite for all, so a test fails where the memory store and
 * the SQL stores disagree; on the SQL stores it also checks what only they keep (today's
 * columns, the one charge row, `invalid_payment_attempts`), and a few SQL-only records.
 */
import { randomUUID } from "node:crypto"
import { describe, expect, it as vitestIt } from "@effect/vitest"
import { StoreBackend, StoreRecords } from "@qwip/adapters/store/index"
import * as StaffQueries from "@qwip/adapters/store/StaffQueries"
import {
  AccessCode,
  type BilledFrom,
  chargeOf,
  Ending,
  NeedsAuthentication,
  NotBilled,
  noCollection,
  Paid,
  PaymentFailed,
  PaymentUnknown,
  type Pod,
  type PodId,
  PodStatus,
  pence,
  Session,
  type SessionId,
  SessionStore,
  type SetupIntentId,
  Staff,
  Waived
} from "@qwip/core"
import { layerMemoryStore, MemoryStore } from "@qwip/core/testing"
import { Cause, Context, Duration, Effect, Exit, Layer, Option, Schema } from "effect"
import {
  activate,
  beginEnd,
  cardHold,
  close,
  collectionAttempt,
  collectionWith,
  dunning,
  encoded,
  failProvisioning,
  grant,
  mailFor,
  makePod,
  makeSession,
  minutes,
  newPodId,
  next,
  quoteFor,
  refund,
  T0,
  workFor
} from "../support/Fixtures.js"
import { onSql } from "../support/Scenarios.js"
import { forEachStore, TestSql, type TestSqlShape } from "../support/Stores.js"

interface StoredWorkView {
  readonly key: string
  readonly kind: string
  readonly status: "pending" | "done" | "parked"
  readonly lastError: string | null
}

/** What the contract needs beside `SessionStore` that each store does its own way. */
class Kit extends Context.Tag("@qwip/tests/store/contract/Kit")<
  Kit,
  {
    /** Adds a pod, free. */
    readonly addPod: (pod: Pod) => Effect.Effect<Pod>
    /** A session's work with its status, oldest first. */
    readonly workOf: (sessionId: SessionId) => Effect.Effect<ReadonlyArray<StoredWorkView>>
    /** Staff's forced release (`StaffStore.freePod`) with the code hold staff saw. */
    readonly freePod: (podId: PodId, holder: Option.Option<SessionId>) => Effect.Effect<{ readonly freed: boolean }>
  }
>() {}

const sqlKit = Layer.effect(
  Kit,
  Effect.gen(function* () {
    const records = yield* StoreRecords
    const staff = StaffQueries.make(yield* StoreBackend)
    return {
      addPod: (pod) => Effect.map(records.upsertPod(pod), (s) => s.pod),
      workOf: (sessionId) => records.workFor(sessionId),
      freePod: (podId, holder) => Effect.map(staff.freePod(podId, holder), Option.getOrThrow)
    }
  })
)

const memoryKit = Layer.effect(
  Kit,
  Effect.map(MemoryStore, (memory) => ({
    addPod: (pod) => Effect.sync(() => memory.addPod(pod)).pipe(Effect.as(pod)),
    workOf: (sessionId) =>
      Effect.sync(() =>
        memory
          .work()
          .filter((w) => w.item.sessionId === sessionId)
          .map((w) => ({
            key: w.item.key,
            kind: w.item.kind,
            status: w.status,
            lastError: Option.getOrNull(w.item.lastError)
          }))
      ),
    freePod: (podId, holder) => Effect.sync(() => Option.getOrThrow(memory.freePod(podId, holder)))
  }))
)

/** A pod in the store, free. */
const freshPod = (options: Parameters<typeof makePod>[0] = {}) =>
  Effect.flatMap(Kit, (kit) => kit.addPod(makePod(options)))

const sessionRow = (sql: TestSqlShape, id: string) =>
  sql
    .query<Record<string, unknown>>(
      "select s.*, (select to_jsonb(array_agg(sp.status)) from session_provisionings sp where sp.session_id = s.id) as provisioning from pod_sessions s where s.id = $1",
      [id]
    )
    .pipe(Effect.map((rows) => rows[0]))

const podInUse = (id: PodId) =>
  Effect.flatMap(SessionStore, (store) => store.podStatus(id)).pipe(Effect.map((s) => Option.getOrThrow(s).inUse))

/** Claims everything due for `sessionId`'s work at `now` as `worker`. */
const claimAll = (worker: string, now: Date, leaseFor = Duration.seconds(30)) =>
  Effect.flatMap(SessionStore, (store) => store.claimWork({ worker, now, leaseFor, limit: 1000 }))

/**
 * A pod held by an ended session's door code (`codeHold`); `override` is staff's forced
 * release (`StaffStore.freePod` with the hold staff saw).
 */
const codeHoldContract = (podId: PodId) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const kit = yield* Kit
    const override = (pod: PodId, holder: Session) => kit.freePod(pod, Option.some(holder.id))
    const status = () => Effect.map(store.podStatus(podId), Option.getOrThrow)
    const paid = new Paid({ paymentIntentId: "pi_hold", amountPence: pence(1000) })
    /** Opens, activates with a lock code, ends and closes keeping the pod for the code. */
    const endHolding = (startedAt: Date) =>
      Effect.gen(function* () {
        const opened = yield* store.openSession(makeSession(podId, { startedAt }), [])
        const active = yield* store.commit({
          before: opened,
          after: next(
            opened,
            { state: activate(opened, startedAt).state, access: Option.some(grant("lock-provider")) },
            startedAt
          ),
          releasePod: false,
          work: []
        })
        const ending = yield* store.commit({
          before: active,
          after: beginEnd(active, minutes(startedAt, 10)),
          releasePod: false,
          work: []
        })
        return yield* store.commit({
          before: ending,
          after: close(ending, paid, minutes(startedAt, 11)),
          releasePod: false,
          codeHold: "keep",
          work: []
        })
      })
    const revoked = (session: Session, when: Date) =>
      store.commit({
        before: session,
        after: next(session, { accessRevokedAt: Option.some(when) }, when),
        releasePod: false,
        codeHold: "free",
        work: []
      })

    // Closed, but its code may open the door: the pod stays in use, held by that code.
    const a = yield* endHolding(T0)
    const held = yield* status()
    expect([held.inUse, Option.getOrNull(held.codeHold)]).toEqual([true, { sessionId: a.id, since: minutes(T0, 11) }])
    expect(yield* store.liveSessionsOnPod(podId)).toEqual([])
    expect(yield* Effect.flip(store.openSession(makeSession(podId), []))).toMatchObject({ _tag: "PodInUse" })
    // Its revocation, recorded, frees the pod in the same step.
    const aRevoked = yield* revoked(a, minutes(T0, 12))
    expect(Option.isSome(aRevoked.accessRevokedAt)).toBe(true)
    const freed = yield* status()
    expect([freed.inUse, freed.codeHold]).toEqual([false, Option.none()])

    // Staff override B's hold, someone books: B's late revocation must not free C's pod.
    const b = yield* endHolding(minutes(T0, 30))
    expect((yield* override(podId, a)).freed).toBe(false) // not the hold staff saw: refused
    expect(yield* override(podId, b)).toEqual({ freed: true })
    expect([(yield* status()).inUse, (yield* status()).codeHold]).toEqual([false, Option.none()])
    const c = yield* store.openSession(makeSession(podId, { startedAt: minutes(T0, 50) }), [])
    const bRevoked = yield* revoked(b, minutes(T0, 51))
    const stillC = yield* status()
    expect([stillC.inUse, stillC.codeHold]).toEqual([true, Option.none()])
    // Nor does a later change of B that releases the pod: C still holds it.
    yield* store.commit({
      before: bRevoked,
      after: next(bRevoked, {}, minutes(T0, 52)),
      releasePod: true,
      work: []
    })
    expect((yield* status()).inUse).toBe(true)
    expect((yield* store.liveSessionsOnPod(podId)).map((s) => s.id)).toEqual([c.id])
    // A live session is never overridden by a staff release either.
    expect(yield* override(podId, c)).toEqual({ freed: false })
  })

/** How a store's suite runs one contract test, with `SessionStore` and `Kit` provided. */
interface ContractRunner {
  readonly effect: (name: string, body: () => Effect.Effect<void, unknown, SessionStore | Kit>) => void
}

const contract = (it: ContractRunner) => {
  it.effect("a pod held by a code is freed by its revocation only while still held for it", () =>
    Effect.gen(function* () {
      const pod = yield* freshPod({ mode: "lock-provider", deviceId: "dev-hold" })
      yield* codeHoldContract(pod.id)
      // The previous service freeing the pod itself clears the hold with it.
      yield* onSql(({ sql }) =>
        Effect.gen(function* () {
          const store = yield* SessionStore
          yield* sql.query(
            "update pods set in_use = true, code_hold_session_id = $1, code_hold_since = now() where id = $2",
            [randomUUID(), pod.id]
          )
          yield* sql.query("update pods set in_use = false where id = $1", [pod.id])
          expect(Option.getOrThrow(yield* store.podStatus(pod.id)).codeHold).toEqual(Option.none())
        })
      )
    })
  )

  it.effect("openSession claims the pod and stores the session, its provisioning row and its work", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const pod = yield* freshPod()
      const session = makeSession(pod.id)
      const opened = yield* store.openSession(session, [workFor(session.id, "provision-access", T0)])
      expect(encoded(Session, opened)).toEqual(encoded(Session, session))
      expect(yield* podInUse(pod.id)).toBe(true)
      expect(Option.map(yield* store.session(session.id), (s) => encoded(Session, s))).toEqual(
        Option.some(encoded(Session, session))
      )
      const withPod = Option.getOrThrow(yield* store.sessionWithPod(session.id))
      expect(encoded(Session, withPod.session)).toEqual(encoded(Session, session))
      expect(withPod.pod).toEqual(pod)
      expect(Option.map(yield* store.sessionForSetupIntent(session.setupIntentId), (s) => s.id)).toEqual(
        Option.some(session.id)
      )
      expect((yield* store.liveSessionsOnPod(pod.id)).map((s) => s.id)).toEqual([session.id])
      const claimed = (yield* claimAll("w-open", T0)).filter((w) => w.sessionId === session.id)
      expect(claimed.map((w) => w.kind)).toEqual(["provision-access"])

      yield* onSql(({ sql }) =>
        Effect.gen(function* () {
          const row = yield* sessionRow(sql, session.id)
          expect(row).toMatchObject({
            pod_id: pod.id,
            user_email: "ada@example.com",
            stripe_customer_id: "cus_test",
            stripe_payment_method: "pm_test",
            stripe_setup_intent_id: session.setupIntentId,
            end_time: null,
            state: "Provisioning",
            version: 0,
            provisioning: ["pending"]
          })
          expect(new Date(row?.start_time as string | Date).toISOString()).toBe(T0.toISOString())
        })
      )
    })
  )

  it.effect("openSession returns the stored session for a SetupIntent seen before, unchanged", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const pod = yield* freshPod()
      const other = yield* freshPod()
      const first = makeSession(pod.id)
      yield* store.openSession(first, [])
      const retry = makeSession(other.id, { setupIntentId: first.setupIntentId, startedAt: minutes(T0, 5) })
      const again = yield* store.openSession(retry, [workFor(retry.id, "provision-access", T0)])
      expect(encoded(Session, again)).toEqual(encoded(Session, first))
      expect(yield* podInUse(other.id)).toBe(false)
      expect(yield* store.session(retry.id)).toEqual(Option.none())
    })
  )

  it.effect("openSession refuses a held pod and a missing one", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const pod = yield* freshPod()
      yield* store.openSession(makeSession(pod.id), [])
      const held = yield* Effect.flip(store.openSession(makeSession(pod.id), []))
      expect(held).toMatchObject({ _tag: "PodInUse", podId: pod.id })
      const missing = newPodId("missing")
      const notFound = yield* Effect.flip(store.openSession(makeSession(missing), []))
      expect(notFound).toMatchObject({ _tag: "PodNotFound", podId: missing })
    })
  )

  it.effect("commit applies a transition only to the version it was computed from", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const pod = yield* freshPod()
      const session = yield* store.openSession(makeSession(pod.id), [])
      const active = activate(session, minutes(T0, 1))
      const stored = yield* store.commit({ before: session, after: active, releasePod: false, work: [] })
      expect(encoded(Session, stored)).toEqual(encoded(Session, active))
      const stale = yield* Effect.flip(
        store.commit({ before: session, after: failProvisioning(session, T0), releasePod: true, work: [] })
      )
      expect(stale).toMatchObject({ _tag: "StaleSession", sessionId: session.id, expectedVersion: 0 })
      expect(Option.map(yield* store.session(session.id), (s) => encoded(Session, s))).toEqual(
        Option.some(encoded(Session, active))
      )
      expect(yield* podInUse(pod.id)).toBe(true)
      yield* onSql(({ sql }) =>
        Effect.gen(function* () {
          expect((yield* sessionRow(sql, session.id))?.provisioning).toEqual(["ready"])
          expect((yield* sessionRow(sql, session.id))?.access_code_id).toBe(Option.getOrThrow(active.access).ref)
        })
      )
    })
  )

  it.effect("ending: the end is written for old readers, the close frees the pod and records one charge", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const kit = yield* Kit
      const pod = yield* freshPod()
      const session = yield* store.openSession(makeSession(pod.id), [])
      const active = yield* store.commit({
        before: session,
        after: activate(session, minutes(T0, 1)),
        releasePod: false,
        work: []
      })
      const endedAt = minutes(T0, 20)
      const ending = yield* store.commit({
        before: active,
        after: beginEnd(active, endedAt),
        releasePod: false,
        work: [workFor(session.id, "close-session", minutes(endedAt, 2))]
      })
      expect(yield* podInUse(pod.id)).toBe(true)
      yield* onSql(({ records, sql }) =>
        Effect.gen(function* () {
          const endTime = (yield* sessionRow(sql, session.id))?.end_time as string
          expect(new Date(endTime).toISOString()).toBe(endedAt.toISOString())
          expect(yield* records.chargeFor(session.id)).toEqual(Option.none())
        })
      )

      const paid = new Paid({ paymentIntentId: "pi_1", amountPence: pence(1000) })
      const closed = yield* store.commit({
        before: ending,
        after: close(ending, paid, minutes(T0, 21)),
        releasePod: true,
        work: [workFor(session.id, "revoke-access", minutes(T0, 21))]
      })
      expect(closed.state._tag).toBe("Ended")
      expect(yield* podInUse(pod.id)).toBe(false)
      expect(yield* store.liveSessionsOnPod(pod.id)).toEqual([])
      expect((yield* kit.workOf(session.id)).map((w) => w.kind).sort()).toEqual(["close-session", "revoke-access"])
      yield* onSql(({ records }) =>
        Effect.gen(function* () {
          const charge = Option.getOrThrow(yield* records.chargeFor(session.id))
          expect(charge).toMatchObject({
            sessionId: session.id,
            amountPence: 1000,
            paymentIntentId: "pi_1",
            idempotencyKey: `qwip-session-charge-${session.id}`,
            status: "succeeded",
            currency: "gbp"
          })
          expect((yield* records.listCharges(1000)).map((c) => c.sessionId)).toContain(session.id)
          expect(yield* records.paymentAttemptsFor(session.id)).toEqual([])
        })
      )
    })
  )

  it.effect("a failed charge adds one invalid_payment_attempts row; settling updates the one charge row", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const pod = yield* freshPod()
      const session = yield* store.openSession(makeSession(pod.id), [])
      const ending = yield* store.commit({
        before: session,
        after: beginEnd(session, minutes(T0, 20), 1234),
        releasePod: false,
        work: []
      })
      const failed = new PaymentFailed({
        paymentIntentId: Option.some("pi_declined"),
        declineCode: "card_declined",
        message: "Your card was declined."
      })
      const closed = yield* store.commit({
        before: ending,
        after: close(ending, failed, minutes(T0, 21)),
        releasePod: true,
        work: []
      })
      const refailed = new PaymentFailed({
        paymentIntentId: Option.some("pi_declined"),
        declineCode: "x",
        message: "y"
      })
      const settledAgain = yield* store.commit({
        before: closed,
        after: close(closed, refailed, minutes(T0, 22)),
        releasePod: false,
        work: []
      })
      yield* onSql(({ records }) =>
        Effect.gen(function* () {
          const attempts = yield* records.paymentAttemptsFor(session.id)
          expect(attempts).toHaveLength(1)
          expect(attempts[0]).toMatchObject({
            sessionCost: 1234,
            paymentIntentId: "pi_declined",
            declineCode: "card_declined"
          })
          expect(Option.getOrThrow(yield* records.chargeFor(session.id))).toMatchObject({
            status: "failed",
            amountPence: 1234,
            paymentIntentId: "pi_declined",
            detail: "x: y" // the latest decline, as settling recorded it
          })
        })
      )
      const paid = yield* store.commit({
        before: settledAgain,
        after: close(settledAgain, new Paid({ paymentIntentId: "pi_declined", amountPence: pence(1234) }), T0),
        releasePod: false,
        work: []
      })
      expect(paid.state._tag === "Ended" && paid.state.outcome._tag).toBe("Paid")
      yield* onSql(({ records }) =>
        Effect.gen(function* () {
          expect(Option.getOrThrow(yield* records.chargeFor(session.id)).status).toBe("succeeded")
          expect(yield* records.paymentAttemptsFor(session.id)).toHaveLength(1)
        })
      )
    })
  )

  it.effect("a failed provisioning frees the pod and marks today's provisioning row failed", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const pod = yield* freshPod()
      const session = yield* store.openSession(makeSession(pod.id), [])
      yield* store.commit({
        before: session,
        after: failProvisioning(session, minutes(T0, 3)),
        releasePod: true,
        work: []
      })
      expect(yield* podInUse(pod.id)).toBe(false)
      yield* onSql(({ sql }) =>
        Effect.gen(function* () {
          const row = yield* sessionRow(sql, session.id)
          expect(row?.provisioning).toEqual(["failed"])
          expect(row?.end_time).not.toBeNull()
        })
      )
      // the pod can be booked again
      yield* store.openSession(makeSession(pod.id), [])
    })
  )

  it.effect("every state and outcome round-trips exactly", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const outcomes = [
        new Paid({ paymentIntentId: "pi_ok", amountPence: pence(500) }),
        new NotBilled(),
        new NotBilled({ reason: "no_door_code" }),
        new Waived({ reason: "door jammed", by: "sam" }),
        new PaymentFailed({ paymentIntentId: Option.none(), declineCode: "expired_card", message: "expired" }),
        new NeedsAuthentication({ paymentIntentId: "pi_sca" }),
        new PaymentUnknown({ detail: "timeout" })
      ]
      // What an end billed from, in turn: the code's readiness, nothing (no code), the booking (older ends).
      const billedFroms: ReadonlyArray<BilledFrom> = [
        { _tag: "CodeReady", at: minutes(T0, 1) },
        { _tag: "NoCode" },
        { _tag: "Booking" }
      ]
      for (const [i, outcome] of outcomes.entries()) {
        const pod = yield* freshPod()
        const opened = yield* store.openSession(makeSession(pod.id), [])
        const active = yield* store.commit({
          before: opened,
          after: activate(opened, minutes(T0, 1)),
          releasePod: false,
          work: []
        })
        const ending = next(
          active,
          {
            state: new Ending({
              endedAt: minutes(T0, 30),
              quote: quoteFor(0),
              billedFrom: billedFroms[i % billedFroms.length] ?? { _tag: "Booking" },
              waiver: Option.some({ reason: "staff", by: "sam" }),
              by: Staff("sam")
            })
          },
          minutes(T0, 30)
        )
        const e = yield* store.commit({ before: active, after: ending, releasePod: false, work: [] })
        const ended = close(e, outcome, minutes(T0, 31))
        const revoked = next(ended, { accessRevokedAt: Option.some(minutes(T0, 32)) }, minutes(T0, 32))
        yield* store.commit({ before: e, after: ended, releasePod: true, work: [] })
        yield* store.commit({ before: ended, after: revoked, releasePod: false, work: [] })
        const read = Option.getOrThrow(yield* store.session(opened.id))
        expect(encoded(Session, read)).toEqual(encoded(Session, revoked))
        expect(read.state).toEqual(revoked.state)
        if (outcome._tag === "NotBilled") {
          yield* onSql(({ records }) =>
            Effect.map(records.chargeFor(opened.id), (charge) =>
              expect(Option.getOrThrow(charge)).toMatchObject({ status: "not_billed", amountPence: 0 })
            )
          )
        }
      }
    })
  )

  it.effect(
    "a session's collection (hold, dunning with its attempts, refunds) round-trips through open and commit",
    () =>
      Effect.gen(function* () {
        const store = yield* SessionStore
        const pod = yield* freshPod()
        const hold = cardHold({ amountPence: 1500 })
        const booked = next(makeSession(pod.id), { collection: collectionWith({ hold: Option.some(hold) }) }, T0)
        const opened = yield* store.openSession(booked, [])
        expect(encoded(Session, opened)).toEqual(encoded(Session, booked))
        // A repeated finalize finds the hold recorded with the session.
        const again = yield* store.openSession(makeSession(pod.id, { setupIntentId: booked.setupIntentId }), [])
        expect(again.collection).toEqual(booked.collection)
        const active = yield* store.commit({
          before: opened,
          after: activate(opened, minutes(T0, 1)),
          releasePod: false,
          work: []
        })
        expect((yield* store.liveSessionsOnPod(pod.id)).map((s) => s.collection)).toEqual([booked.collection])
        const ending = yield* store.commit({
          before: active,
          after: beginEnd(active, minutes(T0, 30), 2400),
          releasePod: false,
          work: []
        })
        // The end captured the hold and the remainder was declined: dunning's first retry was
        // declined too and its second is being sent; refunds of every kind (staff's, one that
        // failed, one made in the dashboard and still pending).
        const declined = new PaymentFailed({
          paymentIntentId: Option.some("pi_rest"),
          declineCode: "insufficient_funds",
          message: "Your card has insufficient funds."
        })
        const collection = collectionWith({
          hold: Option.some(cardHold({ amountPence: 1500, status: "captured", capturedPence: 1500 })),
          dunning: Option.some(
            dunning("scheduled", Option.some(minutes(T0, 3 * 24 * 60)), [
              collectionAttempt(booked.id, 1, "declined", minutes(T0, 24 * 60), 900),
              collectionAttempt(booked.id, 2, "pending", minutes(T0, 3 * 24 * 60), 900)
            ])
          ),
          refunds: [
            refund("pi_rest", 300, "succeeded", minutes(T0, 5 * 24 * 60)),
            refund(hold.paymentIntentId, 100, "failed", minutes(T0, 5 * 24 * 60)),
            refund("pi_rest", 200, "pending", minutes(T0, 6 * 24 * 60), `provider:re_${booked.id}`)
          ]
        })
        const ended = next(close(ending, declined, minutes(T0, 31)), { collection }, minutes(T0, 31))
        const closed = yield* store.commit({ before: ending, after: ended, releasePod: true, work: [] })
        expect(encoded(Session, closed)).toEqual(encoded(Session, ended))
        const read = Option.getOrThrow(yield* store.session(booked.id))
        expect(encoded(Session, read)).toEqual(encoded(Session, ended))
        expect(read.collection).toEqual(collection)
        expect(Option.getOrThrow(yield* store.sessionWithPod(booked.id)).session.collection).toEqual(collection)
        expect(Option.map(yield* store.sessionForSetupIntent(booked.setupIntentId), (s) => s.collection)).toEqual(
          Option.some(collection)
        )
        // Emptied again (not a real flow, but a store keeps what it is given).
        const emptied = yield* store.commit({
          before: closed,
          after: next(closed, { collection: noCollection }, minutes(T0, 32)),
          releasePod: false,
          work: []
        })
        expect(Option.getOrThrow(yield* store.session(emptied.id)).collection).toEqual(noCollection)
      })
  )

  it.effect("the charge row's refunded amount, dunning status and next attempt follow the session", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const pod = yield* freshPod()
      const opened = yield* store.openSession(makeSession(pod.id), [])
      const ending = yield* store.commit({
        before: opened,
        after: beginEnd(opened, minutes(T0, 20), 1200),
        releasePod: false,
        work: []
      })
      const declined = new PaymentFailed({
        paymentIntentId: Option.some("pi_dun"),
        declineCode: "insufficient_funds",
        message: "Your card has insufficient funds."
      })
      const firstTry = minutes(T0, 21 + 24 * 60)
      const scheduled = next(
        close(ending, declined, minutes(T0, 21)),
        { collection: collectionWith({ dunning: Option.some(dunning("scheduled", Option.some(firstTry))) }) },
        minutes(T0, 21)
      )
      const closed = yield* store.commit({ before: ending, after: scheduled, releasePod: true, work: [] })
      /** The row as the core computes it from the session: what every store must hold. */
      const expected = (session: Session) => {
        const charge = Option.getOrThrow(chargeOf(session))
        return {
          status: charge.status,
          refundedPence: charge.refundedPence,
          collection: Option.getOrNull(charge.collection),
          nextAttemptAt: Option.getOrNull(charge.nextAttemptAt)
        }
      }
      expect(expected(closed)).toEqual({
        status: "failed",
        refundedPence: 0,
        collection: "scheduled",
        nextAttemptAt: firstTry
      })
      /** The staff listing's row (`qwip payments list`); SQL stores only, as `onSql`. */
      const staffCharge = Effect.flatMap(Effect.serviceOption(StoreBackend), (backend) =>
        Effect.map(StaffQueries.makeViews(Option.getOrThrow(backend)).charges({ failed: false, limit: 1000 }), (all) =>
          all.find((c) => c.sessionId === opened.id)
        )
      )
      yield* onSql(({ records }) =>
        Effect.gen(function* () {
          expect(Option.getOrThrow(yield* records.chargeFor(opened.id))).toMatchObject(expected(closed))
          expect(yield* staffCharge).toMatchObject(expected(closed))
        })
      )

      // Collected on the second attempt, then refunded in part: 300 + 200 pending; the failed one does not count.
      const paid = next(
        close(
          closed,
          new Paid({ paymentIntentId: "pi_collect_2", amountPence: pence(1200) }),
          minutes(T0, 3 * 24 * 60)
        ),
        {
          collection: collectionWith({
            dunning: Option.some(
              dunning("paid", Option.none(), [
                collectionAttempt(opened.id, 1, "declined", firstTry, 1200),
                collectionAttempt(opened.id, 2, "succeeded", minutes(T0, 3 * 24 * 60), 1200)
              ])
            ),
            refunds: [
              refund("pi_collect_2", 300, "succeeded", minutes(T0, 4 * 24 * 60)),
              refund("pi_collect_2", 500, "failed", minutes(T0, 4 * 24 * 60)),
              refund("pi_collect_2", 200, "pending", minutes(T0, 4 * 24 * 60))
            ]
          })
        },
        minutes(T0, 4 * 24 * 60)
      )
      const settled = yield* store.commit({ before: closed, after: paid, releasePod: false, work: [] })
      expect(expected(settled)).toEqual({
        status: "succeeded",
        refundedPence: 500,
        collection: "paid",
        nextAttemptAt: null
      })
      yield* onSql(({ records }) =>
        Effect.gen(function* () {
          expect(Option.getOrThrow(yield* records.chargeFor(opened.id))).toMatchObject({
            ...expected(settled),
            paymentIntentId: "pi_collect_2",
            amountPence: 1200
          })
          expect(yield* staffCharge).toMatchObject(expected(settled))
          expect((yield* records.listCharges(1000)).find((c) => c.sessionId === opened.id)).toMatchObject(
            expected(settled)
          )
        })
      )
    })
  )

  it.effect("a row with no collection recorded (every row before it existed) reads as the empty collection", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const pod = yield* freshPod()
      const booked = next(makeSession(pod.id), { collection: collectionWith({ hold: Option.some(cardHold()) }) }, T0)
      yield* store.openSession(booked, [])
      yield* onSql(({ sql }) =>
        Effect.gen(function* () {
          yield* sql.query("update pod_sessions set collection_data = null where id = $1", [booked.id])
          const [doc] = yield* sql.query<{ has: boolean }>(
            "select qwip_session_doc(s) ? 'collection' as has from pod_sessions s where s.id = $1",
            [booked.id]
          )
          expect(doc?.has).toBe(false)
          const read = Option.getOrThrow(yield* store.session(booked.id))
          expect(read.collection).toEqual(noCollection)
          expect(encoded(Session, read)).toEqual(encoded(Session, new Session({ ...booked, collection: noCollection })))
          // and a change to it records its collection from then on
          const held = collectionWith({ hold: Option.some(cardHold({ amountPence: 900 })) })
          yield* store.commit({
            before: read,
            after: next(read, { collection: held }, minutes(T0, 1)),
            releasePod: false,
            work: []
          })
          expect(Option.getOrThrow(yield* store.session(booked.id)).collection).toEqual(held)
        })
      )
    })
  )

  it.effect("enqueue returns only the keys that were new; finished work is kept as history", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const kit = yield* Kit
      const session = makeSession(newPodId())
      const mail = mailFor(session.id, T0)
      const first = yield* store.enqueue([mail, workFor(session.id, "settle-charge", T0)])
      expect([...first].sort()).toEqual([mail.key, `settle-charge:${session.id}`].sort())
      expect(yield* store.enqueue([mail])).toEqual([])
      expect(yield* store.enqueue([])).toEqual([])
      const claimed = (yield* claimAll("w-enq", T0)).filter((w) => w.sessionId === session.id)
      expect(claimed).toHaveLength(2)
      const mailItem = claimed.find((w) => w.kind === "send-mail")
      expect(Option.isSome(mailItem?.message ?? Option.none())).toBe(true)
      expect(Option.getOrThrow(mailItem?.message ?? Option.none())).toEqual(Option.getOrThrow(mail.message))
      for (const item of claimed) yield* store.finishWork(item)
      expect(yield* store.enqueue([mail])).toEqual([]) // keys are unique for ever
      expect((yield* kit.workOf(session.id)).map((w) => w.status)).toEqual(["done", "done"])
      expect((yield* claimAll("w-enq", minutes(T0, 60))).filter((w) => w.sessionId === session.id)).toEqual([])
    })
  )

  it.effect("claimWork takes due work only, up to the limit, in run order, counting attempts", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const session = makeSession(newPodId())
      const base = minutes(T0, 24 * 60 * 365) // a year on, so other tests' work is due too
      yield* store.enqueue([
        workFor(session.id, "send-mail", minutes(base, 2), `c:${session.id}`),
        workFor(session.id, "send-mail", minutes(base, 1), `b:${session.id}`),
        workFor(session.id, "send-mail", minutes(base, 0), `a:${session.id}`),
        workFor(session.id, "send-mail", minutes(base, 10), `later:${session.id}`)
      ])
      const now = minutes(base, 5)
      for (const w of yield* claimAll("w-drain", now, Duration.minutes(1))) yield* store.finishWork(w)
      yield* store.enqueue([
        workFor(session.id, "send-mail", minutes(base, 2), `f:${session.id}`),
        workFor(session.id, "send-mail", minutes(base, 1), `e:${session.id}`),
        workFor(session.id, "send-mail", minutes(base, 0), `d:${session.id}`)
      ])
      const two = yield* store.claimWork({ worker: "w1", now, leaseFor: Duration.seconds(30), limit: 2 })
      expect(two.map((w) => w.key)).toEqual([`d:${session.id}`, `e:${session.id}`])
      expect(two.every((w) => w.attempts === 1 && w.leasedBy === "w1")).toBe(true)
      expect(two[0]?.leaseUntil.toISOString()).toBe(new Date(now.getTime() + 30_000).toISOString())
      const rest = yield* store.claimWork({ worker: "w2", now, leaseFor: Duration.seconds(30), limit: 10 })
      expect(rest.map((w) => w.key)).toEqual([`f:${session.id}`])
    })
  )

  it.effect("a lease keeps work from others until it runs out; then it is claimed again", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const session = makeSession(newPodId())
      const base = minutes(T0, 2 * 24 * 60 * 365)
      yield* store.enqueue([workFor(session.id, "revoke-access", base)])
      const mine = <W extends { readonly sessionId: string }>(items: ReadonlyArray<W>) =>
        items.filter((w) => w.sessionId === session.id)
      const first = mine(yield* claimAll("w1", base, Duration.seconds(30)))
      expect(first).toHaveLength(1)
      expect(mine(yield* claimAll("w2", minutes(base, 0.25)))).toEqual([])
      const again = mine(yield* claimAll("w2", minutes(base, 1), Duration.minutes(10)))
      expect(again.map((w) => [w.leasedBy, w.attempts])).toEqual([["w2", 2]])
      // the first worker lost the lease: its finish changes nothing
      yield* Effect.forEach(first, (w) => store.finishWork(w))
      expect(mine(yield* claimAll("w3", minutes(base, 2)))).toEqual([])
      yield* Effect.forEach(again, (w) => store.finishWork(w))
    })
  )

  it.effect("finish, park and defer act only for the worker holding the lease", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const kit = yield* Kit
      const session = makeSession(newPodId())
      const base = minutes(T0, 3 * 24 * 60 * 365)
      yield* store.enqueue([
        workFor(session.id, "send-mail", base, `park:${session.id}`),
        workFor(session.id, "send-mail", base, `defer:${session.id}`)
      ])
      const claimed = (yield* claimAll("w1", base)).filter((w) => w.sessionId === session.id)
      const park = claimed.find((w) => w.key.startsWith("park"))
      const defer = claimed.find((w) => w.key.startsWith("defer"))
      if (park === undefined || defer === undefined) throw new Error("not claimed")
      const impostor = { ...park, leasedBy: "w9" } as typeof park
      yield* store.parkWork(impostor, "not mine")
      yield* store.deferWork({ ...defer, leasedBy: "w9" } as typeof defer, minutes(base, 60), "not mine")
      expect((yield* kit.workOf(session.id)).map((w) => [w.status, w.lastError])).toEqual([
        ["pending", null],
        ["pending", null]
      ])
      yield* store.parkWork(park, "lock offline for good")
      yield* store.deferWork(defer, minutes(base, 10), "lock busy")
      const after = yield* kit.workOf(session.id)
      expect(after.find((w) => w.key === park.key)).toMatchObject({
        status: "parked",
        lastError: "lock offline for good"
      })
      expect(after.find((w) => w.key === defer.key)).toMatchObject({ status: "pending", lastError: "lock busy" })
      expect((yield* claimAll("w2", minutes(base, 5))).filter((w) => w.sessionId === session.id)).toEqual([])
      const retried = (yield* claimAll("w2", minutes(base, 10))).filter((w) => w.sessionId === session.id)
      expect(retried.map((w) => [w.key, w.attempts, Option.getOrNull(w.lastError)])).toEqual([
        [defer.key, 2, "lock busy"]
      ])
    })
  )

  it.effect("renewLease extends only a lease the worker still holds", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const session = makeSession(newPodId())
      const base = minutes(T0, 5 * 24 * 60 * 365)
      yield* store.enqueue([workFor(session.id, "provision-access", base)])
      const mine = <W extends { readonly sessionId: string }>(items: ReadonlyArray<W>) =>
        items.filter((w) => w.sessionId === session.id)
      const [held] = mine(yield* claimAll("w1", base, Duration.seconds(30)))
      if (held === undefined) throw new Error("not claimed")
      // Renewed before it ran out: still held at 5 minutes, when the first lease had long gone.
      expect(yield* store.renewLease(held, minutes(base, 10))).toBe(true)
      expect(mine(yield* claimAll("w2", minutes(base, 5)))).toEqual([])
      expect(yield* store.renewLease({ ...held, leasedBy: "w9" } as typeof held, minutes(base, 60))).toBe(false)
      expect(mine(yield* claimAll("w2", minutes(base, 9)))).toEqual([])
      // Once it runs out another worker takes it; the first can no longer renew or finish it.
      const taken = mine(yield* claimAll("w2", minutes(base, 10)))
      expect(taken.map((w) => [w.leasedBy, w.attempts])).toEqual([["w2", 2]])
      expect(yield* store.renewLease(held, minutes(base, 20))).toBe(false)
      // Finished work has no lease to renew.
      yield* Effect.forEach(taken, (w) => store.finishWork(w))
      expect(yield* Effect.forEach(taken, (w) => store.renewLease(w, minutes(base, 30)))).toEqual([false])
    })
  )

  it.effect("releaseLeases gives a worker's work back at once", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const session = makeSession(newPodId())
      const base = minutes(T0, 4 * 24 * 60 * 365)
      yield* store.enqueue([workFor(session.id, "send-mail", base, `rel:${session.id}`)])
      const mine = <W extends { readonly sessionId: string }>(items: ReadonlyArray<W>) =>
        items.filter((w) => w.sessionId === session.id)
      expect(mine(yield* claimAll("w-stop", base, Duration.minutes(10)))).toHaveLength(1)
      expect(mine(yield* claimAll("w-other", base))).toHaveLength(0)
      yield* store.releaseLeases("w-stop")
      expect(mine(yield* claimAll("w-other", base)).map((w) => w.attempts)).toEqual([2])
    })
  )

  it.effect("liveSessionsPastWindow lists live sessions whose door-code window closed", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const start = minutes(T0, -10 * 24 * 60 * 365) // long ago: before every other test's sessions
      const live = yield* store.openSession(makeSession((yield* freshPod()).id, { startedAt: start }), [])
      const done = yield* store.openSession(makeSession((yield* freshPod()).id, { startedAt: start }), [])
      yield* store.commit({ before: done, after: failProvisioning(done, start), releasePod: true, work: [] })
      const ids = (yield* store.liveSessionsPastWindow(minutes(start, 181))).map((s) => s.id)
      expect(ids).toContain(live.id)
      expect(ids).not.toContain(done.id)
      expect((yield* store.liveSessionsPastWindow(minutes(start, 179))).map((s) => s.id)).not.toContain(live.id)
    })
  )
}

describe("[memory] session store contract", () => {
  contract({
    effect: (name, body) =>
      vitestIt.effect(name, () => body().pipe(Effect.provide(Layer.provideMerge(memoryKit, layerMemoryStore()))))
  })
})

forEachStore("session store contract", (it) => {
  contract({ effect: (name, body) => it.effect(name, () => body().pipe(Effect.provide(sqlKit))) })
})

forEachStore("session store records", (it) => {
  it.effect("pods: upserted settings are read back; a missing pod is none", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const records = yield* StoreRecords
      const sql = yield* TestSql
      const pod = makePod({ rate: 1250, mode: "lock-provider", deviceId: "dev-1" })
      const status = yield* records.upsertPod(pod)
      expect(encoded(PodStatus, status)).toEqual(encoded(PodStatus, new PodStatus({ pod, inUse: false })))
      expect(yield* store.pod(pod.id)).toEqual(Option.some(pod))
      expect((yield* store.pods).map((p) => p.pod.id)).toContain(pod.id)
      expect(yield* store.pod(newPodId("missing"))).toEqual(Option.none())
      expect(yield* store.podStatus(newPodId("missing"))).toEqual(Option.none())
      // today's float price is kept written for old readers
      const [row] = yield* sql.query<{ price: number }>("select price from pods where id = $1", [pod.id])
      expect(row?.price).toBe(0.125)
    })
  )

  it.effect("platform records: static codes, webhook events, audit log, outbox, sandbox payments", () =>
    Effect.gen(function* () {
      const records = yield* StoreRecords
      const pod = (yield* records.upsertPod(makePod())).pod
      const codes = ["04726", "12345", "00007"].map((c) => Schema.decodeSync(AccessCode)(c))
      expect(yield* records.setCodes(pod.id, codes)).toBe(true)
      expect(yield* records.codesFor(pod.id)).toEqual(["00007", "04726", "12345"])
      expect(yield* records.setCodes(pod.id, codes.slice(0, 1))).toBe(true)
      expect(yield* records.codesFor(pod.id)).toEqual(["04726"])
      expect(yield* records.setCodes(newPodId("missing"), codes)).toBe(false)
      expect(yield* records.codesFor(newPodId("missing"))).toEqual([])

      const eventId = `evt_${pod.id}`
      const first = yield* records.recordWebhookEvent({ eventId, type: "setup_intent.succeeded", payload: { a: 1 } })
      const second = yield* records.recordWebhookEvent({ eventId, type: "setup_intent.succeeded", payload: { a: 1 } })
      expect([first.isNew, second.isNew, second.deliveries, second.status]).toEqual([true, false, 2, "received"])
      expect(yield* records.finishWebhookEvent(eventId, { status: "failed", error: "boom" })).toBe(true)
      const third = yield* records.recordWebhookEvent({ eventId, type: "setup_intent.succeeded", payload: {} })
      expect([third.isNew, third.status, third.error]).toEqual([false, "failed", "boom"])

      yield* records.appendAudit({
        actor: "sam",
        action: "end-session",
        subject: pod.id,
        before: { a: 1 },
        after: null
      })
      yield* records.appendAudit({ actor: "sam", action: "waive", subject: pod.id, after: { b: 2 } })
      const audit = yield* records.listAudit({ subject: pod.id })
      expect(audit.map((a) => [a.actor, a.action, a.before, a.after])).toEqual([
        ["sam", "waive", null, { b: 2 }],
        ["sam", "end-session", { a: 1 }, null]
      ])

      const key = `Receipt:${pod.id}`
      const mail = { messageKey: key, recipient: "ada@example.com", kind: "Receipt", message: { x: 1 } }
      expect(yield* records.addToOutbox(mail)).toBe(true)
      expect(yield* records.addToOutbox(mail)).toBe(false)
      const listed = (yield* records.listOutbox(1000)).filter((o) => o.messageKey === key)
      expect(listed).toHaveLength(1)
      expect(Option.map(yield* records.outboxEntry(listed[0]?.id ?? ""), (o) => o.messageKey)).toEqual(Option.some(key))
      expect(yield* records.outboxEntry("0")).toEqual(Option.none())

      const created = yield* records.createSandboxObject({
        id: `pi_${pod.id}`,
        object: "payment_intent",
        idempotencyKey: `key-${pod.id}`,
        status: "succeeded",
        amountPence: 500
      })
      const repeated = yield* records.createSandboxObject({
        id: `pi_other_${pod.id}`,
        object: "payment_intent",
        idempotencyKey: `key-${pod.id}`,
        status: "succeeded",
        amountPence: 999
      })
      expect(repeated.id).toBe(created.id)
      expect(repeated.amountPence).toBe(500)
      const updated = yield* records.updateSandboxObject(created.id, "refunded", { refund: "re_1" })
      expect(Option.map(updated, (o) => [o.status, o.data])).toEqual(Option.some(["refunded", { refund: "re_1" }]))
      expect(yield* records.sandboxObject("pi_nope")).toEqual(Option.none())
      const found = yield* records.findSandboxObject("payment_intent", "refund", "re_1")
      expect(Option.map(found, (o) => o.id)).toEqual(Option.some(created.id))
      expect(yield* records.findSandboxObject("customer", "refund", "re_1")).toEqual(Option.none())
      expect((yield* records.listSandboxObjects(1000)).map((o) => o.id)).toContain(created.id)
    })
  )

  it.effect("store faults are defects, never silent successes", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const exit = yield* Effect.exit(store.session("not-a-uuid" as never))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      const unknown = yield* store.sessionForSetupIntent("seti_never" as SetupIntentId)
      expect(unknown).toEqual(Option.none())
    })
  )
})
