/**
 * A door code. Always digits held as text, so a leading zero survives (`04726`, not `4726`).
 */
import { Schema } from "effect"

export const AccessCode = Schema.String.pipe(
  Schema.pattern(/^\d{4,12}$/, { message: () => "must be 4 to 12 digits" }),
  Schema.brand("AccessCode")
)
export type AccessCode = typeof AccessCode.Type

export const accessCode = (digits: string): AccessCode => Schema.decodeSync(AccessCode)(digits)

/** Today's API returns the code as an integer; `access_code_text` carries the leading zeros. */
export const accessCodeAsInteger = (code: AccessCode): number => Number.parseInt(code, 10)

/** Digits spaced for emails: "0 4 7 2 6". */
export const spacedDigits = (code: AccessCode): string => code.split("").join(" ")

/** Masks all but the last digit, for logs and staff listings: "****6". */
export const maskCode = (code: AccessCode): string => `${"*".repeat(code.length - 1)}${code.slice(-1)}`
