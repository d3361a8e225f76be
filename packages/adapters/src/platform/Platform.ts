/**
 * The one place that turns the environment into running adapters. With nothing set:
 * embedded PGlite under `QWIP_DATA_DIR`, sandbox payments, static door codes, outbox mail,
 * local checkout photos, keys generated on first run. Each real adapter switches on with its
 * own variables (one module per concern beside this one); a half-configured one stops start-up
 * with one line naming what is missing.
 */
import {
  type CheckoutPhotos,
  type LockAccess,
  type Mailer,
  type PayLinks,
  type PaymentEventInbox,
  type Payments,
  Policy,
  type SessionStore,
  type StaticCodes
} from "@qwip/core"
import { Effect, Layer, Option } from "effect"
import { layerCryptoRandom } from "../CryptoRandom.js"
import type { LocalPhotoFiles } from "../photos/LocalCheckoutPhotos.js"
import type { RequestLimits } from "../ratelimits/RequestLimits.js"
import type { StoreBackend } from "../store/Backend.js"
import type { StoreRecords } from "../store/Records.js"
import type { StripeWebhooks } from "../stripe/StripeWebhooks.js"
import { AccessTokens } from "../tokens/AccessTokens.js"
import { locksFromEnv } from "./LocksFromEnv.js"
import { mailFromEnv } from "./MailFromEnv.js"
import { payLinksFromEnv } from "./PayLinksFromEnv.js"
import { paymentsFromEnv } from "./PaymentsFromEnv.js"
import { photosFromEnv } from "./PhotosFromEnv.js"
import { policyFromEnv } from "./PolicyFromEnv.js"
import { requestLimitsFromEnv } from "./RequestLimitsFromEnv.js"
import { CodeCipher, localSecretsIn, secretsFromEnv } from "./SecretsFromEnv.js"
import { PlatformInfo, type PlatformInfoShape, type Readiness, type Sandbox } from "./Services.js"
import { staffChannelFromEnv } from "./StaffChannelFromEnv.js"
import type { PlatformStartError } from "./StartError.js"
import { storeFromEnv } from "./StoreFromEnv.js"

export { makePayLinks, PAY_AUDIENCE, type PayLinksOptions } from "../paylinks/PayLinks.js"
export { parseDunningSchedule } from "./PolicyFromEnv.js"
export { CodeCipher } from "./SecretsFromEnv.js"
export { PlatformStartError } from "./StartError.js"

/** Everything a staff tool gets from the environment: all but checkout photos. */
export type StaffPlatformServices =
  | SessionStore
  | StoreRecords
  | StoreBackend
  | Payments
  | PayLinks
  | LockAccess
  | StaticCodes
  | CodeCipher
  | Mailer
  | Policy
  | AccessTokens
  | StripeWebhooks
  | PaymentEventInbox
  | Sandbox
  | PlatformInfo
  | Readiness

/** Everything the service gets from `layerFromEnv`. */
export type PlatformServices = StaffPlatformServices | CheckoutPhotos | LocalPhotoFiles

/** Reads every setting, in the order start-up reports them. */
const fromEnv = Effect.gen(function* () {
  const store = yield* storeFromEnv
  const local = store.choice._tag === "Embedded" ? Option.some(yield* localSecretsIn(store.dataDir)) : Option.none()
  const secrets = yield* secretsFromEnv(local)
  const policy = yield* policyFromEnv
  // Every adapter's own deadline per outside call is the policy's.
  const callDeadline = policy.outsideCallDeadline
  const payments = yield* paymentsFromEnv({ callDeadline, sandboxWebhookSecret: secrets.sandboxWebhookSecret })
  const mail = yield* mailFromEnv({ tokens: secrets.tokens, callDeadline })
  const locks = yield* locksFromEnv({ cipher: secrets.cipher, callDeadline })
  const photos = yield* photosFromEnv(store.dataDir)
  const requestLimits = yield* requestLimitsFromEnv(store.choice)
  const staffChannel = yield* staffChannelFromEnv({ callDeadline })
  const payLinks = yield* payLinksFromEnv({ secret: secrets.jwtSecret, previousSecrets: secrets.previousJwtSecrets })

  const info: PlatformInfoShape = {
    store: store.kind,
    payments: payments.kind,
    mail: mail.kind,
    locks: locks.kind,
    photos: photos.kind,
    dataDir: store.dataDir
  }
  yield* Effect.logInfo(
    `platform: store ${store.description}; payments ${info.payments}; mail ${info.mail}; locks ${info.locks}; photos ${info.photos}`
  )
  yield* Effect.logInfo(
    `platform: rate limits counted in ${requestLimits.kind}; staff alerts by email${staffChannel.kind === "webhook" ? " and webhook" : ""}`
  )
  const staff: Layer.Layer<StaffPlatformServices, PlatformStartError> = Layer.mergeAll(
    store.services,
    payments.layer,
    payLinks,
    mail.layer,
    locks.layer,
    Layer.succeed(CodeCipher, secrets.cipher),
    Layer.succeed(AccessTokens, secrets.tokens),
    Layer.succeed(PlatformInfo, info),
    Layer.succeed(Policy, policy),
    layerCryptoRandom,
    staffChannel.layer
  ).pipe(Layer.provideMerge(store.layer))
  return { staff, photos: photos.layer, requestLimits: requestLimits.layer }
})

/**
 * The platform from the environment, for the service. Built once per process; fails with one
 * line (`PlatformStartError`) naming the setting to fix.
 */
export const layerFromEnv: Layer.Layer<PlatformServices | RequestLimits, PlatformStartError> = Layer.unwrapEffect(
  Effect.map(fromEnv, (platform) =>
    // The request limits come up after the store: on Postgres they count in its (migrated) schema.
    platform.requestLimits.pipe(Layer.provideMerge(Layer.merge(platform.staff, platform.photos)))
  )
)

/**
 * `layerFromEnv` without checkout photos, for staff tools: they never touch photos, so a command
 * neither checks a Storage bucket nor makes a photo key.
 */
export const layerForStaffFromEnv: Layer.Layer<StaffPlatformServices, PlatformStartError> = Layer.unwrapEffect(
  Effect.map(fromEnv, (platform) => platform.staff)
)
