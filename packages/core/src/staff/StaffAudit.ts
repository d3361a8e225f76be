/**
 * The staff audit log: every staff change writes one row (actor, action, the record before
 * and after). Records are plain JSON, also used for the CLI's `--json` output.
 */
import { Effect, Option } from "effect"
import type { PodStatus } from "../Pod.js"
import { StaffStore } from "../ports/StaffStore.js"
import type { Session } from "../session/Session.js"
import { billableStartOf } from "../tariff/Billing.js"
import { formatRate } from "../tariff/Rate.js"

export const iso = (d: Date) => d.toISOString()

/** A pod as JSON, for the audit log and `--json` output. */
export const podRecord = (status: PodStatus) => ({
  id: status.pod.id,
  name: status.pod.name,
  address: status.pod.address,
  rate: formatRate(status.pod.rate),
  lockDeviceId: Option.getOrNull(status.pod.lockDeviceId),
  accessMode: status.pod.accessMode,
  inUse: status.inUse,
  /** Kept in use for a previous session's door code not yet confirmed gone from the lock. */
  codeHold: Option.getOrNull(Option.map(status.codeHold, (h) => ({ sessionId: h.sessionId, since: iso(h.since) })))
})

/** A session's state in short, for the audit log. */
export const sessionRecord = (s: Session) => {
  const state = s.state
  return {
    id: s.id,
    podId: s.podId,
    state: state._tag,
    version: s.version,
    ...(state._tag === "Ending" || state._tag === "Ended"
      ? {
          endedAt: iso(state.endedAt),
          billedFrom: Option.getOrNull(Option.map(billableStartOf(s), iso)),
          chargePence: state.quote.chargePence
        }
      : {}),
    ...(state._tag === "Ended" ? { outcome: state.outcome._tag } : {}),
    ...(state._tag === "Ended" && state.outcome._tag === "NotBilled" ? { notBilled: state.outcome.reason } : {}),
    ...(state._tag === "ProvisioningFailed" ? { failedAt: iso(state.failedAt), reason: state.reason } : {})
  }
}

export const audit = (actor: string, action: string, subject: string | undefined, before: unknown, after: unknown) =>
  Effect.flatMap(StaffStore, (staff) => staff.appendAudit({ actor, action, subject, before, after }))
