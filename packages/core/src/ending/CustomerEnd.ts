/**
 * The customer ends their own session (the app's "end session" button). Unlike a staff or
 * safety-net end, it refuses a session that has already ended (its token reads the session
 * but causes nothing new) and, when the policy requires it, a session without a checkout photo.
 * The customer waits for the charge at most the policy's `customerWait`: past it the session is
 * ended with the charge's outcome unknown, settled in the background (the receipt follows).
 */
import { Effect } from "effect"
import type { SessionId } from "../Ids.js"
import { Policy } from "../Policy.js"
import { loadSession } from "../session/SessionSteps.js"
import { ensurePhotoIfRequired, requireRunning } from "./CheckoutPhoto.js"
import { endSession } from "./SessionEnd.js"

export const endAsCustomer = Effect.fn("CustomerEnd.endAsCustomer")(function* (sessionId: SessionId) {
  const session = yield* loadSession(sessionId)
  // An end already under way (a retry after a lost response) is finished, not refused.
  if (session.state._tag !== "Ending") {
    yield* requireRunning(session)
    yield* ensurePhotoIfRequired(sessionId)
  }
  const { customerWait } = yield* Policy
  return yield* endSession(sessionId, { waitAtMost: customerWait })
})
