#!/usr/bin/env node
/**
 * Lints the OpenAPI document the service serves at /openapi.json against Redocly's recommended
 * rules (`npm run lint:api`). The document is made by the built @qwip/http (`tsc -b` first) with
 * the function the server's `/openapi.json` route calls, `OpenApi.fromApi` on `QwipApi`: no
 * server, store or network is needed. Fails on any error and on any warning, naming each.
 * `node scripts/lint-openapi.mjs FILE` lints FILE instead (how its own test shows a failure).
 *
 * Redocly runs offline: no usage data (REDOCLY_TELEMETRY=off), no update check or notices, in an
 * empty temporary directory so no redocly.yaml of anyone's is picked up.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"

const require = createRequire(import.meta.url)

/** The document /openapi.json serves. */
export const servedSpec = async () => {
  const { OpenApi } = await import("@effect/platform")
  const { QwipApi } = await import("@qwip/http")
  return OpenApi.fromApi(QwipApi)
}

const redocly = join(dirname(require.resolve("@redocly/cli/package.json")), "bin", "cli.js")

const lint = (file, cwd) => {
  const run = spawnSync(
    process.execPath,
    [redocly, "lint", file, "--extends", "recommended", "--format", "json", "--lint-config", "off"],
    {
      cwd,
      encoding: "utf8",
      env: {
        ...process.env,
        REDOCLY_TELEMETRY: "off",
        REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
        REDOCLY_SUPPRESS_NOTIFICATIONS: "true"
      }
    }
  )
  if (run.error !== undefined) throw run.error
  // Exit code 1 only says there were errors; the JSON report says what, warnings included.
  const start = run.stdout.indexOf("{")
  if (start === -1) {
    throw new Error(`redocly gave no report (exit ${run.status}):\n${run.stdout}\n${run.stderr}`)
  }
  return JSON.parse(run.stdout.slice(start))
}

const main = async (given) => {
  const dir = mkdtempSync(join(tmpdir(), "qwip-openapi-"))
  try {
    const file = given === undefined ? join(dir, "openapi.json") : resolve(given)
    if (given === undefined) writeFileSync(file, `${JSON.stringify(await servedSpec(), null, 2)}\n`)
    const report = lint(file, dir)
    const problems = report.problems ?? []
    for (const p of problems) {
      const where = (p.location ?? []).map((l) => l.pointer).join(", ")
      console.error(`${p.severity} ${p.ruleId}: ${p.message}${where === "" ? "" : ` (${where})`}`)
    }
    const { errors = 0, warnings = 0 } = report.totals ?? {}
    const name = given ?? "openapi.json"
    if (errors + warnings > 0 || problems.length > 0) {
      console.error(`${name}: ${errors} error(s), ${warnings} warning(s) under Redocly's recommended rules`)
      process.exitCode = 1
    } else {
      console.log(`${name}: no errors, no warnings under Redocly's recommended rules`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main(process.argv[2])
