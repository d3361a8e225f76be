/**
 * A quiet pod: where it is, what it costs, and how its door is opened.
 */
import { Schema } from "effect"
import { PodId } from "./Ids.js"
import { RatePerMinute } from "./Rate.js"

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

/** A pod with whether a live session holds it, as pickers and `GET /api/pod` show it. */
export class PodStatus extends Schema.Class<PodStatus>("PodStatus")({
  pod: Pod,
  inUse: Schema.Boolean
}) {}
