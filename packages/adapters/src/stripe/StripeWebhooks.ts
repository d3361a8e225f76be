/**
 * Stripe's webhooks: the signature is checked by the SDK (an HMAC over `timestamp.body` with the
 * endpoint's secret, and a timestamp no older than the tolerance, against replays), then here
 * that the timestamp is not in the future beyond a small clock skew (the SDK accepts any future
 * timestamp, which would let a captured request replay for as long as it is post-dated) and that
 * the body is an event with an id and a type. What an event means to Qwip is read by
 * `StripeEvents`.
 */
import { Clock, Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import Stripe from "stripe"
import { firstUnstorableIn } from "../store/StorableText.js"

/** Stripe's own default, and the window its docs recommend. */
export const DEFAULT_TOLERANCE_SECONDS = 300
/** How far ahead of our clock a signature's timestamp may be: clocks differ a little, never by more. */
export const MAX_CLOCK_SKEW_SECONDS = 300

/** The request did not come from Stripe, or is too old to trust. Never carries the secret. */
export class InvalidWebhookSignature extends Schema.TaggedError<InvalidWebhookSignature>()("InvalidWebhookSignature", {
  reason: Schema.String
}) {
  override get message() {
    return `Stripe webhook rejected: ${this.reason}`
  }
}

/**
 * Correctly signed, but not a Stripe event (no `id` or `type`, or not a JSON object): nothing
 * is stored, and Stripe is told 400 rather than retrying for days.
 */
export class MalformedWebhookEvent extends Schema.TaggedError<MalformedWebhookEvent>()("MalformedWebhookEvent", {
  reason: Schema.String
}) {
  override get message() {
    return `Stripe webhook body is not an event: ${this.reason}`
  }
}

/** A verified Stripe event: what is needed to store it, and the event itself to decode. */
export interface StripeEventEnvelope {
  readonly id: string
  /** Stripe's event type, e.g. `payment_intent.succeeded`. */
  readonly type: string
  /** When Stripe created the event (its `created`, whole seconds). */
  readonly created: Date
  readonly livemode: boolean
  readonly event: Stripe.Event
}

export interface StripeWebhooksShape {
  /** Checks `Stripe-Signature` against the raw body, exactly as received (not re-serialized JSON). */
  readonly verify: (
    rawBody: string | Uint8Array,
    signatureHeader: string
  ) => Effect.Effect<StripeEventEnvelope, InvalidWebhookSignature | MalformedWebhookEvent>
}

export interface StripeWebhooksOptions {
  /** The endpoint's signing secret (`whsec_...`, `STRIPE_WEBHOOK_SECRET`). */
  readonly webhookSecret: Redacted.Redacted<string>
  /** How old a signature may be, in seconds. Default 300; must be positive (0 would allow replays). */
  readonly toleranceSeconds?: number
}

/**
 * The SDK's messages are long and end with a docs link; a person reading logs needs the gist.
 * They never contain the secret; the header and payload the SDK attaches are left out.
 */
const reasonFor = (error: unknown, toleranceSeconds: number): string => {
  if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
    if (error.message.startsWith("Timestamp outside the tolerance zone")) {
      return `the signature is more than ${toleranceSeconds} s old (a replay, or a clock far off)`
    }
    if (error.message.startsWith("No signatures found matching the expected signature")) {
      return "the signature does not match the body (another endpoint's secret, or a body changed on the way)"
    }
    return (error.message.split("\n")[0] ?? error.message).trim()
  }
  // A valid signature over something that is not a snapshot event (not JSON, or a v2 thin event).
  if (error instanceof SyntaxError) return "the body is not JSON"
  return error instanceof Error ? (error.message.split("\n")[0] ?? "unreadable event") : "unreadable event"
}

/** The header's signing time (`t=`), read as the SDK reads it: the last `t` wins. */
const signedAtSeconds = (header: string): number =>
  header.split(",").reduce((at, item) => {
    const [key, value] = item.split("=")
    return key === "t" ? Number.parseInt(value ?? "", 10) : at
  }, Number.NaN)

/** An event needs an id and a type to be stored; Stripe's always have both. */
const EventHead = Schema.Struct({ id: Schema.NonEmptyString, type: Schema.NonEmptyString })
const isEventHead = Schema.is(EventHead)

/**
 * Verification reads "now" from Effect's `Clock` and hands it to the SDK (`receivedAt`), so
 * tests can move time with `TestClock`; in production `Clock` is the system clock.
 */
export const makeStripeWebhooks = (options: StripeWebhooksOptions): StripeWebhooksShape => {
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS
  if (!(toleranceSeconds > 0)) {
    throw new RangeError(`toleranceSeconds must be positive, got ${toleranceSeconds}`)
  }
  const verify = (rawBody: string | Uint8Array, signatureHeader: string) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const event = yield* Effect.try({
        try: () =>
          Stripe.webhooks.constructEvent(
            rawBody,
            signatureHeader,
            Redacted.value(options.webhookSecret),
            toleranceSeconds,
            undefined,
            now
          ),
        catch: (error) => new InvalidWebhookSignature({ reason: reasonFor(error, toleranceSeconds) })
      })
      // Checked after the signature, so the time is one Stripe signed.
      if (signedAtSeconds(signatureHeader) - Math.floor(now / 1000) > MAX_CLOCK_SKEW_SECONDS) {
        return yield* new InvalidWebhookSignature({
          reason: `the signature is dated more than ${MAX_CLOCK_SKEW_SECONDS} s in the future (a clock far off)`
        })
      }
      // The SDK hands back whatever JSON was signed: an array, or an object without an id.
      const parsed: unknown = event
      if (Array.isArray(parsed)) return yield* new MalformedWebhookEvent({ reason: "the body is a JSON array" })
      if (!isEventHead(parsed)) return yield* new MalformedWebhookEvent({ reason: "the body has no event id or type" })
      const unstorable = firstUnstorableIn(parsed)
      if (Option.isSome(unstorable)) {
        return yield* new MalformedWebhookEvent({
          reason: `${unstorable.value.join(".") || "the body"} holds a NUL or an unpaired surrogate, which no store can keep`
        })
      }
      return {
        id: event.id,
        type: event.type,
        created: new Date(event.created * 1000),
        livemode: event.livemode,
        event
      } satisfies StripeEventEnvelope
    }).pipe(Effect.withSpan("StripeWebhooks.verify"))
  return { verify }
}

/** Verifies Stripe's webhooks for the HTTP layer's `/webhook/stripe`. */
export class StripeWebhooks extends Context.Tag("@qwip/adapters/StripeWebhooks")<
  StripeWebhooks,
  StripeWebhooksShape
>() {
  static readonly layer = (options: StripeWebhooksOptions): Layer.Layer<StripeWebhooks> =>
    Layer.sync(StripeWebhooks, () => makeStripeWebhooks(options))
}
