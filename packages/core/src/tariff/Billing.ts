/**
 * When a session is billed from: one rule for every way a session ends (the customer, staff,
 * the safety net, any automatic end) and for the cost preview.
 *
 * - Billing starts when the door code became ready (`Active.activatedAt`), not at booking:
 *   a code can take a minute to reach the lock, and the customer cannot get in before it does.
 * - A session with no ready door code by its end (still provisioning, or ended by staff at a
 *   time before its code was ready) is not charged at all; its outcome says so
 *   (`NotBilled` with reason `no_door_code`).
 * - The end records what it billed from (`Ending.billedFrom`) beside its quote, so receipts and
 *   staff views can show it and the price never changes once the end is fixed. Ends fixed
 *   before this rule, and rows the previous service ended, were billed from the booking and
 *   keep that price.
 */
import { Either, Option } from "effect"
import type { BilledFrom, Session } from "../session/Session.js"
import { billableSeconds, EndBeforeStart, priceSeconds, type Quote, type Terms } from "./Tariff.js"

/**
 * When billing starts (or started) for a session; `None` while no door code has been ready,
 * and for an end that billed nothing because none ever was.
 */
export const billableStartOf = (session: Session): Option.Option<Date> => {
  const state = session.state
  switch (state._tag) {
    case "Active":
      // Never before the booking, even if an instance's clock ran behind when the code came.
      return Option.some(new Date(Math.max(state.activatedAt.getTime(), session.startedAt.getTime())))
    case "Ending":
    case "Ended":
      return recordedStart(session, state.billedFrom)
    case "Provisioning":
    case "ProvisioningFailed":
      return Option.none()
  }
}

const recordedStart = (session: Session, billedFrom: BilledFrom): Option.Option<Date> => {
  switch (billedFrom._tag) {
    case "CodeReady":
      return Option.some(billedFrom.at)
    case "Booking":
      return Option.some(session.startedAt)
    case "NoCode":
      return Option.none()
  }
}

/** A priced end: the quote and what it billed from. */
export interface PricedEnd {
  readonly quote: Quote
  readonly billedFrom: BilledFrom
}

/**
 * Prices ending a live session at `endedAt` under the rule above. Fails with `EndBeforeStart`
 * only for an end before the booking (an end before the code was ready is simply free).
 */
export const priceEnd = (session: Session, endedAt: Date, terms: Terms): Either.Either<PricedEnd, EndBeforeStart> => {
  if (endedAt.getTime() < session.startedAt.getTime()) {
    return Either.left(new EndBeforeStart({ startedAt: session.startedAt, endedAt }))
  }
  const from = Option.filter(billableStartOf(session), (start) => start.getTime() <= endedAt.getTime())
  return Either.right(
    Option.match(from, {
      onNone: () => ({ quote: priceSeconds(0, terms), billedFrom: { _tag: "NoCode" } as const }),
      onSome: (at) => ({
        quote: priceSeconds(billableSeconds(at, endedAt, terms.promoFreeMinutes), terms),
        billedFrom: { _tag: "CodeReady", at } as const
      })
    })
  )
}
