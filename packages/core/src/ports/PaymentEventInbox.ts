/**
 * Where the payment provider's events are taken in: each stored once by its id, so a
 * redelivery is recognised, and read into the platform's `PaymentEvent`s. Store faults are
 * defects: the provider retries an event whose receipt failed.
 */
import { Context, type Effect, type Option } from "effect"
import type { PaymentEvent } from "../settlement/PaymentEvents.js"

/** An event's progress through the inbox. */
export type PaymentEventStatus = "received" | "processed" | "failed"

/** An event as the provider sent it, its signature already checked. */
export interface ProviderEvent {
  readonly id: string
  /** The provider's name for it, e.g. `payment_intent.succeeded`. */
  readonly type: string
  /** The event itself, kept as received. */
  readonly payload: unknown
}

export interface PaymentEventInboxShape {
  /**
   * Stores the event if its id is new. Returns its status: `processed` for a duplicate of an
   * event already handled (nothing more to do), else `received`/`failed` (handle it).
   */
  readonly receive: (event: ProviderEvent) => Effect.Effect<PaymentEventStatus>
  /** What the event means to Qwip; `None` for the kinds Qwip does not act on. */
  readonly decode: (event: ProviderEvent) => Option.Option<PaymentEvent>
  /** Done with; `note` says why it changed nothing (ignored, or a payment refused), for staff. */
  readonly markProcessed: (id: string, note?: string) => Effect.Effect<void>
  readonly markFailed: (id: string, error: string) => Effect.Effect<void>
}

export class PaymentEventInbox extends Context.Tag("@qwip/core/PaymentEventInbox")<
  PaymentEventInbox,
  PaymentEventInboxShape
>() {}
