/**
 * The worker inside the service: claims due work from the store under leases (core's
 * `Worker.runDueWork`) and reports overdue sessions, each on its own schedule. Nothing lives
 * only in memory: a restart, or another instance on the same store, picks up what is left.
 *
 * On shutdown it stops claiming, lets the batch in hand finish (up to `shutdownGrace`), then
 * gives its leases back so another instance can take the rest at once.
 */
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { Overdue, SessionStore, Worker } from "@qwip/core"
import { Deferred, Effect, Fiber, Layer, Option, Schedule } from "effect"
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
    const { batchSize, interval, overdueInterval } = config.worker

    const poll = Worker.runDueWork(workerId, batchSize).pipe(
      Effect.tap((r) =>
        r.claimed > 0
          ? Effect.logDebug("background work").pipe(
              Effect.annotateLogs({ claimed: r.claimed, done: r.done, deferred: r.deferred, parked: r.parked })
            )
          : Effect.void
      ),
      Effect.catchAllCause((cause) => Effect.as(Effect.logError("background work poll failed", cause), { claimed: 0 }))
    )

    const workLoop = Effect.gen(function* () {
      while (!(yield* Deferred.isDone(stopping))) {
        const r = yield* poll
        // A full batch means more may be due: poll again at once.
        if (r.claimed < batchSize) yield* Effect.raceFirst(Effect.sleep(interval), Deferred.await(stopping))
      }
    })

    const overdueLoop = Overdue.reportOverdueSessions().pipe(
      Effect.catchAllCause((cause) => Effect.logError("overdue report failed", cause)),
      Effect.repeat(Schedule.spaced(overdueInterval))
    )

    const worker = yield* Effect.forkDaemon(workLoop.pipe(Effect.annotateLogs({ worker: workerId })))
    const overdue = yield* Effect.forkDaemon(overdueLoop)
    yield* Effect.logInfo("background worker started").pipe(Effect.annotateLogs({ worker: workerId }))

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Deferred.succeed(stopping, undefined)
        yield* Fiber.interrupt(overdue)
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
