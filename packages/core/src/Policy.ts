/**
 * The platform's tunable rules: billing terms, how long a door code lives, how hard we try
 * to make one, and when a session counts as overdue. One service, so every use case and
 * adapter reads the same numbers, and tests can tighten them.
 */
import { Clock, Context, Duration, Effect, Either, Layer, Option, Random, Schedule, Schema } from "effect"
import type { AccessCode } from "./doorcodes/AccessCode.js"
import type { AccessMode, Pod } from "./Pod.js"
import { SMALLEST_CHARGE_PENCE } from "./tariff/Money.js"
import type { RatePerMinute } from "./tariff/Rate.js"
import { DEFAULT_MINIMUM_CHARGE_PENCE, PROMO_FREE_MINUTES, type Terms } from "./tariff/Tariff.js"

export interface PolicyShape {
  /** Free minutes at the start of every session (PROMO_MODE=true gives 10). */
  readonly promoFreeMinutes: number
  readonly minimumChargePence: number
  readonly maxChargePence?: number | undefined
  /** How long a door code works from the session's start. */
  readonly accessWindow: Duration.Duration
  /** How far past its window a live session must be before staff are told it is overdue. */
  readonly overdueGrace: Duration.Duration
  /**
   * The longest a customer waits for a door code: one deadline for the whole provisioning,
   * every attempt and activation check inside it. Past it we give up and free the pod.
   */
  readonly provisioningDeadline: Duration.Duration
  /** Attempts to make a door code (within the deadline) before provisioning fails for good. */
  readonly provisioningAttempts: number
  /** First delay between provisioning attempts; doubles each time, with jitter. */
  readonly provisioningBackoff: Duration.Duration
  /** First delay between activation checks; grows by half each time, up to ten times this. */
  readonly activationPoll: Duration.Duration
  /** Attempts at a charge whose requests fail transiently, before its outcome is left unknown. */
  readonly chargeAttempts: number
  readonly chargeBackoff: Duration.Duration
  /**
   * The longest one call to an outside service (Stripe, Seam, Resend) may take, its adapter's
   * own retries included. Adapters are configured with it and the core also bounds each call.
   */
  readonly outsideCallDeadline: Duration.Duration
  /**
   * The longest a customer's request waits for outside services (the charge at the end, the
   * card set-up at finalize). Past it the end is recorded with the charge's outcome unknown and
   * settled in the background; finalize answers "try again".
   */
  readonly customerWait: Duration.Duration
  /** When the `close-session` safety net finishes an end whose request did not. */
  readonly closeSafetyNet: Duration.Duration
  /** When a charge whose outcome is unknown is first read back. */
  readonly settleDelay: Duration.Duration
  /**
   * How long a worker holds claimed background work before another may take it. The worker
   * renews it every third of this while the work runs, so only a stopped worker loses it.
   */
  readonly workLease: Duration.Duration
  /** The longest one piece of background work may run before it is stopped and tried again later. */
  readonly workTimeout: Duration.Duration
  /** Attempts at one piece of background work before it is parked for staff. */
  readonly workAttempts: number
  /**
   * How long after a session stops holding its pod its door code may stay unconfirmed gone
   * from the lock (the pod blocked meanwhile) before staff are alerted to remove it by hand.
   */
  readonly codeRemovalAlertAfter: Duration.Duration
  /** Every pod uses its static code list, whatever its access mode (`USE_STATIC_CODES=true`). */
  readonly staticCodesOnly?: boolean | undefined
  /** The customer must upload a checkout photo before ending (`REQUIRE_CHECKOUT_PHOTO`; default off). */
  readonly requireCheckoutPhoto?: boolean | undefined
  /**
   * The card check at booking (`BOOKING_HOLD_PENCE`): a hold of this many pence is placed on
   * the saved card before the door code is made; a declined hold refuses the booking. Off
   * when undefined (the default).
   */
  readonly bookingHoldPence?: number | undefined
  /** A hold no session captured or released is cancelled once it is this old (see `CardHolds`). */
  readonly strayHoldAge: Duration.Duration
  /**
   * When a declined charge is tried again, counted from the decline (`DUNNING_SCHEDULE`,
   * default 1, 3 and 7 days). Hard declines are never retried.
   */
  readonly dunningSchedule: ReadonlyArray<Duration.Duration>
  /** How long a pay link in an email works (`PAY_LINK_DAYS`, default 14 days). */
  readonly payLinkValidity: Duration.Duration
  /** How often the reconciliation with the payment provider runs (`RECONCILE_EVERY`, default daily). */
  readonly reconcileEvery: Duration.Duration
  /** How far back each scheduled reconciliation looks (default 48 hours, so runs overlap). */
  readonly reconcileWindow: Duration.Duration
}

export const defaultPolicy: PolicyShape = {
  promoFreeMinutes: 0,
  minimumChargePence: DEFAULT_MINIMUM_CHARGE_PENCE,
  maxChargePence: undefined,
  accessWindow: Duration.minutes(180),
  overdueGrace: Duration.minutes(30),
  provisioningDeadline: Duration.seconds(90),
  provisioningAttempts: 5,
  provisioningBackoff: Duration.seconds(2),
  activationPoll: Duration.seconds(1),
  chargeAttempts: 3,
  chargeBackoff: Duration.seconds(1),
  outsideCallDeadline: Duration.seconds(10),
  customerWait: Duration.seconds(5),
  closeSafetyNet: Duration.minutes(2),
  settleDelay: Duration.minutes(1),
  workLease: Duration.minutes(2),
  workTimeout: Duration.minutes(5),
  workAttempts: 20,
  codeRemovalAlertAfter: Duration.minutes(5),
  requireCheckoutPhoto: false,
  bookingHoldPence: undefined,
  strayHoldAge: Duration.minutes(30),
  dunningSchedule: [Duration.days(1), Duration.days(3), Duration.days(7)],
  payLinkValidity: Duration.days(14),
  reconcileEvery: Duration.hours(24),
  reconcileWindow: Duration.hours(48)
}

/** A policy whose timings contradict each other; the service must not start with it. */
export class InvalidPolicy extends Schema.TaggedError<InvalidPolicy>()("InvalidPolicy", {
  reason: Schema.String
}) {
  override get message() {
    return `inconsistent policy: ${this.reason}`
  }
}

/** Jitter stretches a delay by at most this much (`Schedule.jittered`'s default 0.8 to 1.2). */
const MAX_JITTER = 1.2

/**
 * The longest a charge's retry chain can take: every attempt running to the outside-call
 * deadline, plus the longest backoff between them.
 */
export const chargeChainLimit = (policy: PolicyShape): Duration.Duration => {
  const attempts = Math.max(1, policy.chargeAttempts)
  const backoff = Duration.toMillis(policy.chargeBackoff) * (2 ** (attempts - 1) - 1) * MAX_JITTER
  return Duration.millis(attempts * Duration.toMillis(policy.outsideCallDeadline) + backoff)
}

/** The longest settling an unknown charge can take: one read back, then the charge chain. */
export const settleWorkLimit = (policy: PolicyShape): Duration.Duration =>
  Duration.sum(policy.outsideCallDeadline, chargeChainLimit(policy))

/**
 * Checks the timings fit together, so one charge never has two chains running: a charge chain
 * ends before the close safety net could start a second one, and settling ends inside its
 * work lease and run limit, so no second worker claims it meanwhile. An abandoned charge
 * request has had its answer (or timed out) before settling reads it back.
 */
export const validatePolicy = (policy: PolicyShape): Either.Either<PolicyShape, InvalidPolicy> => {
  const fmt = Duration.format
  const positive = { outsideCallDeadline: policy.outsideCallDeadline, customerWait: policy.customerWait }
  for (const [name, value] of Object.entries(positive)) {
    if (!Duration.greaterThan(value, Duration.zero)) {
      return Either.left(new InvalidPolicy({ reason: `${name} must be longer than 0` }))
    }
  }
  if (!Number.isInteger(policy.chargeAttempts) || policy.chargeAttempts < 1) {
    return Either.left(new InvalidPolicy({ reason: "chargeAttempts must be a whole number, at least 1" }))
  }
  const chain = chargeChainLimit(policy)
  const settle = settleWorkLimit(policy)
  const chainText = `${policy.chargeAttempts} charge attempts of up to ${fmt(policy.outsideCallDeadline)} with backoff (${fmt(chain)})`
  if (!Duration.lessThan(chain, policy.closeSafetyNet)) {
    return Either.left(
      new InvalidPolicy({ reason: `${chainText} must end before the close safety net (${fmt(policy.closeSafetyNet)})` })
    )
  }
  for (const [name, bound] of [
    ["workLease", policy.workLease],
    ["workTimeout", policy.workTimeout]
  ] as const) {
    if (!Duration.lessThan(settle, bound)) {
      return Either.left(
        new InvalidPolicy({
          reason: `a read back and ${chainText}, ${fmt(settle)} in all, must fit inside ${name} (${fmt(bound)})`
        })
      )
    }
  }
  if (!Duration.greaterThan(policy.settleDelay, policy.outsideCallDeadline)) {
    return Either.left(
      new InvalidPolicy({
        reason: `settleDelay (${fmt(policy.settleDelay)}) must be longer than outsideCallDeadline (${fmt(policy.outsideCallDeadline)}), so an abandoned charge request has ended before it is read back`
      })
    )
  }
  return validateCollection(policy)
}

/** The card check hold, dunning, pay links and reconciliation settings (issue 13). */
const validateCollection = (policy: PolicyShape): Either.Either<PolicyShape, InvalidPolicy> => {
  const fmt = Duration.format
  const invalid = (reason: string) => Either.left(new InvalidPolicy({ reason }))
  const hold = policy.bookingHoldPence
  if (hold !== undefined && (!Number.isInteger(hold) || hold < 1)) {
    return invalid(`bookingHoldPence must be a whole number of pence, at least 1 (got ${hold}), or unset for no hold`)
  }
  if (hold !== undefined && hold < SMALLEST_CHARGE_PENCE) {
    return invalid(
      `bookingHoldPence (${hold}) is below the payment provider's smallest charge (${SMALLEST_CHARGE_PENCE}p): a smaller hold never works`
    )
  }
  const positive = {
    strayHoldAge: policy.strayHoldAge,
    payLinkValidity: policy.payLinkValidity,
    reconcileEvery: policy.reconcileEvery
  }
  for (const [name, value] of Object.entries(positive)) {
    if (!Duration.greaterThan(value, Duration.zero)) return invalid(`${name} must be longer than 0`)
  }
  let previous = Duration.zero
  for (const [i, delay] of policy.dunningSchedule.entries()) {
    if (!Duration.greaterThan(delay, previous)) {
      return invalid(
        `dunningSchedule must grow: attempt ${i + 1} (${fmt(delay)} after the decline) must come after ${i === 0 ? "the decline" : `attempt ${i} (${fmt(previous)})`}`
      )
    }
    previous = delay
  }
  // Each run must look back at least to the previous one, or a charge between them is never seen.
  if (Duration.lessThan(policy.reconcileWindow, policy.reconcileEvery)) {
    return invalid(
      `reconcileWindow (${fmt(policy.reconcileWindow)}) must be at least reconcileEvery (${fmt(policy.reconcileEvery)}), so runs overlap`
    )
  }
  return Either.right(policy)
}

/** The default policy with some values replaced, checked. */
export const makePolicy = (overrides: Partial<PolicyShape>): Either.Either<PolicyShape, InvalidPolicy> =>
  validatePolicy({ ...defaultPolicy, ...overrides })

export class Policy extends Context.Tag("@qwip/core/Policy")<Policy, PolicyShape>() {
  static readonly Default = Layer.succeed(Policy, defaultPolicy)
  /** The default policy with some values replaced; an inconsistent one stops the layer (a defect). */
  static readonly layer = (overrides: Partial<PolicyShape>) => Layer.effect(Policy, Effect.orDie(makePolicy(overrides)))
  /** The policy with promo mode on or off, as `PROMO_MODE` sets it. */
  static readonly promo = (on: boolean): Partial<PolicyShape> => ({ promoFreeMinutes: on ? PROMO_FREE_MINUTES : 0 })
}

/** The tariff terms a session at `rate` is billed under. */
export const termsFor = (policy: PolicyShape, rate: RatePerMinute): Terms => ({
  rate,
  promoFreeMinutes: policy.promoFreeMinutes,
  minimumChargePence: policy.minimumChargePence,
  maxChargePence: policy.maxChargePence
})

/** How a pod's door codes are made under this policy. */
export const accessModeOf = (policy: PolicyShape, pod: Pod): AccessMode =>
  policy.staticCodesOnly === true ? "static" : pod.accessMode

/** When a session starting at `startedAt` loses its door code. */
export const accessUntil = (policy: PolicyShape, startedAt: Date): Date =>
  new Date(startedAt.getTime() + Duration.toMillis(policy.accessWindow))

/**
 * `schedule`, ending at the instant `until` (epoch ms, read from `Clock`): it never waits past
 * it, so the last try falls on the deadline, and it stops once the deadline has passed.
 */
const endingAt =
  (until: number) =>
  <Out, In, R>(schedule: Schedule.Schedule<Out, In, R>): Schedule.Schedule<Out, In, R> =>
    schedule.pipe(
      Schedule.checkEffect(() => Effect.map(Clock.currentTimeMillis, (now) => now < until)),
      Schedule.modifyDelayEffect((_, delay) =>
        Effect.map(Clock.currentTimeMillis, (now) => Duration.min(delay, Duration.millis(Math.max(0, until - now))))
      )
    )

/** Retries for making a door code: exponential backoff with jitter, bounded in count and by `until`. */
export const provisioningRetry = (policy: PolicyShape, until: number) =>
  Schedule.exponential(policy.provisioningBackoff).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(Math.max(0, policy.provisioningAttempts - 1))),
    endingAt(until)
  )

/** Checks that a new code is active: growing delays, up to ten polls apart, until `until`. */
export const activationChecks = (policy: PolicyShape, until: number) =>
  Schedule.exponential(policy.activationPoll, 1.5).pipe(
    Schedule.union(Schedule.spaced(Duration.times(policy.activationPoll, 10))),
    endingAt(until)
  )

/** Retries for a charge whose request failed transiently; the idempotency key makes them safe. */
export const chargeRetry = (policy: PolicyShape) =>
  Schedule.exponential(policy.chargeBackoff).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(Math.max(0, policy.chargeAttempts - 1)))
  )

/** How often a worker renews the lease of work it is running: three times per lease. */
export const workLeaseRenewal = (policy: PolicyShape): Duration.Duration =>
  Duration.divide(policy.workLease, 3).pipe(Option.getOrElse(() => policy.workLease))

/** When failed background work runs again: exponential from 5 s, capped at 10 min. */
export const nextWorkAttemptDelay = (attempts: number): Duration.Duration =>
  Duration.millis(Math.min(10 * 60_000, 5_000 * 2 ** Math.max(0, attempts - 1)))

/**
 * Picks a static code from a pod's list, avoiding codes that other live sessions on the pod
 * hold when a free one exists. `None` only when the list is empty.
 */
export const pickStaticCode = (
  codes: ReadonlyArray<AccessCode>,
  heldByOthers: ReadonlyArray<AccessCode>
): Effect.Effect<Option.Option<AccessCode>> => {
  const held = new Set<string>(heldByOthers)
  const free = codes.filter((c) => !held.has(c))
  const pool = free.length > 0 ? free : codes
  if (pool.length === 0) return Effect.succeed(Option.none())
  return Random.nextIntBetween(0, pool.length).pipe(Effect.map((i) => Option.fromNullable(pool[i])))
}
