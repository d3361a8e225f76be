/**
 * The core's `PaymentEventInbox` over the store's webhook table (`qwip_record_webhook_event`,
 * `qwip_finish_webhook_event`), reading Stripe's events.
 */
import { PaymentEventInbox, type PaymentEventInboxShape } from "@qwip/core"
import { Effect, Layer } from "effect"
import { StoreRecords, type StoreRecordsShape } from "../store/Records.js"
import { decodeProviderEvent } from "../stripe/StripeEvents.js"

export const makeStripeEventInbox = (records: StoreRecordsShape): PaymentEventInboxShape => ({
  receive: (event) =>
    Effect.map(
      records.recordWebhookEvent({ eventId: event.id, type: event.type, payload: event.payload }),
      (delivery) => delivery.status
    ),
  decode: decodeProviderEvent,
  markProcessed: (id, note) => Effect.asVoid(records.finishWebhookEvent(id, { status: "processed", note })),
  markFailed: (id, error) => Effect.asVoid(records.finishWebhookEvent(id, { status: "failed", error }))
})

export const layerStripeEventInbox = Layer.effect(PaymentEventInbox, Effect.map(StoreRecords, makeStripeEventInbox))
