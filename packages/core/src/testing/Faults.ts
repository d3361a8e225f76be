/**
 * Failure switches shared by the test doubles: arm an operation to fail the next N times,
 * either before it takes effect (the request never landed) or after (it landed, but the
 * caller never heard back: a crash or a lost response).
 */
export type FaultTiming = "before" | "after"

export interface Faults<Op extends string> {
  /** After `skip` more calls of `op` succeed, the next `times` calls fail at `timing`. */
  readonly arm: (op: Op, timing: FaultTiming, options?: { readonly times?: number; readonly skip?: number }) => void
  /** Clears every armed failure. */
  readonly clear: () => void
  /** Consumes one armed failure for `op` at `timing`, if any. */
  readonly take: (op: Op, timing: FaultTiming) => boolean
}

export const makeFaults = <Op extends string>(): Faults<Op> => {
  // Per operation and timing: calls still to let through, then calls to fail.
  const armed = new Map<string, { skip: number; times: number }>()
  const id = (op: Op, timing: FaultTiming) => `${op}:${timing}`
  return {
    arm: (op, timing, options = {}) =>
      armed.set(id(op, timing), { skip: options.skip ?? 0, times: options.times ?? 1 }),
    clear: () => armed.clear(),
    take: (op, timing) => {
      const entry = armed.get(id(op, timing))
      if (entry === undefined || entry.times <= 0) return false
      if (entry.skip > 0) {
        entry.skip--
        return false
      }
      entry.times--
      return true
    }
  }
}

/** A simulated crash: what a lost connection or killed process looks like to the caller. */
export class InjectedFault extends Error {
  constructor(
    readonly operation: string,
    readonly timing: FaultTiming
  ) {
    super(`injected fault ${timing} ${operation}`)
    this.name = "InjectedFault"
  }
}
