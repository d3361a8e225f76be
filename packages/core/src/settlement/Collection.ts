/**
 * Getting paid beyond the first charge, recorded on the session itself (so every change to it
 * is one versioned step with the session): the card check hold placed at booking, the
 * dunning of a declined charge, and refunds. Stores keep it as one document beside the
 * session and never interpret it.
 */
import { Option, Schema } from "effect"
import { Pence, pence } from "../tariff/Money.js"

/**
 * A hold on the saved card placed at booking (a manual-capture PaymentIntent): `held` until
 * the end captures some of it (`captured`, with `capturedPence`) or it is cancelled
 * (`released`: nothing owed, the booking did not complete, or the end charged in full).
 */
export class CardHold extends Schema.Class<CardHold>("CardHold")({
  paymentIntentId: Schema.String,
  amountPence: Pence,
  status: Schema.Literal("held", "captured", "released"),
  capturedPence: Schema.optionalWith(Pence, { default: () => pence(0) })
}) {}

/**
 * One attempt of the dunning schedule at a declined charge: its own idempotency key,
 * recorded (`pending`) before the request is sent, so a crash resends the same key.
 */
export class CollectionAttempt extends Schema.Class<CollectionAttempt>("CollectionAttempt")({
  /** 1 for the first scheduled retry. */
  attempt: Schema.Int.pipe(Schema.positive()),
  idempotencyKey: Schema.String,
  amountPence: Pence,
  status: Schema.Literal("pending", "succeeded", "declined", "needs_authentication"),
  paymentIntentId: Schema.OptionFromNullOr(Schema.String),
  declineCode: Schema.OptionFromNullOr(Schema.String),
  at: Schema.Date
}) {}

/**
 * Where collecting a declined or unauthenticated charge stands: `scheduled` (a next attempt is
 * due at `nextAttemptAt`), `stopped` (a hard decline: not retried, the customer can still pay
 * by link), `exhausted` (the schedule ran out: unpaid after collection, staff told once),
 * `paid` (an attempt or the pay link paid).
 */
export class Dunning extends Schema.Class<Dunning>("Dunning")({
  status: Schema.Literal("scheduled", "stopped", "exhausted", "paid"),
  nextAttemptAt: Schema.OptionFromNullOr(Schema.Date),
  attempts: Schema.Array(CollectionAttempt)
}) {}

/** A refund against the session's payments, ours (by staff) or made in the provider's dashboard. */
export class Refund extends Schema.Class<Refund>("Refund")({
  /** Ours: the idempotency key, recorded before the request; dashboard: `provider:<refund id>`. */
  key: Schema.String,
  refundId: Schema.OptionFromNullOr(Schema.String),
  paymentIntentId: Schema.String,
  amountPence: Pence,
  status: Schema.Literal("pending", "succeeded", "failed"),
  reason: Schema.String,
  by: Schema.String,
  at: Schema.Date
}) {}

export class Collection extends Schema.Class<Collection>("Collection")({
  hold: Schema.OptionFromNullOr(CardHold),
  dunning: Schema.OptionFromNullOr(Dunning),
  refunds: Schema.Array(Refund)
}) {}

/** A session with nothing collected beyond its charge (every session before this existed). */
export const noCollection = new Collection({ hold: Option.none(), dunning: Option.none(), refunds: [] })

/** What has been refunded so far (pending refunds count: they may have landed). */
export const refundedPence = (c: Collection): Pence =>
  pence(c.refunds.filter((r) => r.status !== "failed").reduce((sum, r) => sum + r.amountPence, 0))

/** What the end captured from the card check hold (0 without one, or before the end). */
export const capturedPence = (c: Collection): Pence =>
  Option.match(c.hold, {
    onNone: () => pence(0),
    onSome: (h) => (h.status === "captured" ? h.capturedPence : pence(0))
  })

/** What is still to charge of `owedPence` once the hold's capture is counted. */
export const remainderPence = (owedPence: number, c: Collection): Pence =>
  pence(Math.max(0, owedPence - capturedPence(c)))

export const withHold = (c: Collection, hold: CardHold): Collection => new Collection({ ...c, hold: Option.some(hold) })

export const withDunning = (c: Collection, dunning: Dunning): Collection =>
  new Collection({ ...c, dunning: Option.some(dunning) })

/** Dunning, if any, marked paid: no later attempt charges anything. */
export const dunningPaid = (c: Collection): Collection =>
  Option.match(c.dunning, {
    onNone: () => c,
    onSome: (d) =>
      d.status === "paid" ? c : withDunning(c, new Dunning({ ...d, status: "paid", nextAttemptAt: Option.none() }))
  })
