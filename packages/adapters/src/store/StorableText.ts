/**
 * Text every store can keep. Postgres (and so PGlite and Supabase) refuses U+0000 in `text` and
 * `jsonb`, and an unpaired UTF-16 surrogate cannot be encoded as UTF-8. Input is checked against
 * this at the edge (the HTTP input guard, the webhook's signed body), so such text is a client's
 * mistake answered 4xx, never a store fault.
 */
import { Option } from "effect"

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** No NUL character and no unpaired surrogate. */
export const isStorableText = (text: string): boolean => !text.includes("\u0000") && !UNPAIRED_SURROGATE.test(text)

/**
 * The path (keys and array indexes) to the first key or string in a parsed JSON value that is
 * not storable text; `[]` when the value itself is such a string. Callers bound the depth first.
 */
export const firstUnstorableIn = (value: unknown): Option.Option<ReadonlyArray<string>> => {
  const walk = (v: unknown, at: ReadonlyArray<string>): Option.Option<ReadonlyArray<string>> => {
    if (typeof v === "string") return isStorableText(v) ? Option.none() : Option.some(at)
    if (typeof v !== "object" || v === null) return Option.none()
    const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v)
    for (const [key, child] of entries) {
      if (!isStorableText(key)) return Option.some([...at, key])
      const found = walk(child, [...at, key])
      if (Option.isSome(found)) return found
    }
    return Option.none()
  }
  return walk(value, [])
}
