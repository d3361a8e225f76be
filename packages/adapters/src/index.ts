/**
 * @qwip/adapters: implementations of @qwip/core's ports, and the services the entry points
 * need. Each adapter family is a namespace (`Stripe`, `Seam`, `Mail`, `Store`, ...); the
 * service tags the entry points use are also exported flat.
 */
export * from "./CryptoRandom.js"
export * as Mail from "./mail/index.js"
export { Outbox, type OutboxEntry, type OutboxShape } from "./mail/OutboxMailer.js"
export * as Photos from "./photos/index.js"
export { LocalPhotoFiles, type LocalPhotoFilesShape, PhotoStorageStartupError } from "./photos/index.js"
export {
  CRASH_POINTS,
  type CrashPlan,
  type CrashPoint,
  parseCrashPlan,
  withCrashPoints
} from "./platform/CrashPoints.js"
export { DEMO_POD_ID, demoPod, seedDemoPod } from "./platform/DemoPod.js"
export { loadLocalSecrets } from "./platform/LocalSecrets.js"
export { layerCheckoutPhotos, type PhotoStoreKind } from "./platform/PhotosFromEnv.js"
export * from "./platform/Platform.js"
export * from "./platform/Services.js"
export {
  describeAccess,
  layerStaff,
  migrateStore,
  platformVia,
  type SchemaStatus,
  type StoreAccess,
  schemaStatus,
  storeAccess
} from "./platform/StaffPlatform.js"
export * as RateLimits from "./ratelimits/RequestLimits.js"
export { RequestLimits, type RequestLimitsShape } from "./ratelimits/RequestLimits.js"
export * from "./sandbox/index.js"
export * as Seam from "./seam/index.js"
export * as SlackWebhook from "./staffchannel/SlackWebhook.js"
export * as StaticCodeTokens from "./static-codes/index.js"
export { StoreStartupError } from "./store/Backend.js"
export * as EmbeddedServer from "./store/EmbeddedServer.js"
export { type EmbeddedEndpoint, EmbeddedStoreBusy } from "./store/EmbeddedServer.js"
export * as Store from "./store/index.js"
export { StoreRecords, type StoreRecordsShape } from "./store/Records.js"
export { StaffCharge, StaffViews, type StaffViewsShape } from "./store/StaffQueries.js"
export { firstUnstorableIn, isStorableText } from "./store/StorableText.js"
export * as Stripe from "./stripe/index.js"
export { decodeStripeEvent } from "./stripe/StripeEvents.js"
export {
  InvalidWebhookSignature,
  MalformedWebhookEvent,
  type StripeEventEnvelope,
  StripeWebhooks,
  type StripeWebhooksShape
} from "./stripe/StripeWebhooks.js"
export {
  AccessTokens,
  type AccessTokensShape,
  bearerToken,
  InvalidToken,
  type ProvisioningClaims,
  type SessionClaims,
  TokenConfigError
} from "./tokens/AccessTokens.js"
export * as Tokens from "./tokens/index.js"
