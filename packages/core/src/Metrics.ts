/**
 * Qwip's business metrics, defined once: Effect `Metric`s (pure values) that the service
 * exports over OTLP and as Prometheus text. Session metrics are recorded by `meteredSessionStore`
 * from the changes the store persists, so no use case has to remember to count; span
 * attributes for the session and pod are added there too (`annotateSessionSpans`).
 */
import { Effect, Metric, MetricBoundaries, Option, type Tracer } from "effect"
import type { PodId, SessionId } from "./Ids.js"
import type { SessionChange, SessionStoreShape } from "./ports/SessionStore.js"
import type { Session } from "./session/Session.js"

export const sessionsStarted = Metric.counter("qwip_sessions_started", {
  description: "Sessions opened on a pod (a retried booking counts once)",
  incremental: true
})

/** Tagged `by`: customer, staff or system. */
export const sessionsEnded = Metric.counter("qwip_sessions_ended", {
  description: "Sessions ended with a payment outcome",
  incremental: true
})

export const provisioningFailed = Metric.counter("qwip_provisioning_failed", {
  description: "Sessions whose door code could not be made",
  incremental: true
})

/** Tagged `outcome`: paid, not_billed, waived, payment_failed, needs_authentication, payment_unknown. */
export const charges = Metric.counter("qwip_charges", {
  description: "Charge outcomes recorded on ended sessions, a later settlement counting again",
  incremental: true
})

/** Tagged `outcome`, as `charges`: the session's price at its end. */
export const chargedPence = Metric.counter("qwip_charge_amount_pence", {
  description: "Sum of the prices of ended sessions, in pence, by outcome",
  incremental: true
})

export const timeToReady = Metric.histogram(
  "qwip_provisioning_time_to_ready_seconds",
  MetricBoundaries.fromIterable([0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300]),
  "From a session's start to its door code being ready, in seconds"
)

export const workWaiting = Metric.gauge("qwip_background_work_waiting", {
  description: "Background work items not yet done nor parked"
})

/** Tagged `kind`: the work's kind. */
export const workDeferred = Metric.counter("qwip_background_work_deferred", {
  description: "Background work tried and scheduled again",
  incremental: true
})

/** Tagged `kind`. */
export const workParked = Metric.counter("qwip_background_work_parked", {
  description: "Background work that kept failing and was left for staff",
  incremental: true
})

/** Tagged `result`: applied, ignored, unexpected, already_processed, not_acted_on, failed. */
export const paymentEvents = Metric.counter("qwip_payment_webhook_events", {
  description: "Payment provider events taken in, by what they did",
  incremental: true
})

/** Tagged `bucket`: the rate limit that refused. */
export const rateLimitRefusals = Metric.counter("qwip_rate_limit_refusals", {
  description: "Requests refused by a rate limit (429)",
  incremental: true
})

/**
 * Shows the untagged counters at 0 from the start, so a scraper's rate over the first
 * booking is right (a counter first seen at 1 reads as no increase).
 */
export const startCounting: Effect.Effect<void> = Effect.all([
  Metric.incrementBy(sessionsStarted, 0),
  Metric.incrementBy(provisioningFailed, 0)
]).pipe(Effect.asVoid)

/** Sets the work-waiting gauge from the store's count. */
export const recordWorkWaiting = (store: SessionStoreShape): Effect.Effect<void> =>
  Effect.flatMap(store.workWaiting, (n) => Metric.set(workWaiting, n))

/** `PaymentFailed` → `payment_failed`: the label Prometheus and OTLP readers expect. */
export const snake = (tag: string) => tag.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase()

const isOver = (s: Session) => s.state._tag === "Ended" || s.state._tag === "ProvisioningFailed"

/** What one persisted change says about sessions and charges. */
export const recordChange = (change: Pick<SessionChange, "before" | "after">): Effect.Effect<void> =>
  Effect.gen(function* () {
    const { before, after } = change
    const from = before.state
    const to = after.state
    if (from._tag === "Provisioning" && to._tag === "Active") {
      const seconds = (to.activatedAt.getTime() - after.startedAt.getTime()) / 1000
      yield* Metric.update(timeToReady, Math.max(0, seconds))
    }
    if (to._tag === "ProvisioningFailed" && from._tag !== "ProvisioningFailed") {
      yield* Metric.increment(provisioningFailed)
    }
    if (to._tag === "Ended") {
      if (!isOver(before)) yield* Metric.increment(Metric.tagged(sessionsEnded, "by", snake(to.by._tag)))
      // A settlement that changes the outcome (unknown → paid) is a charge outcome too.
      const settled = from._tag === "Ended" && from.outcome._tag === to.outcome._tag
      if (!settled) {
        const outcome = snake(to.outcome._tag)
        yield* Metric.increment(Metric.tagged(charges, "outcome", outcome))
        const amount = to.outcome._tag === "Paid" ? to.outcome.amountPence : to.quote.chargePence
        yield* Metric.incrementBy(Metric.tagged(chargedPence, "outcome", outcome), amount)
      }
    }
  })

/**
 * Puts the session and pod ids on the current span and on its local parents up to the request
 * (or work item) they belong to, so every span of a booking can be found by its session (the
 * service's tracer also gives them to each span started under one that has them). Only ids:
 * never a token, card or door code.
 */
export const annotateSessionSpans = (ids: {
  readonly sessionId?: SessionId | undefined
  readonly podId?: PodId | undefined
}): Effect.Effect<void> =>
  Effect.map(Effect.option(Effect.currentSpan), (current) => {
    let span: Tracer.AnySpan | undefined = Option.getOrUndefined(current)
    while (span !== undefined && span._tag === "Span") {
      const known = span.attributes.get("session.id")
      // A span already about another session (a worker's loop) is not this session's.
      if (known !== undefined && ids.sessionId !== undefined && known !== ids.sessionId) return
      if (ids.sessionId !== undefined) span.attribute("session.id", ids.sessionId)
      if (ids.podId !== undefined) span.attribute("pod.id", ids.podId)
      // The request's span, or a work item's, is as far as one session goes.
      if (span.kind === "server" || span.name === "Worker.runClaimed") return
      span = Option.getOrUndefined(span.parent)
    }
  })

const aboutSession = (session: Session) => annotateSessionSpans({ sessionId: session.id, podId: session.podId })

/**
 * The store, recording the business metrics from what it persists and naming the session and
 * pod on the caller's spans. Counts only what the store accepted: a stale commit records nothing.
 */
export const meteredSessionStore = (store: SessionStoreShape): SessionStoreShape => ({
  ...store,
  pod: (id) => Effect.zipRight(annotateSessionSpans({ podId: id }), store.pod(id)),
  podStatus: (id) => Effect.zipRight(annotateSessionSpans({ podId: id }), store.podStatus(id)),
  // The id asked for goes on the spans first, so the store's own span (started inside) has it too.
  session: (id) =>
    Effect.zipRight(
      annotateSessionSpans({ sessionId: id }),
      Effect.tap(store.session(id), (found) => Option.match(found, { onNone: () => Effect.void, onSome: aboutSession }))
    ),
  sessionWithPod: (id) =>
    Effect.zipRight(
      annotateSessionSpans({ sessionId: id }),
      Effect.tap(store.sessionWithPod(id), (found) =>
        Option.match(found, { onNone: () => Effect.void, onSome: ({ session }) => aboutSession(session) })
      )
    ),
  sessionForSetupIntent: (id) =>
    Effect.tap(store.sessionForSetupIntent(id), (found) =>
      Option.match(found, { onNone: () => Effect.void, onSome: aboutSession })
    ),
  openSession: (session, work) =>
    Effect.zipRight(
      annotateSessionSpans({ podId: session.podId }),
      // Only the store's span takes the id tried: a retry gets back the session that exists.
      Effect.tap(store.openSession(session, work).pipe(Effect.annotateSpans("session.id", session.id)), (opened) =>
        // The set-up intent's session already existed: a retry, not a new session.
        opened.id === session.id
          ? Effect.zipRight(aboutSession(opened), Metric.increment(sessionsStarted))
          : aboutSession(opened)
      )
    ),
  commit: (change) =>
    Effect.zipRight(
      aboutSession(change.before),
      Effect.tap(store.commit(change), (after) => recordChange({ before: change.before, after }))
    ),
  deferWork: (item, runAt, error) =>
    Effect.zipRight(
      store.deferWork(item, runAt, error),
      Metric.increment(Metric.tagged(workDeferred, "kind", item.kind))
    ),
  parkWork: (item, error) =>
    Effect.zipRight(store.parkWork(item, error), Metric.increment(Metric.tagged(workParked, "kind", item.kind)))
})
