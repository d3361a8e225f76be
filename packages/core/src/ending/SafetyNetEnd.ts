/**
 * The safety net: a `close-session` work item, queued when an end fixes its price, finishes
 * an end whose request was interrupted before it closed (a crash, a lost instance).
 */
import { Effect } from "effect"
import type { SessionId } from "../Ids.js"
import { loadSession } from "../session/SessionSteps.js"
import { finishEnding } from "./SessionEnd.js"

export const finishInterruptedEnd = Effect.fn("SafetyNetEnd.finishInterruptedEnd")(function* (sessionId: SessionId) {
  return yield* finishEnding(yield* loadSession(sessionId))
})
