/**
 * `.env.example` lists every setting the code reads, and nothing it does not. A setting is a
 * name read through Effect's `Config` (directly, or through a helper taking the name), or from
 * `process.env`, anywhere in the packages' sources.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = new URL("../../", import.meta.url).pathname

/** Variables of the operating system the code consults, which are not Qwip's settings. */
const AMBIENT = new Map([
  ["USER", "the staff member's login, the default actor name in the CLI's audit rows"],
  ["USERNAME", "the same on Windows"],
  ["NO_COLOR", "the no-color.org convention for terminal output"],
  ["TERM", "whether the terminal can show colour"]
])

/** Node's own error codes, compared against in the sources: SCREAMING_CASE, but not settings. */
const NODE_ERROR_CODE = /^(ERR|HPE)_/

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name))

const settingsReadByCode = (): Map<string, string> => {
  const found = new Map<string, string>()
  const files = ["core", "adapters", "http", "cli"].flatMap((p) => sources(join(root, "packages", p, "src")))
  for (const file of files) {
    // Comments name constants and settings in passing; only code reads settings.
    const text = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "")
    const names = [
      // A quoted SCREAMING_CASE name with an underscore: every one in the sources is a setting.
      ...text.matchAll(/["'`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["'`]/g),
      // Config.string("PORT") and friends, for names without an underscore.
      ...text.matchAll(/Config\.[a-zA-Z]+\(\s*["']([A-Z][A-Z0-9_]*)["']/g),
      ...text.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g),
      ...text.matchAll(/process\.env\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]/g)
    ].map((m) => m[1] as string)
    for (const name of names) {
      if (!found.has(name) && !NODE_ERROR_CODE.test(name)) found.set(name, file.slice(root.length))
    }
  }
  return found
}

const listedInExample = (): Set<string> =>
  new Set(
    [...readFileSync(join(root, ".env.example"), "utf8").matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string)
  )

describe(".env.example", () => {
  const read = settingsReadByCode()
  const listed = listedInExample()

  it("finds the settings the code reads (the scan itself works)", () => {
    for (const name of ["PORT", "DATABASE_URL", "STRIPE_SECRET", "QWIP_DEBUG", "LOG_LEVEL"]) {
      expect(read.has(name), name).toBe(true)
    }
  })

  it("lists every setting the code reads", () => {
    const missing = [...read].filter(([name]) => !listed.has(name) && !AMBIENT.has(name))
    expect(missing.map(([name, file]) => `${name} (read in ${file})`)).toEqual([])
  })

  it("lists nothing the code does not read", () => {
    expect([...listed].filter((name) => !read.has(name))).toEqual([])
  })

  it("keeps today's names (the contract's) first", () => {
    const contract = [
      "STRIPE_SECRET",
      "STRIPE_WEBHOOK_SECRET",
      "SUPABASE_URL",
      "SUPABASE_KEY",
      "RESEND_API_KEY",
      "JWT_SECRET_KEY",
      "SEAM_API_KEY",
      "USE_STATIC_CODES",
      "STATIC_CODE_B64_KEY",
      "PROMO_MODE",
      "LOG_LEVEL"
    ]
    expect([...listed].slice(0, contract.length)).toEqual(contract)
  })
})
