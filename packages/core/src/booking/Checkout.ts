/**
 * Booking a pod: start a card set-up for it, then finalize once the card is saved.
 */
import { Duration, Effect, Option } from "effect"
import { provisionAccessWork } from "../background/Work.js"
import { CardNotSetUp, PodInUse, PodMisconfigured, PodNotFound, SetupIntentMismatch } from "../Errors.js"
import { newProvisioningId, newSessionId, type PodId, type ProvisioningId, type SetupIntentId } from "../Ids.js"
import { boundedPayments, withDeadline } from "../OutsideCalls.js"
import { accessModeOf, accessUntil, Policy, type PolicyShape } from "../Policy.js"
import { PaymentsUnavailable } from "../ports/Payments.js"
import { SessionStore } from "../ports/SessionStore.js"
import { CardOnFile, Provisioning, Session } from "../session/Session.js"
import { now } from "../session/SessionSteps.js"
import { placeBookingHold } from "../settlement/CardHolds.js"

/** A customer's request waits for the payment provider at most the policy's `customerWait`. */
const withinCustomerWait = (policy: PolicyShape, operation: string, about: Record<string, string>) =>
  withDeadline(
    policy.customerWait,
    operation,
    about,
    () =>
      new PaymentsUnavailable({
        operation,
        reason: `no answer within ${Duration.format(policy.customerWait)}, the longest a customer waits`
      })
  )

/** Everything the client needs to collect a card, and what finalize will need back. */
export interface CheckoutStarted {
  readonly podId: PodId
  readonly provisioningId: ProvisioningId
  readonly setupIntentId: SetupIntentId
  readonly clientSecret: string
}

/**
 * Starts a checkout: the pod must exist and be free (each checkout creates a customer at
 * the payment provider, so a held pod is refused before that).
 */
export const startCheckout = Effect.fn("Checkout.startCheckout")(function* (podId: PodId) {
  const store = yield* SessionStore
  const payments = yield* boundedPayments
  const status = yield* store.podStatus(podId)
  if (Option.isNone(status)) return yield* new PodNotFound({ podId })
  if (status.value.inUse) return yield* new PodInUse({ podId })
  const provisioningId = yield* newProvisioningId
  const started = yield* payments
    .setUpCard({ podId, idempotencyKey: `qwip-checkout-${provisioningId}` })
    .pipe(withinCustomerWait(yield* Policy, "setUpCard", { podId }))
  return {
    podId,
    provisioningId,
    setupIntentId: started.setupIntentId,
    clientSecret: started.clientSecret
  } satisfies CheckoutStarted
})

export interface FinalizeRequest {
  readonly setupIntentId: SetupIntentId
  readonly podId: PodId
  readonly provisioningId: ProvisioningId
}

/**
 * Turns a saved card into a session holding the pod. Idempotent per set-up intent: a retry
 * (or a webhook racing the client) returns the same session. The card set-up must have
 * succeeded and must have been made for this pod. Claiming the pod, creating the session
 * and queueing its provisioning are one atomic step in the store.
 *
 * With the policy's card check (`bookingHoldPence`), the hold is placed and recorded once the
 * session holds the pod, before any door code: a declined hold fails the session (pod freed,
 * nothing charged) and finalize answers `CardDeclined`, then and on every repeat.
 */
export const finalizeBooking = Effect.fn("Checkout.finalizeBooking")(function* (request: FinalizeRequest) {
  const store = yield* SessionStore
  const payments = yield* boundedPayments
  const policy = yield* Policy

  const existing = yield* store.sessionForSetupIntent(request.setupIntentId)
  if (Option.isSome(existing)) {
    if (existing.value.podId !== request.podId) {
      return yield* new SetupIntentMismatch({
        setupIntentId: request.setupIntentId,
        expectedPodId: request.podId,
        actualPodId: existing.value.podId
      })
    }
    // Finishes a hold a crash or a timeout left unplaced; answers a refused booking again.
    return yield* holdFor(policy, existing.value)
  }

  // Past the customer's wait: "try again"; the card stays saved, and its webhook finalizes too.
  const setup = yield* payments
    .readCardSetUp(request.setupIntentId)
    .pipe(withinCustomerWait(policy, "readCardSetUp", { setupIntentId: request.setupIntentId }))
  if (setup.status !== "succeeded") {
    return yield* new CardNotSetUp({ setupIntentId: request.setupIntentId, status: setup.status })
  }
  const intentPod = Option.getOrElse(setup.podId, () => "(none)")
  if (intentPod !== request.podId) {
    return yield* new SetupIntentMismatch({
      setupIntentId: request.setupIntentId,
      expectedPodId: request.podId,
      actualPodId: intentPod
    })
  }
  if (Option.isNone(setup.customerId) || Option.isNone(setup.paymentMethodId)) {
    return yield* new CardNotSetUp({ setupIntentId: request.setupIntentId, status: "no saved card" })
  }

  const pod = yield* store.pod(request.podId)
  if (Option.isNone(pod)) return yield* new PodNotFound({ podId: request.podId })
  if (accessModeOf(policy, pod.value) === "lock-provider" && Option.isNone(pod.value.lockDeviceId)) {
    return yield* new PodMisconfigured({ podId: request.podId, reason: "lock-provider mode but no lock device" })
  }

  const startedAt = yield* now
  const session = new Session({
    id: yield* newSessionId,
    podId: request.podId,
    provisioningId: request.provisioningId,
    setupIntentId: request.setupIntentId,
    card: new CardOnFile({
      customerId: setup.customerId.value,
      paymentMethodId: setup.paymentMethodId.value,
      email: setup.email
    }),
    rate: pod.value.rate,
    startedAt,
    accessUntil: accessUntil(policy, startedAt),
    access: Option.none(),
    accessRevokedAt: Option.none(),
    state: new Provisioning(),
    version: 0,
    updatedAt: startedAt
  })
  const opened = yield* store.openSession(session, [provisionAccessWork(session.id, startedAt)])
  return yield* holdFor(policy, opened)
})

/** The card check hold for an opened session, within the customer's wait (the worker finishes it otherwise). */
const holdFor = (policy: PolicyShape, session: Session) =>
  policy.bookingHoldPence === undefined || policy.bookingHoldPence <= 0
    ? Effect.succeed(session)
    : placeBookingHold(session.id).pipe(withinCustomerWait(policy, "placeHold", { sessionId: session.id }))
