/**
 * Staff end a session: at a given time and/or waived with a reason, recorded against their
 * name. A session already ending or ended keeps its recorded end.
 */
import { Effect } from "effect"
import type { SessionId } from "../Ids.js"
import { endSession } from "./SessionEnd.js"

export const endAsStaff = Effect.fn("StaffEnd.endAsStaff")(function* (
  sessionId: SessionId,
  options: { readonly staff: string; readonly at?: Date; readonly waiveReason?: string }
) {
  return yield* endSession(sessionId, {
    by: { _tag: "Staff", name: options.staff },
    ...(options.at === undefined ? {} : { at: options.at }),
    ...(options.waiveReason === undefined ? {} : { waiveReason: options.waiveReason })
  })
})
