/**
 * Running @qwip/core's use cases against each store: a fresh store per scenario (core's
 * memory store, a clone of a migrated PGlite, or a fresh Postgres schema), the core's test
 * doubles for every other port, store fault injection, and a clock that jumps over sleeps
 * (retries and polls finish at once while the database does real I/O).
 */
import { randomBytes } from "node:crypto"
import { describe, layer, type Vitest, it as vitestIt } from "@effect/vitest"
import { layerPostgres, SqlStore, StoreBackend, StoreRecords, type StoreRecordsShape } from "@qwip/adapters/store/index"
import { backendFor, makeBackend, openPglite } from "@qwip/adapters/store/Pglite"
import * as StaffQueries from "@qwip/adapters/store/StaffQueries"
import {
  Checkout,
  type PayLinks,
  type Pod,
  type PodId,
  Policy,
  type PolicyShape,
  type Session,
  SessionStore,
  type SessionStoreShape,
  StaffStore,
  Worker
} from "@qwip/core"
import {
  type CardBehaviour,
  type FakePayLinks,
  FakePayments,
  type Faults,
  InjectedFault,
  layerFakeLock,
  layerFakeMailer,
  layerFakePayLinks,
  layerFakePayments,
  layerFakeStaticCodes,
  layerMemoryStaffStore,
  layerMemoryStore,
  MemoryStore,
  makeFaults,
  type StoreOperation,
  testPolicy
} from "@qwip/core/testing"
import { Clock, Context, Duration, Effect, Layer, Option, type Scope } from "effect"
import {
  freshSchema,
  type StoreName,
  type StoreServices,
  TestSql,
  type TestSqlShape,
  testDatabaseUrl,
  testPool
} from "./Stores.js"

/**
 * Sleeps of this length or more are watchdogs racing the work (a lease renewal, a run's time
 * limit), not waits the work itself takes: under a jumping clock they would fire at once.
 */
const WATCHDOG = Duration.seconds(10)

/** A clock whose sleeps move time forward at once; watchdog sleeps never end. */
export class JumpingClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  constructor(private now: number) {}
  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  readonly currentTimeMillis = Effect.sync(() => this.now)
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.now) * 1_000_000n
  }
  readonly currentTimeNanos = Effect.sync(() => this.unsafeCurrentTimeNanos())
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    if (Duration.greaterThanOrEqualTo(duration, WATCHDOG)) return Effect.never
    return Effect.suspend(() => {
      this.now += Math.ceil(Duration.toMillis(duration)) // whole milliseconds, as dates hold
      return Effect.yieldNow()
    })
  }
  /** Moves time on by `duration`. */
  adjust(duration: Duration.DurationInput): Effect.Effect<void> {
    return Effect.sync(() => {
      this.now += Math.ceil(Duration.toMillis(Duration.decode(duration)))
    })
  }
}

/**
 * Under the jumping clock a deadline shorter than a watchdog would fire at once, racing the
 * call it bounds: here the deadlines are watchdogs (the doubles answer at once), and the lease
 * is long enough for the policy's check that a charge chain fits inside it.
 */
const scenarioPolicy = {
  ...testPolicy,
  outsideCallDeadline: WATCHDOG,
  customerWait: WATCHDOG,
  workLease: Duration.minutes(1)
}

export class ScenarioClock extends Context.Tag("@qwip/tests/ScenarioClock")<ScenarioClock, JumpingClock>() {}

/** Switches to make the store fail before or after an operation lands, as the memory store's do. */
export class StoreFaults extends Context.Tag("@qwip/tests/StoreFaults")<StoreFaults, Faults<StoreOperation>>() {}

const withFaults = (store: SessionStoreShape, faults: Faults<StoreOperation>): SessionStoreShape => {
  const guard =
    (op: StoreOperation) =>
    <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.suspend(() =>
        faults.take(op, "before")
          ? Effect.die(new InjectedFault(op, "before"))
          : Effect.tap(self, () =>
              faults.take(op, "after") ? Effect.die(new InjectedFault(op, "after")) : Effect.void
            )
      )
  return {
    ...store,
    openSession: (session, work) => guard("openSession")(store.openSession(session, work)),
    commit: (change) => guard("commit")(store.commit(change)),
    enqueue: (work) => guard("enqueue")(store.enqueue(work)),
    claimWork: (request) => guard("claimWork")(store.claimWork(request)),
    finishWork: (item) => guard("finishWork")(store.finishWork(item))
  }
}

/** What scenarios need of a store beside `SessionStore`, which each store does its own way. */
export class ScenarioKit extends Context.Tag("@qwip/tests/ScenarioKit")<
  ScenarioKit,
  {
    /** Adds (or updates) a pod, free. */
    readonly addPod: (pod: Pod) => Effect.Effect<void>
    /** How many sessions the store holds. */
    readonly sessionCount: Effect.Effect<number>
  }
>() {}

/** Makes a fresh store for one scenario; the SQL stores add their `StoreServices` to it. */
export class FreshStore extends Context.Tag("@qwip/tests/FreshStore")<
  FreshStore,
  { readonly make: Effect.Effect<Context.Context<SessionStore | ScenarioKit>, never, Scope.Scope> }
>() {}

/** The kit of a SQL store, from its records and raw SQL. */
const sqlKit = (services: Context.Context<StoreServices>): Context.Context<StoreServices | ScenarioKit> => {
  const records = Context.get(services, StoreRecords)
  const sql = Context.get(services, TestSql)
  return Context.add(services, ScenarioKit, {
    addPod: (pod) => Effect.asVoid(records.upsertPod(pod)),
    sessionCount: sql
      .query<{ n: string | number }>("select count(*) as n from pod_sessions")
      .pipe(Effect.map((rows) => Number(rows[0]?.n)))
  })
}

const memoryFresh: Layer.Layer<FreshStore> = Layer.succeed(FreshStore, {
  make: Effect.gen(function* () {
    const services = yield* Layer.build(layerMemoryStore([]))
    const memory = Context.get(services, MemoryStore)
    return Context.add(services, ScenarioKit, {
      addPod: (pod) => Effect.sync(() => memory.addPod(pod)),
      sessionCount: Effect.sync(() => memory.sessions().length)
    })
  })
})

/** Checks only a SQL store can make (today's tables); skipped on the memory store. */
export const onSql = <E, R>(
  check: (sql: { readonly records: StoreRecordsShape; readonly sql: TestSqlShape }) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function* () {
    const records = yield* Effect.serviceOption(StoreRecords)
    const sql = yield* Effect.serviceOption(TestSql)
    if (Option.isSome(records) && Option.isSome(sql)) yield* check({ records: records.value, sql: sql.value })
  })

const pgliteFresh: Layer.Layer<FreshStore> = Layer.scoped(
  FreshStore,
  Effect.gen(function* () {
    const template = yield* openPglite({ setting: "test" }).pipe(Effect.orDie)
    yield* backendFor(template, "test").pipe(Effect.orDie) // migrate once
    return {
      make: Effect.gen(function* () {
        const db = yield* Effect.acquireRelease(
          Effect.promise(() => template.clone()),
          (db) => Effect.promise(() => db.close())
        )
        return sqlKit(
          SqlStore.servicesFor(makeBackend(db)).pipe(
            Context.add(TestSql, {
              schema: "public",
              query: <A>(text: string, params?: ReadonlyArray<unknown>) =>
                Effect.promise(() => db.query<A>(text, params === undefined ? [] : [...params])).pipe(
                  Effect.map((r) => r.rows)
                )
            })
          )
        )
      })
    }
  })
)

const postgresFresh: Layer.Layer<FreshStore> = Layer.succeed(FreshStore, {
  make: Effect.gen(function* () {
    const schema = yield* freshSchema("qwip_usecase")
    const pool = yield* testPool({ schema })
    const services = yield* Layer.build(
      layerPostgres({ url: testDatabaseUrl ?? "", schema, maxConnections: 20 }).pipe(Layer.orDie)
    )
    return sqlKit(
      services.pipe(
        Context.add(TestSql, {
          schema,
          query: <A>(text: string, params?: ReadonlyArray<unknown>) =>
            Effect.promise(() => pool.query(text, params === undefined ? [] : [...params])).pipe(
              Effect.map((r) => r.rows as Array<A>)
            )
        })
      )
    )
  })
})

export const scenarioStart = new Date("2030-06-03T09:00:00.000Z")

type Doubles = Layer.Layer.Success<typeof doubles>
const doubles = Layer.mergeAll(layerFakePayments, layerFakeLock, layerFakeStaticCodes, layerFakeMailer)

export type ScenarioServices = SessionStore | ScenarioKit | Doubles | Policy | ScenarioClock | StoreFaults

/**
 * Runs `body` on a fresh store with fresh doubles, at `scenarioStart` on a jumping clock,
 * under the scenario policy with `policy` replaced.
 */
export const scenario = <A, E>(
  body: Effect.Effect<A, E, ScenarioServices>,
  policy: Partial<PolicyShape> = {}
): Effect.Effect<A, E, FreshStore | Scope.Scope> =>
  Effect.gen(function* () {
    const fresh = yield* FreshStore
    const services = yield* fresh.make
    const faults = makeFaults<StoreOperation>()
    const clock = new JumpingClock(scenarioStart.getTime())
    const kit = yield* Layer.build(Layer.merge(doubles, Policy.layer({ ...scenarioPolicy, ...policy })))
    return yield* body.pipe(
      Effect.provideService(SessionStore, withFaults(Context.get(services, SessionStore), faults)),
      Effect.provide(Context.merge(kit, services)),
      Effect.provideService(StoreFaults, faults),
      Effect.provideService(ScenarioClock, clock),
      Effect.withClock(clock)
    )
  })

export type PaymentScenarioServices = ScenarioServices | PayLinks | FakePayLinks | StaffStore

/**
 * The store's own `StaffStore`: the SQL store's queries over its backend, or the memory one over
 * the memory store (staff's payment actions number their attempts and audit there).
 */
const scenarioStaffStore = Effect.gen(function* () {
  const backend = yield* Effect.serviceOption(StoreBackend)
  if (Option.isSome(backend)) return Context.make(StaffStore, StaffQueries.make(backend.value))
  const memory = yield* Effect.serviceOption(MemoryStore)
  if (Option.isNone(memory)) return yield* Effect.dieMessage("a scenario store with no StaffStore")
  return yield* Layer.build(layerMemoryStaffStore.pipe(Layer.provide(Layer.succeed(MemoryStore, memory.value))))
})

/**
 * As `scenario`, with the pay-link double and the store's `StaffStore` as well: what the
 * payment paths (dunning's pay link emails, the pay page, staff's retries and refunds) need.
 */
export const paymentScenario = <A, E>(
  body: Effect.Effect<A, E, PaymentScenarioServices>,
  policy: Partial<PolicyShape> = {}
): Effect.Effect<A, E, FreshStore | Scope.Scope> =>
  scenario(
    Effect.scoped(
      Effect.gen(function* () {
        const links = yield* Layer.build(layerFakePayLinks)
        const staff = yield* scenarioStaffStore
        return yield* body.pipe(Effect.provide(Context.merge(links, staff)))
      })
    ),
    policy
  )

/** Runs `body` against each store that can hold a fresh database per scenario. */
export const forEachScenarioStore = (title: string, body: (it: Vitest.MethodsNonLive<FreshStore>) => void) => {
  const stores: ReadonlyArray<{ name: StoreName | "memory"; layer: Layer.Layer<FreshStore>; unavailable?: string }> = [
    { name: "memory", layer: memoryFresh },
    { name: "pglite", layer: pgliteFresh },
    {
      name: "postgres",
      layer: postgresFresh,
      ...(testDatabaseUrl === undefined ? { unavailable: "QWIP_TEST_DATABASE_URL is not set" } : {})
    }
  ]
  for (const store of stores) {
    const name = `[${store.name}] ${title}`
    if (store.unavailable !== undefined) {
      describe.skip(name, () => {
        vitestIt(`skipped: ${store.unavailable}`, () => undefined)
      })
      continue
    }
    layer(store.layer, { timeout: "120 seconds" })(name, body)
  }
}

// ---- steps, as in @qwip/core's test kit, with the jumping clock -------------------------

/** Books `podId`: checkout, the customer confirms a card, finalize. */
export const book = (podId: string, behaviour: CardBehaviour = "succeeds") =>
  Effect.gen(function* () {
    const payments = yield* FakePayments
    const started = yield* Checkout.startCheckout(podId as PodId)
    payments.confirmCard(started.setupIntentId, { behaviour, email: "ada@example.com" })
    return yield* Checkout.finalizeBooking(started)
  })

/** Runs due background work until none is due now. */
export const drainWork = (worker = "worker-1") =>
  Effect.gen(function* () {
    for (let i = 0; i < 200; i++) {
      const r = yield* Worker.runDueWork(worker, 50)
      if (r.claimed === 0) return
    }
    throw new Error("background work never drained")
  })

/** Drains work while `total` time passes in steps, so deferred retries come due and run. */
export const drainWorkFor = (total: Duration.DurationInput, step: Duration.DurationInput = Duration.seconds(5)) =>
  Effect.gen(function* () {
    const clock = yield* ScenarioClock
    const steps = Math.ceil(Duration.toMillis(Duration.decode(total)) / Duration.toMillis(Duration.decode(step)))
    for (let i = 0; i < steps; i++) {
      yield* drainWork()
      yield* clock.adjust(step)
    }
    yield* drainWork()
  })

/** Books and provisions: an active session. */
export const activeSession = (podId: string, behaviour: CardBehaviour = "succeeds") =>
  Effect.gen(function* () {
    const session = yield* book(podId, behaviour)
    yield* drainWork()
    return session as Session
  })

export const advance = (duration: Duration.DurationInput) => Effect.flatMap(ScenarioClock, (c) => c.adjust(duration))

export const uniqueWorker = () => `worker-${randomBytes(3).toString("hex")}`
