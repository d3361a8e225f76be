/**
 * Rows the previous service wrote (and may still write during a cut-over) carry no state:
 * the store hands over their facts as they are, and this module decides what session they
 * are, under the same tariff and door-code window as every other session.
 * - open (no end time): `Active` from when its code was ready (its provisioning's `ready_at`,
 *   else the booking) if it has an access code, else `Provisioning`;
 * - ended: `Ended` at its end time, priced from booking to end at its rate under the standard
 *   terms (the previous service's promo setting was never recorded), billed from the booking;
 *   `PaymentFailed` if `invalid_payment_attempts` has it, `NotBilled` below the minimum, else
 *   `Paid` with the marker PaymentIntent id `legacy-unrecorded` (the old service never kept it);
 * - its door code lived the default window from the booking unless a window was recorded.
 */
import { Duration, Effect, Option, ParseResult, Schema } from "effect"
import { PodId, ProvisioningId, SessionId, SetupIntentId } from "../Ids.js"
import { defaultPolicy } from "../Policy.js"
import { pence } from "../tariff/Money.js"
import { RatePerMinute } from "../tariff/Rate.js"
import { billableSeconds, DEFAULT_MINIMUM_CHARGE_PENCE, priceSeconds, type Quote } from "../tariff/Tariff.js"
import {
  AccessGrant,
  Active,
  CardOnFile,
  Ended,
  NotBilled,
  Paid,
  PaymentFailed,
  Provisioning,
  Session,
  type SessionState,
  System
} from "./Session.js"

/** What the previous service's marker for a charge it made but never recorded is. */
export const UNRECORDED_PAYMENT_INTENT = "legacy-unrecorded"

/** The facts of a row with no recorded state, as the store reads them. */
export class LegacyRow extends Schema.Class<LegacyRow>("LegacyRow")({
  id: SessionId,
  podId: PodId,
  provisioningId: ProvisioningId,
  setupIntentId: SetupIntentId,
  card: CardOnFile,
  rate: RatePerMinute,
  startedAt: Schema.Date,
  /** `end_time`: null while the old service considered the session open. */
  endedAt: Schema.NullOr(Schema.Date),
  /** `access_until`, when it was recorded (rows the old service inserted after migrating lack it). */
  accessUntil: Schema.NullOr(Schema.Date),
  access: Schema.OptionFromNullOr(AccessGrant),
  accessRevokedAt: Schema.OptionFromNullOr(Schema.Date),
  /** The latest `session_provisionings.ready_at` of the session. */
  codeReadyAt: Schema.NullOr(Schema.Date),
  /** Whether `invalid_payment_attempts` has the session. */
  paymentFailed: Schema.Boolean,
  version: Schema.Int.pipe(Schema.nonNegative()),
  updatedAt: Schema.Date
}) {}

/** The price of an old-service session: booking to end, standard terms, no promo. */
export const legacyQuote = (startedAt: Date, endedAt: Date, rate: RatePerMinute): Quote =>
  priceSeconds(billableSeconds(startedAt, endedAt, 0), {
    rate,
    promoFreeMinutes: 0,
    minimumChargePence: DEFAULT_MINIMUM_CHARGE_PENCE
  })

const stateOf = (row: LegacyRow): SessionState => {
  if (row.endedAt === null) {
    return Option.isNone(row.access)
      ? new Provisioning()
      : new Active({ activatedAt: row.codeReadyAt ?? row.startedAt })
  }
  const quote = legacyQuote(row.startedAt, row.endedAt, row.rate)
  const outcome = row.paymentFailed
    ? new PaymentFailed({
        paymentIntentId: Option.none(),
        declineCode: "legacy",
        message: "the previous service recorded this charge as failed"
      })
    : quote.chargePence === 0
      ? new NotBilled({ reason: "below_minimum" })
      : new Paid({ paymentIntentId: UNRECORDED_PAYMENT_INTENT, amountPence: pence(quote.chargePence) })
  return new Ended({
    endedAt: row.endedAt,
    quote,
    billedFrom: { _tag: "Booking" },
    outcome,
    closedAt: row.endedAt,
    by: System("ended by the previous service")
  })
}

/** The session an old-service row is. */
export const sessionOf = (row: LegacyRow): Session =>
  new Session({
    id: row.id,
    podId: row.podId,
    provisioningId: row.provisioningId,
    setupIntentId: row.setupIntentId,
    card: row.card,
    rate: row.rate,
    startedAt: row.startedAt,
    accessUntil: row.accessUntil ?? new Date(row.startedAt.getTime() + Duration.toMillis(defaultPolicy.accessWindow)),
    access: row.access,
    accessRevokedAt: row.accessRevokedAt,
    state: stateOf(row),
    version: row.version,
    updatedAt: row.updatedAt
  })

const LegacySession = Schema.transformOrFail(Schema.Struct({ legacy: LegacyRow }), Schema.typeSchema(Session), {
  strict: true,
  decode: ({ legacy }) => Effect.succeed(sessionOf(legacy)),
  // A session with a state is always stored with it: nothing is written back as a legacy row.
  encode: (session, _, ast) =>
    Effect.fail(new ParseResult.Forbidden(ast, session, "a session is never stored as a legacy row"))
})

/**
 * A session as a store holds it: `Schema.encode(Session)` for rows written with a state, or
 * `{legacy: facts}` for rows the previous service wrote, interpreted by `sessionOf`.
 */
export const StoredSession = Schema.Union(Session, LegacySession)
