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
  PAY_AUDIENCE,
  PlatformInfo,
  type PlatformInfoShape,
  type ProvisioningClaims,
  RateLimits,
  Readiness,
  type ReadinessShape,
  RequestLimits,
  Sandbox,
  SandboxAuthentication,
  type SandboxAuthenticationShape,
  SandboxCardDeclined,
  type SandboxConsoleShape,
  SandboxPaymentNotFound,
  SandboxPaymentNotOpen,
  type SandboxPaymentStatus,
  type SessionClaims,
  StripeWebhooks,
  type StripeWebhooksShape,
  TEST_CARDS
} from "@qwip/adapters"
