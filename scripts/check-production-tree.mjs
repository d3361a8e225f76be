#!/usr/bin/env node
/**
 * Guards what production installs (`npm ci --omit=dev`), read from package-lock.json:
 * - no AI SDK and no other package's command-line tool in the production tree: a service that
 *   holds door codes and charges cards ships only what it runs;
 * - a production package that brings a command (`bin`) must be on the reviewed list below;
 * - every platform's optional package is in the lockfile, so `npm ci` accepts it on any host
 *   (a lockfile made where a registry lacked some is refused as "out of sync").
 * Prints the production package count; exits 1 naming each problem.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** Package names that must never be installed in production. */
const FORBIDDEN = [
  { pattern: /^@anthropic-ai\//, why: "an AI SDK" },
  { pattern: /^openai$/, why: "an AI SDK" },
  { pattern: /^@openai\//, why: "an AI SDK" },
  { pattern: /^@google\/genai$/, why: "an AI SDK" },
  { pattern: /^@google\/generative-ai$/, why: "an AI SDK" },
  { pattern: /^@modelcontextprotocol\//, why: "an AI tool protocol SDK" },
  { pattern: /^@earendil-works\//, why: "an AI coding agent" },
  { pattern: /^ai$/, why: "an AI SDK" },
  { pattern: /^@ai-sdk\//, why: "an AI SDK" },
  { pattern: /^(@[^/]+\/)?(cli|wizard)$/, why: "another package's command-line tool" },
  { pattern: /^(@[^/]+\/)?[^/]+-cli$/, why: "another package's command-line tool" },
  { pattern: /^seam$/, why: "Seam's meta-package (its CLI and wizard); use @seamapi/http" }
]

/** Names the patterns above would catch that are libraries we build on, each with why. */
const ALLOWED = new Map([["@effect/cli", "the library the qwip staff CLI is written with, not a tool"]])

/** Production packages whose `bin` we reviewed: a helper script, not a tool we ship. */
const REVIEWED_BINS = new Map([
  ["mime", "its MIME lookup; @effect/platform-node uses the library"],
  ["uuid", "its id generator; @effect/sql uses the library"],
  ["msgpackr-extract", "its prebuild downloader, never run; msgpackr uses the native addon"],
  ["node-gyp-build-optional-packages", "the native addon loader's build helpers, never run"],
  ["yaml", "its YAML linter; @effect/cli uses the library for config files"]
])

const nameOf = (path) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)

export const checkLockfile = (lock) => {
  const packages = lock.packages ?? {}
  const installed = Object.entries(packages).filter(([path]) => path.includes("node_modules/"))
  const present = new Set(installed.map(([path]) => nameOf(path)))
  const production = installed.filter(([, entry]) => !entry.dev && !entry.devOptional && !entry.link)
  const problems = []
  for (const [path, entry] of production) {
    const name = nameOf(path)
    const forbidden = ALLOWED.has(name) ? undefined : FORBIDDEN.find((f) => f.pattern.test(name))
    if (forbidden !== undefined) problems.push(`${name} is ${forbidden.why} (${path})`)
    else if (entry.bin !== undefined && !REVIEWED_BINS.has(name)) {
      problems.push(`${name} brings a command (${Object.keys(entry.bin).join(", ")}): review it, then list it here`)
    }
  }
  for (const [path, entry] of Object.entries(packages)) {
    for (const dependency of Object.keys(entry.optionalDependencies ?? {})) {
      if (!present.has(dependency)) {
        problems.push(
          `the lockfile lacks ${dependency} (optional for ${path || "the root"}): run npm install --package-lock-only`
        )
      }
    }
  }
  return { productionPackages: production.length, problems }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const lockPath = process.argv[2] ?? "package-lock.json"
  const { productionPackages, problems } = checkLockfile(JSON.parse(readFileSync(lockPath, "utf8")))
  if (problems.length > 0) {
    console.error(`production dependency tree: ${problems.length} problem(s)`)
    for (const problem of problems) console.error(`- ${problem}`)
    process.exit(1)
  }
  console.log(`production dependency tree: ${productionPackages} packages, no AI SDK, no other package's CLI`)
}
