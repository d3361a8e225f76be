/**
 * Branded identifiers, so a session id can never be passed where a pod id is meant.
 */
import { Effect, Random, Schema } from "effect"

export const PodId = Schema.NonEmptyTrimmedString.pipe(Schema.maxLength(200), Schema.brand("PodId"))
export type PodId = typeof PodId.Type

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Sessions are random UUIDs: their id appears in links and must not be guessable. */
export const SessionId = Schema.String.pipe(
  Schema.pattern(UUID, { message: () => "must be a UUID" }),
  Schema.brand("SessionId")
)
export type SessionId = typeof SessionId.Type

/** A card set-up at the payment provider (Stripe's SetupIntent id). */
export const SetupIntentId = Schema.NonEmptyTrimmedString.pipe(Schema.maxLength(255), Schema.brand("SetupIntentId"))
export type SetupIntentId = typeof SetupIntentId.Type

/** Identifies one checkout's provisioning; carried in the provisioning token. */
export const ProvisioningId = Schema.String.pipe(
  Schema.pattern(UUID, { message: () => "must be a UUID" }),
  Schema.brand("ProvisioningId")
)
export type ProvisioningId = typeof ProvisioningId.Type

/**
 * A version 4 UUID from Effect's `Random`. Entry points provide a `Random` backed by a
 * cryptographic source, so ids are unguessable in production and reproducible in tests.
 */
export const randomUuid: Effect.Effect<string> = Effect.gen(function* () {
  const bytes: Array<number> = []
  for (let i = 0; i < 16; i++) bytes.push(yield* Random.nextIntBetween(0, 256))
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = bytes.map((b) => b.toString(16).padStart(2, "0")).join("")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
})

export const newSessionId: Effect.Effect<SessionId> = randomUuid as Effect.Effect<SessionId>
export const newProvisioningId: Effect.Effect<ProvisioningId> = randomUuid as Effect.Effect<ProvisioningId>
