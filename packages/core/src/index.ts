/**
 * @qwip/core: Qwip's pure domain. Pods, sessions and their lifecycle, the tariff, the
 * provisioning policy, the ports adapters implement, and the use cases written against them.
 * Imports only `effect`: no I/O, no clock but `Clock`, no randomness but `Random`.
 *
 * Use-case modules are namespaces (`SessionEnd.endSession`); the model, errors, ports and
 * plain values are flat.
 */

// Background work: items kept in the store, and the worker that runs them.
export * as StaffNotices from "./alerts/StaffNotices.js"
export * from "./background/Work.js"
export * as Worker from "./background/Worker.js"
// Booking: checkout, then finalize once the card is saved.
export * as Checkout from "./booking/Checkout.js"
export * from "./booking/CustomerEmail.js"
// Door codes: the code value, making one, removing it, the lock's status.
export * from "./doorcodes/AccessCode.js"
export * as CodeProvisioning from "./doorcodes/CodeProvisioning.js"
export * as CodeRevocation from "./doorcodes/CodeRevocation.js"
export * as LockStatus from "./doorcodes/LockStatus.js"
export * from "./Errors.js"
// Ending a session: the one end, and the customer's, staff's and safety net's ways to it.
export * as CheckoutPhoto from "./ending/CheckoutPhoto.js"
export {
  CheckoutPhotoRequired,
  detectPhotoType,
  MAX_CHECKOUT_PHOTO_BYTES,
  PhotoTooLarge,
  UnsupportedPhoto
} from "./ending/CheckoutPhoto.js"
export * as CustomerEnd from "./ending/CustomerEnd.js"
export * as SafetyNetEnd from "./ending/SafetyNetEnd.js"
export * as SessionEnd from "./ending/SessionEnd.js"
export * as StaffEnd from "./ending/StaffEnd.js"
export * from "./Ids.js"
export * from "./Messages.js"
// Business metrics, and the store that records them.
export * as QwipMetrics from "./Metrics.js"
export * from "./Pod.js"
export * from "./Policy.js"
export * from "./ports/CheckoutPhotos.js"
export * from "./ports/LockAccess.js"
export * from "./ports/Mailer.js"
export * from "./ports/PayLinks.js"
export * from "./ports/PaymentEventInbox.js"
export * from "./ports/Payments.js"
export * from "./ports/SealedCodeKeys.js"
export * from "./ports/SessionStore.js"
export * from "./ports/StaffChannel.js"
export * from "./ports/StaffStore.js"
export * from "./ports/StaticCodes.js"
// The session model and its state machine; what the customer's app reads; overdue sessions.
export * as Legacy from "./session/Legacy.js"
export * as Lifecycle from "./session/Lifecycle.js"
export * as Overdue from "./session/Overdue.js"
export * from "./session/Session.js"
export * as Viewing from "./session/Viewing.js"
// Settlement: the charge, what its answer records, settling it later, payment events.
export * as CardHolds from "./settlement/CardHolds.js"
export * from "./settlement/Charge.js"
export * as ChargeOutcome from "./settlement/ChargeOutcome.js"
export * from "./settlement/Collection.js"
// Not `Dunning`: that name is the collection model's class (settlement/Collection.ts).
export * as DunningSchedule from "./settlement/Dunning.js"
export * from "./settlement/PaymentEvents.js"
export * as PaymentInbox from "./settlement/PaymentInbox.js"
export { PaymentEventNotProcessed, type PaymentEventReceipt } from "./settlement/PaymentInbox.js"
export * as PayPage from "./settlement/PayPage.js"
export * as Reconciliation from "./settlement/Reconciliation.js"
export * as Refunds from "./settlement/Refunds.js"
export * as Settlement from "./settlement/Settlement.js"
export * from "./staff/StaffActor.js"
// Staff actions (the `qwip` CLI), by what they act on.
export * as StaffAudit from "./staff/StaffAudit.js"
export * as StaffCodes from "./staff/StaffCodes.js"
export * from "./staff/StaffErrors.js"
export * as StaffPayments from "./staff/StaffPayments.js"
export * as StaffPods from "./staff/StaffPods.js"
export * as StaffSessions from "./staff/StaffSessions.js"
// Tariff and money.
export * as Billing from "./tariff/Billing.js"
export * from "./tariff/Money.js"
export * from "./tariff/Rate.js"
export * as Tariff from "./tariff/Tariff.js"
export {
  EndBeforeStart,
  InvalidTariff,
  Quote,
  type QuoteInput,
  type QuoteResult,
  quoteSession
} from "./tariff/Tariff.js"
