/**
 * Who is named in the audit log and a session's history for a change: staff by the name they
 * give, else the account they are logged in as; the system with its reason; or the customer.
 */
import { Option } from "effect"
import type { Actor } from "../session/Session.js"

/** When no one can be named. */
export const UNKNOWN_STAFF = "unknown"

/**
 * The name staff act under: the one they gave (trimmed), else each of `loggedInAs` in turn
 * (the operating system's user, then its environment), else `unknown`.
 */
export const staffActorName = (
  given: Option.Option<string>,
  loggedInAs: ReadonlyArray<() => string | undefined>
): string => {
  const named = Option.filter(
    Option.map(given, (name) => name.trim()),
    (name) => name !== ""
  )
  if (Option.isSome(named)) return named.value
  for (const lookUp of loggedInAs) {
    const name = (() => {
      try {
        return lookUp()?.trim()
      } catch {
        // An account without a name (a container's numeric uid): try the next way.
        return undefined
      }
    })()
    if (name !== undefined && name !== "") return name
  }
  return UNKNOWN_STAFF
}

/** An actor as staff read it. */
export const describeActor = (actor: Actor): string =>
  actor._tag === "Staff" ? actor.name : actor._tag === "System" ? `system (${actor.reason})` : "customer"
