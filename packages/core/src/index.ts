/**
 * @qwip/core: Qwip's pure domain. Pods, sessions and their lifecycle, the tariff, the
 * provisioning policy, the ports adapters implement, and the use cases written against them.
 * Imports only `effect`: no I/O, no clock but `Clock`, no randomness but `Random`.
 */

export * as Access from "./Access.js"
export * from "./AccessCode.js"
export * as Billing from "./Billing.js"
export * from "./Charge.js"
export * as Checkout from "./Checkout.js"
export * as CheckoutPhoto from "./CheckoutPhoto.js"
export {
  CheckoutPhotoRequired,
  detectPhotoType,
  MAX_CHECKOUT_PHOTO_BYTES,
  PhotoTooLarge,
  UnsupportedPhoto
} from "./CheckoutPhoto.js"
export * from "./CustomerEmail.js"
export * as CustomerEnd from "./CustomerEnd.js"
export * from "./DoorLock.js"
export * from "./Errors.js"
export * from "./Ids.js"
export * as Lifecycle from "./Lifecycle.js"
export * from "./Messages.js"
export * from "./Money.js"
export * as Overdue from "./Overdue.js"
export * from "./PaymentEvents.js"
export * from "./PaymentInbox.js"
export * from "./Pod.js"
export * from "./Policy.js"
export * from "./ports/CheckoutPhotos.js"
export * from "./ports/LockAccess.js"
export * from "./ports/Mailer.js"
export * from "./ports/PaymentEventInbox.js"
export * from "./ports/Payments.js"
export * from "./ports/SealedCodeKeys.js"
export * from "./ports/SessionStore.js"
export * from "./ports/StaffStore.js"
export * from "./ports/StaticCodes.js"
export * from "./Rate.js"
export * from "./Session.js"
export * as SessionEnd from "./SessionEnd.js"
export * as StaffActions from "./StaffActions.js"
export {
  InvalidCodeList,
  InvalidStaffRequest,
  NothingToRetry,
  PaymentNeedsCustomer,
  PaymentStillProcessing,
  PodBlockedByCode,
  PodHeld
} from "./StaffActions.js"
export * from "./StaffActor.js"
export * as Tariff from "./Tariff.js"
export { EndBeforeStart, InvalidTariff, Quote, type QuoteInput, type QuoteResult, quoteSession } from "./Tariff.js"
export * as Viewing from "./Viewing.js"
export * from "./Work.js"
export * as Worker from "./Worker.js"
