import { describe, expect, it } from "@effect/vitest"
import type { Device } from "@seamapi/http"
import { Either, Option } from "effect"
import fc from "fast-check"
import { CodeRules } from "../../src/seam/index.js"

const { codeFits, codeLengthFor, codeNameFor, codeRulesFor, lockCodeStatus, pickCode } = CodeRules

type Constraint = CodeRules.CodeConstraint

const lock = (properties: { supported_code_lengths?: Array<number>; code_constraints?: Array<Constraint> }): Device =>
  ({ properties: { online: true, ...properties } }) as unknown as Device

const rulesFor = (device: Device, taken: ReadonlyArray<string> = []) =>
  Either.getOrThrowWith(codeRulesFor(device, taken), (reason) => new Error(reason))

/** A draw that replays `digits` (as indexes into the rules' digits), then fails the test. */
const scripted = (alphabet: string, codes: ReadonlyArray<string>) => {
  const queue = codes.flatMap((code) => [...code].map((d) => alphabet.indexOf(d)))
  return () => {
    const next = queue.shift()
    if (next === undefined) throw new Error("pickCode drew more than the test scripted")
    return next
  }
}

const ALL_CONSTRAINTS: ReadonlyArray<CodeRules.CodeConstraintType> = [
  "no_zeros",
  "cannot_start_with_12",
  "no_triple_consecutive_ints",
  "no_ascending_or_descending_sequence",
  "at_least_three_unique_digits",
  "cannot_contain_089",
  "cannot_contain_0789",
  "unique_first_four_digits",
  "no_all_same_digits"
]

describe("code length", () => {
  it("is 4 digits by default and whenever the lock allows it", () => {
    expect(codeLengthFor(undefined)).toEqual(Either.right(4))
    expect(codeLengthFor([])).toEqual(Either.right(4))
    expect(codeLengthFor([8, 6, 4])).toEqual(Either.right(4))
  })

  it("is the shortest usable length otherwise, and refused when none can be sent", () => {
    expect(codeLengthFor([8, 6, 3])).toEqual(Either.right(6))
    expect(Either.isLeft(codeLengthFor([2, 3, 13]))).toBe(true)
  })
})

describe("picking a code", () => {
  it("skips a draw that is already on the lock and takes the next free one", () => {
    const rules = rulesFor(lock({}), ["4821"])
    expect(pickCode(rules, scripted(rules.digits, ["4821", "7305"]))).toEqual(Option.some("7305"))
  })

  it("skips a code that is a prefix of one on the lock, or has one as its prefix", () => {
    const rules = rulesFor(lock({ supported_code_lengths: [5] }), ["4821", "730591"])
    expect(pickCode(rules, scripted(rules.digits, ["48219", "73059", "61928"]))).toEqual(Option.some("61928"))
  })

  it("never hands out all-same digits or a plain sequence, on any lock", () => {
    const rules = rulesFor(lock({}))
    expect(pickCode(rules, scripted(rules.digits, ["0000", "1234", "9876", "5093"]))).toEqual(Option.some("5093"))
  })

  it("honours each constraint Seam reports", () => {
    const fits = (constraints: Array<CodeRules.CodeConstraintType>, code: string, taken: Array<string> = []) =>
      codeFits(
        rulesFor(lock({ code_constraints: constraints.map((constraint_type) => ({ constraint_type })) }), taken),
        code
      )
    expect(fits(["no_zeros"], "5031")).toBe(false)
    expect(fits(["cannot_start_with_12"], "1297")).toBe(false)
    expect(fits(["no_triple_consecutive_ints"], "5674")).toBe(false)
    expect(fits(["no_triple_consecutive_ints"], "9876")).toBe(false)
    expect(fits(["no_triple_consecutive_ints"], "5684")).toBe(true)
    expect(fits(["at_least_three_unique_digits"], "5855")).toBe(false)
    expect(fits(["cannot_contain_089"], "5381")).toBe(false)
    expect(fits(["cannot_contain_0789"], "5371")).toBe(false)
    expect(fits(["unique_first_four_digits"], "5371", ["53719"])).toBe(false)
    expect(fits([], "5371")).toBe(true)
  })

  it("only draws codes that fit, whatever the lock's rules and codes (property)", () => {
    fc.assert(
      fc.property(
        fc.subarray([...ALL_CONSTRAINTS]),
        fc.subarray([4, 5, 6, 8, 12], { minLength: 1 }),
        fc.array(fc.stringMatching(/^\d{4,8}$/), { maxLength: 30 }),
        (constraints, lengths, taken) => {
          const rules = rulesFor(
            lock({
              supported_code_lengths: lengths,
              code_constraints: constraints.map((constraint_type) => ({ constraint_type }))
            }),
            taken
          )
          const picked = pickCode(rules)
          if (Option.isNone(picked)) return false
          const code = picked.value
          return (
            codeFits(rules, code) &&
            code.length === rules.length &&
            !taken.some((t) => t.startsWith(code) || code.startsWith(t)) &&
            (!constraints.includes("no_zeros") || !code.includes("0")) &&
            (!constraints.includes("cannot_start_with_12") || !code.startsWith("12"))
          )
        }
      ),
      { numRuns: 300 }
    )
  })

  it("gives up, rather than loop, when no code is free", () => {
    const taken = Array.from({ length: 7 ** 4 }, (_, i) =>
      i
        .toString(7)
        .padStart(4, "0")
        .replace(/[0-6]/g, (d) => String(Number(d) + 1))
    )
    const rules = rulesFor(lock({ code_constraints: [{ constraint_type: "cannot_contain_089" }] }), taken)
    expect(rules.digits).toBe("1234567")
    expect(pickCode(rules)).toEqual(Option.none())
  })
})

describe("code names", () => {
  const name = "qwip-6f1c2b9e-4a57-4d0e-9b1a-2c3d4e5f6a7b"

  it("are kept as given when the lock has no name rule", () => {
    expect(codeNameFor(name, [])).toBe(name)
  })

  it("are cut or padded the same way every time for a lock with a length rule", () => {
    expect(codeNameFor(name, [{ constraint_type: "name_length", max_length: 20 }])).toBe("qwip-6f1c2b9e-4a57-4")
    expect(codeNameFor("qwip-1", [{ constraint_type: "name_length", min_length: 8 }])).toBe("qwip-1--")
  })
})

describe("code status", () => {
  const code = (status: "setting" | "set" | "unset" | "removing" | "unknown", errors: Array<string> = []) =>
    lockCodeStatus({
      status,
      errors: errors.map((error_code) => ({ error_code, message: "", is_access_code_error: true })) as never
    })

  it("maps Seam's states to the port's", () => {
    expect(code("set")).toBe("set")
    expect(code("setting")).toBe("setting")
    // A time-bound code Seam has not programmed yet.
    expect(code("unset")).toBe("setting")
    expect(code("removing")).toBe("removing")
    expect(code("unknown")).toBe("unknown")
  })

  it("is failed when Seam gave up on setting it, not for device blips", () => {
    expect(code("setting", ["failed_to_set_on_device"])).toBe("failed")
    expect(code("set", ["duplicate_code_on_device"])).toBe("failed")
    expect(code("setting", ["no_space_for_access_code_on_device"])).toBe("failed")
    expect(code("setting", ["device_offline"])).toBe("setting")
  })
})
