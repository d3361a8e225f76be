/**
 * What a door code on one Seam lock may be: its length, the digits and patterns the lock's
 * constraints allow, no clash with the codes already on it (a keypad opens on the first matching
 * digits), a name the lock accepts, and what Seam's code states mean in the port's words. Pure:
 * the calls to Seam are `SeamLockAccess`'s.
 */
import { randomInt } from "node:crypto"
import type { LockCodeStatus } from "@qwip/core"
import type { Device, AccessCode as SeamAccessCode } from "@seamapi/http"
import { Either, Option } from "effect"

/** The contract's code length; used whenever the lock allows it. */
export const DEFAULT_CODE_LENGTH = 4

export type CodeConstraint = NonNullable<Device["properties"]["code_constraints"]>[number]
export type CodeConstraintType = CodeConstraint["constraint_type"]

/** What a new code on one lock must satisfy, from what Seam reports about the device. */
export interface CodeRules {
  readonly length: number
  /** The digits the lock accepts. */
  readonly digits: string
  readonly constraints: ReadonlySet<CodeConstraintType>
  /** Codes already on the lock (Seam-managed or not); a new code must not clash with them. */
  readonly taken: ReadonlySet<string>
  /** Every leading part of a code on the lock, so a clash is one lookup. */
  readonly takenPrefixes: ReadonlySet<string>
  readonly takenFirstFour: ReadonlySet<string>
}

const ALL_DIGITS = "0123456789"

/** Digits a constraint forbids anywhere in the code. */
const FORBIDDEN_DIGITS: Partial<Record<CodeConstraintType, string>> = {
  no_zeros: "0",
  cannot_contain_089: "089",
  cannot_contain_0789: "0789"
}

/** Constraints under which the lock (or Seam) picks the digits, so we must not send a code. */
export const LOCK_CHOOSES_DIGITS: ReadonlyArray<CodeConstraintType> = [
  "cannot_specify_pin_code",
  "pin_code_matches_existing_set"
]

export const constraintsOf = (device: Device): ReadonlyArray<CodeConstraint> => device.properties.code_constraints ?? []

/**
 * The code length for a lock: 4 digits when the lock allows them (or reports nothing), else the
 * shortest length it supports that a customer can be sent (4 to 12 digits). `Left` says why none fits.
 */
export const codeLengthFor = (supported: ReadonlyArray<number> | undefined): Either.Either<number, string> => {
  if (supported === undefined || supported.length === 0) return Either.right(DEFAULT_CODE_LENGTH)
  const usable = supported.filter((n) => Number.isInteger(n) && n >= 4 && n <= 12).sort((a, b) => a - b)
  if (usable.includes(DEFAULT_CODE_LENGTH)) return Either.right(DEFAULT_CODE_LENGTH)
  const shortest = usable[0]
  return shortest === undefined
    ? Either.left(`the lock only takes codes of ${supported.join(", ")} digits; Qwip sends 4 to 12`)
    : Either.right(shortest)
}

export const codeRulesFor = (device: Device, taken: ReadonlyArray<string>): Either.Either<CodeRules, string> =>
  Either.map(codeLengthFor(device.properties.supported_code_lengths), (length) => {
    const constraints = new Set(constraintsOf(device).map((c) => c.constraint_type))
    const forbidden = [...constraints].map((c) => FORBIDDEN_DIGITS[c] ?? "").join("")
    return {
      length,
      digits: [...ALL_DIGITS].filter((d) => !forbidden.includes(d)).join(""),
      constraints,
      taken: new Set(taken),
      takenPrefixes: new Set(taken.flatMap((t) => Array.from({ length: t.length }, (_, i) => t.slice(0, i + 1)))),
      takenFirstFour: new Set(taken.map((t) => t.slice(0, 4)))
    }
  })

/** True when some three adjacent digits step by +1 or -1 (`123`, `987`). */
const hasConsecutiveTriple = (code: string): boolean => {
  for (let i = 0; i + 2 < code.length; i++) {
    const [a, b, c] = [Number(code[i]), Number(code[i + 1]), Number(code[i + 2])]
    if ((b - a === 1 && c - b === 1) || (a - b === 1 && b - c === 1)) return true
  }
  return false
}

/** True when the whole code steps by +1 or -1 (`1234`, `4321`). */
const isSequence = (code: string): boolean => {
  const steps = [...code].slice(1).map((d, i) => Number(d) - Number(code[i]))
  return steps.every((s) => s === 1) || steps.every((s) => s === -1)
}

/** Whether `candidate` may go on the lock under `rules`. */
export const codeFits = (rules: CodeRules, candidate: string): boolean => {
  if (candidate.length !== rules.length || ![...candidate].every((d) => rules.digits.includes(d))) return false
  const unique = new Set(candidate).size
  const has = (c: CodeConstraintType) => rules.constraints.has(c)
  // Qwip's own floor on every lock: never hand out `0000` or `1234`, the first codes anyone tries.
  if (unique === 1 || isSequence(candidate)) return false
  if (has("cannot_start_with_12") && candidate.startsWith("12")) return false
  if (has("no_triple_consecutive_ints") && hasConsecutiveTriple(candidate)) return false
  if (has("at_least_three_unique_digits") && unique < 3) return false
  if (has("unique_first_four_digits") && rules.takenFirstFour.has(candidate.slice(0, 4))) return false
  // A keypad opens on the first matching digits, so a code that is a prefix of another clashes too.
  if (rules.takenPrefixes.has(candidate)) return false
  for (let end = 1; end < candidate.length; end++) if (rules.taken.has(candidate.slice(0, end))) return false
  return true
}

/** Random draws before counting what is left: plenty while a lock has room. */
const MAX_DRAWS = 1_000
/** Small enough to list every candidate when random draws keep hitting used codes. */
const MAX_ENUMERATED = 1_000_000

/**
 * A fresh code for the lock, drawn uniformly from a cryptographic source (`draw(n)` is in
 * `[0, n)`), or `None` when no free code fits. A nearly full lock is searched exhaustively, so
 * `None` means full, not unlucky.
 */
export const pickCode = (
  rules: CodeRules,
  draw: (bound: number) => number = (bound) => randomInt(bound)
): Option.Option<string> => {
  const base = rules.digits.length
  if (base === 0) return Option.none()
  const spell = (pick: (position: number) => number) => {
    let candidate = ""
    for (let i = 0; i < rules.length; i++) candidate += rules.digits[pick(i)] ?? ""
    return candidate
  }
  for (let attempt = 0; attempt < MAX_DRAWS; attempt++) {
    const candidate = spell(() => draw(base))
    if (codeFits(rules, candidate)) return Option.some(candidate)
  }
  const space = base ** rules.length
  if (space > MAX_ENUMERATED) return Option.none()
  const free: Array<string> = []
  for (let n = 0; n < space; n++) {
    const candidate = spell((i) => Math.floor(n / base ** (rules.length - 1 - i)) % base)
    if (codeFits(rules, candidate)) free.push(candidate)
  }
  return free.length === 0 ? Option.none() : Option.fromNullable(free[draw(free.length)])
}

/**
 * The name the code carries on this lock: as given, unless the lock reports a name length rule;
 * then cut or padded the same way every time, so a retried creation finds the same name.
 */
export const codeNameFor = (name: string, constraints: ReadonlyArray<CodeConstraint>): string => {
  const rule = constraints.find((c) => c.constraint_type === "name_length")
  let fitted = name
  if (rule?.max_length !== undefined && fitted.length > rule.max_length) fitted = fitted.slice(0, rule.max_length)
  if (rule?.min_length !== undefined && fitted.length < rule.min_length) fitted = fitted.padEnd(rule.min_length, "-")
  return fitted
}

// Errors that mean Seam has given up on putting this code on the lock. Device-level errors
// (offline, hub disconnected, provider issue) are not here: Seam keeps trying after those.
const FAILED_TO_SET = new Set<string>([
  "failed_to_set_on_device",
  "duplicate_code_on_device",
  "no_space_for_access_code_on_device",
  "code_constraints_violated",
  "failed_to_issue"
])

/**
 * Seam's code state in the port's words. Warnings never fail a code (they report delays and
 * notes); `unset` on a new time-bound code means Seam has not programmed it yet.
 */
export const lockCodeStatus = (code: Pick<SeamAccessCode, "status" | "errors">): LockCodeStatus => {
  if (code.errors.some((e) => FAILED_TO_SET.has(e.error_code))) return "failed"
  switch (code.status) {
    case "set":
      return "set"
    case "setting":
    case "unset":
      return "setting"
    case "removing":
      return "removing"
    default:
      return "unknown"
  }
}
