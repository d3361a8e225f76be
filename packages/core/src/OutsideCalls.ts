/**
 * The outside services' ports, each call bounded by the policy's `outsideCallDeadline`. The
 * adapters are configured with the same deadline; this bound holds whatever an adapter does,
 * so no use case waits on Stripe, Seam or Resend for longer. A call past it fails with the
 * port's "unavailable" error (`PaymentsUnavailable`, `LockUnavailable`, a retryable
 * `MailFailed`) and logs a warning naming the operation and the session or device.
 */
import { Duration, Effect } from "effect"
import { messageKey } from "./Messages.js"
import { Policy } from "./Policy.js"
import { LockAccess, type LockAccessShape, LockUnavailable } from "./ports/LockAccess.js"
import { Mailer, type MailerShape, MailFailed } from "./ports/Mailer.js"
import { Payments, type PaymentsShape, PaymentsUnavailable } from "./ports/Payments.js"

const missed = (deadline: Duration.Duration) => `no answer within ${Duration.format(deadline)}`

/** `self` bounded by `deadline`; past it, a warning and the error `onTimeout` makes. */
export const withDeadline =
  <E2>(deadline: Duration.Duration, operation: string, about: Record<string, string>, onTimeout: () => E2) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> =>
    Effect.flatten(
      Effect.timeoutTo(self, {
        duration: deadline,
        onSuccess: (a): Effect.Effect<A, E2> => Effect.succeed(a),
        onTimeout: () =>
          Effect.logWarning("outside call missed its deadline").pipe(
            Effect.annotateLogs({ operation, deadline: Duration.format(deadline), ...about }),
            Effect.zipRight(Effect.fail(onTimeout()))
          )
      })
    )

/** `Payments`, each call bounded. */
export const boundedPayments: Effect.Effect<PaymentsShape, never, Payments | Policy> = Effect.gen(function* () {
  const payments = yield* Payments
  const { outsideCallDeadline: deadline } = yield* Policy
  const bound = (operation: string, about: Record<string, string>) =>
    withDeadline(deadline, operation, about, () => new PaymentsUnavailable({ operation, reason: missed(deadline) }))
  return {
    setUpCard: (request) => payments.setUpCard(request).pipe(bound("setUpCard", { podId: request.podId })),
    readCardSetUp: (id) => payments.readCardSetUp(id).pipe(bound("readCardSetUp", { setupIntentId: id })),
    chargeSession: (request) =>
      payments.chargeSession(request).pipe(bound("chargeSession", { sessionId: request.sessionId })),
    readCharge: (request) => payments.readCharge(request).pipe(bound("readCharge", { sessionId: request.sessionId })),
    placeHold: (request) => payments.placeHold(request).pipe(bound("placeHold", { sessionId: request.sessionId })),
    captureHold: (request) =>
      payments.captureHold(request).pipe(bound("captureHold", { sessionId: request.sessionId })),
    releaseHold: (request) =>
      payments.releaseHold(request).pipe(bound("releaseHold", { sessionId: request.sessionId })),
    refund: (request) => payments.refund(request).pipe(bound("refund", { sessionId: request.sessionId })),
    refundsOf: (id) => payments.refundsOf(id).pipe(bound("refundsOf", { paymentIntentId: id })),
    sessionPayments: (window) =>
      payments.sessionPayments(window).pipe(bound("sessionPayments", { since: window.since.toISOString() })),
    paymentForCustomer: (request) =>
      payments.paymentForCustomer(request).pipe(bound("paymentForCustomer", { sessionId: request.sessionId })),
    readPayment: (id) => payments.readPayment(id).pipe(bound("readPayment", { paymentIntentId: id }))
  }
})

/** `LockAccess`, each call bounded. */
export const boundedLock: Effect.Effect<LockAccessShape, never, LockAccess | Policy> = Effect.gen(function* () {
  const lock = yield* LockAccess
  const { outsideCallDeadline: deadline } = yield* Policy
  const bound = (operation: string, deviceId: string) =>
    withDeadline(deadline, operation, { deviceId }, () => new LockUnavailable({ deviceId, reason: missed(deadline) }))
  return {
    createCode: (request) => lock.createCode(request).pipe(bound("createCode", request.deviceId)),
    readCode: (deviceId, ref) => lock.readCode(deviceId, ref).pipe(bound("readCode", deviceId)),
    revokeCode: (deviceId, ref) => lock.revokeCode(deviceId, ref).pipe(bound("revokeCode", deviceId)),
    lockStatus: (deviceId) => lock.lockStatus(deviceId).pipe(bound("lockStatus", deviceId))
  }
})

/** `Mailer`, each send bounded; a missed deadline is retryable (the key makes a repeat safe). */
export const boundedMailer: Effect.Effect<MailerShape, never, Mailer | Policy> = Effect.gen(function* () {
  const mailer = yield* Mailer
  const { outsideCallDeadline: deadline } = yield* Policy
  return {
    send: (message) =>
      mailer
        .send(message)
        .pipe(
          withDeadline(
            deadline,
            "sendMail",
            { sessionId: message.sessionId, kind: message._tag },
            () => new MailFailed({ messageKey: messageKey(message), reason: missed(deadline), retryable: true })
          )
        )
  }
})
