/**
 * Runs an effect with its `Console` captured: what it logged (`log`, `info`) and what it
 * reported (`error`, `warn`), each as one string of lines. For commands run in process.
 */
import { type Console, Effect } from "effect"

export interface Captured<A> {
  readonly value: A
  readonly stdout: string
  readonly stderr: string
}

export const captureConsole = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<Captured<A>, E, R> =>
  Effect.gen(function* () {
    const out: Array<string> = []
    const err: Array<string> = []
    const base = yield* Effect.console
    const capture: Console.Console = {
      ...base,
      log: (...xs) => Effect.sync(() => void out.push(xs.join(" "))),
      info: (...xs) => Effect.sync(() => void out.push(xs.join(" "))),
      error: (...xs) => Effect.sync(() => void err.push(xs.join(" "))),
      warn: (...xs) => Effect.sync(() => void err.push(xs.join(" ")))
    }
    const value = yield* Effect.withConsole(self, capture)
    return { value, stdout: out.join("\n"), stderr: err.join("\n") }
  })
