/**
 * The worker inside the service: claims due work from the store under leases (core's
 * `Worker.runWorkLoop`), reports overdue sessions, and reconciles payments with the provider
 * (every `reconcileEvery` over the last `reconcileWindow`), each on its own schedule. Nothing lives
 * only in memory: a restart, or another instance on the same store, picks up what is left.
 *
 * Up to `WORKER_CONCURRENCY` items run at once, claimed as slots free, so one slow outside
 * service holds up only its own work. On shutdown it stops claiming, lets the work in flight
 * finish (up to `shutdownGrace`), then gives its leases back so another instance can take the
 * rest at once.
 */
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { Overdue, Policy, Reconciliation, SessionStore, Worker } from "@qwip/core"
import { Clock, Deferred, Duration, Effect, Fiber, Layer, Option, Schedule } from "effect"
import { HttpConfig } from "./Config.js"

/** Unique per process: leases name the worker holding them. */
export const makeWorkerId = () => `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`

export const BackgroundWorkLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* HttpConfig
    if (!config.worker.enabled) return
    const store = yield* SessionStore
    const workerId = makeWorkerId()
    const stopping = yield* Deferred.make<void>()
    const { concurrency, interval, overdueInterval } = config.worker

    const workLoop = Worker.runWorkLoop({ worker: workerId, concurrency, idle: interval, stop: stopping })

    const overdueLoop = Overdue.reportOverdueSessions().pipe(
      Effect.catchAllCause((cause) => Effect.logError("overdue report failed", cause)),
      Effect.repeat(Schedule.spaced(overdueInterval))
    )

    // The first run waits a whole interval: a restart (a deploy) does not reconcile again at
    // once, and a run is idempotent, so instances sharing a store may each run it. A failure
    // (the provider down) is logged; the next run's window overlaps and covers it.
    const policy = yield* Policy
    const reconcileOnce = Effect.gen(function* () {
      const until = new Date(yield* Clock.currentTimeMillis)
      const since = new Date(until.getTime() - Duration.toMillis(policy.reconcileWindow))
      const report = yield* Reconciliation.reconcilePayments({ since, until })
      yield* Effect.logInfo("reconciliation done").pipe(
        Effect.annotateLogs({ checked: report.checked, findings: report.findings.length })
      )
    })
    const reconcileLoop = Effect.sleep(policy.reconcileEvery).pipe(
      Effect.zipRight(
        reconcileOnce.pipe(Effect.catchAllCause((cause) => Effect.logError("payment reconciliation failed", cause)))
      ),
      Effect.forever
    )

    const worker = yield* Effect.forkDaemon(workLoop.pipe(Effect.annotateLogs({ worker: workerId })))
    const overdue = yield* Effect.forkDaemon(overdueLoop)
    const reconcile = yield* Effect.forkDaemon(reconcileLoop)
    yield* Effect.logInfo("background worker started").pipe(Effect.annotateLogs({ worker: workerId, concurrency }))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Deferred.succeed(stopping, undefined)
        yield* Fiber.interrupt(overdue)
        yield* Fiber.interrupt(reconcile)
        // Finalizers run uninterruptibly; the wait must not be, or the timeout could never win.
        const finished = yield* Fiber.await(worker).pipe(
          Effect.timeout(config.shutdownGrace),
          Effect.option,
          Effect.interruptible
        )
        if (Option.isNone(finished)) yield* Fiber.interrupt(worker)
        yield* store.releaseLeases(workerId)
        yield* Effect.logInfo("background worker stopped").pipe(Effect.annotateLogs({ worker: workerId }))
      })
    )
  })
)
