/**
 * What the customer's app reads: a session with its pod and code, its provisioning status,
 * and what ending now would cost. Each is one store read.
 */
import { Effect, Either, Option } from "effect"
import type { AccessCode } from "../doorcodes/AccessCode.js"
import type { SessionId } from "../Ids.js"
import type { Pod } from "../Pod.js"
import { Policy, termsFor } from "../Policy.js"
import { StaticCodes } from "../ports/StaticCodes.js"
import { priceEnd } from "../tariff/Billing.js"
import * as Tariff from "../tariff/Tariff.js"
import { endedAtOf, isLive, type Session, sealedCodeOf } from "./Session.js"
import { loadSessionWithPod, now } from "./SessionSteps.js"

/**
 * `pending` while the code is being made; `ready` once it was (the code itself is shown only
 * while the session is active); `failed` if no code ever will be: provisioning gave up, or the
 * session ended before any code was granted.
 */
export type ProvisioningStatus = "pending" | "ready" | "failed"

export const provisioningStatusOf = (session: Session): ProvisioningStatus => {
  switch (session.state._tag) {
    case "Provisioning":
      return "pending"
    case "Active":
      return "ready"
    case "ProvisioningFailed":
      return "failed"
    case "Ending":
    case "Ended":
      return Option.isSome(session.access) ? "ready" : "failed"
  }
}

export interface SessionView {
  readonly session: Session
  readonly pod: Pod
  readonly provisioning: ProvisioningStatus
  /** The door code, only while the session is active: never once it has ended. */
  readonly accessCode: Option.Option<AccessCode>
  readonly isComplete: boolean
}

/** Whether the session is over for the customer (ended, or provisioning failed). */
export const isComplete = (session: Session): boolean => !isLive(session.state)

export const viewSession = Effect.fn("Viewing.viewSession")(function* (sessionId: SessionId) {
  const codes = yield* StaticCodes
  const { session, pod } = yield* loadSessionWithPod(sessionId)
  const sealed = session.state._tag === "Active" ? Option.flatMap(session.access, sealedCodeOf) : Option.none<string>()
  const accessCode = Option.isSome(sealed)
    ? Option.some(yield* codes.open(sealed.value).pipe(Effect.orDie))
    : Option.none<AccessCode>()
  return {
    session,
    pod,
    provisioning: provisioningStatusOf(session),
    accessCode,
    isComplete: isComplete(session)
  } satisfies SessionView
})

export interface CostPreview {
  readonly session: Session
  readonly pod: Pod
  readonly isComplete: boolean
  readonly endedAt: Option.Option<Date>
  readonly quote: Tariff.Quote
}

/** The recorded price of an ended session, or what ending it now would cost (`Billing`'s rule). */
export const previewCost = Effect.fn("Viewing.previewCost")(function* (sessionId: SessionId) {
  const policy = yield* Policy
  const { session, pod } = yield* loadSessionWithPod(sessionId)
  const state = session.state
  const terms = termsFor(policy, session.rate)
  const quote =
    state._tag === "Ending" || state._tag === "Ended"
      ? state.quote
      : Either.match(priceEnd(session, yield* now, terms), {
          onRight: (priced) => priced.quote,
          // The clock cannot run backwards past a start we recorded; if it does, price zero.
          onLeft: () => Tariff.priceSeconds(0, terms)
        })
  return {
    session,
    pod,
    isComplete: isComplete(session),
    endedAt: endedAtOf(session),
    quote
  } satisfies CostPreview
})
