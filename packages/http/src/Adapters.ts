/**
 * What this package uses from `@qwip/adapters`, imported in one place.
 */
export {
  AccessTokens,
  type AccessTokensShape,
  bearerToken,
  InvalidToken,
  InvalidWebhookSignature,
  LocalPhotoFiles,
  type LocalPhotoFilesShape,
  layerCryptoRandom,
  MalformedWebhookEvent,
  PlatformInfo,
  type PlatformInfoShape,
  type ProvisioningClaims,
  RateLimits,
  Readiness,
  type ReadinessShape,
  RequestLimits,
  Sandbox,
  SandboxCardDeclined,
  type SandboxConsoleShape,
  type SessionClaims,
  StripeWebhooks,
  type StripeWebhooksShape,
  TEST_CARDS
} from "@qwip/adapters"
