/**
 * A quiet pod: where it is, what it costs, and how its door is opened.
 */
import { Option, Schema } from "effect"
import { PodId, SessionId } from "./Ids.js"
import { RatePerMinute } from "./tariff/Rate.js"

/**
 * How a pod's door codes are made: `static` picks from the pod's fixed list of codes;
 * `lock-provider` programs a time-bound code on the pod's smart lock (Seam).
 */
export const AccessMode = Schema.Literal("static", "lock-provider")
export type AccessMode = typeof AccessMode.Type

export class Pod extends Schema.Class<Pod>("Pod")({
  id: PodId,
  name: Schema.String,
  address: Schema.String,
  rate: RatePerMinute,
  /** The lock provider's device id; required in `lock-provider` mode. */
  lockDeviceId: Schema.OptionFromNullOr(Schema.String),
  accessMode: AccessMode
}) {}

/**
 * A pod kept in use after its session stopped holding it, because that session's door code
 * is not yet confirmed gone from the lock: the previous customer could still open the door.
 */
export class CodeHold extends Schema.Class<CodeHold>("CodeHold")({
  sessionId: SessionId,
  /** When the session stopped holding the pod (its close, or its failed provisioning). */
  since: Schema.Date
}) {}

/**
 * A pod with whether it is in use, as pickers and `GET /api/pod` show it: held by a live
 * session, or by a previous session's door code still on the lock (`codeHold`).
 */
export class PodStatus extends Schema.Class<PodStatus>("PodStatus")({
  pod: Pod,
  inUse: Schema.Boolean,
  codeHold: Schema.optionalWith(Schema.OptionFromNullOr(CodeHold), { default: () => Option.none() })
}) {}
