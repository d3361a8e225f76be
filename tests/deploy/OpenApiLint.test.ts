/**
 * `npm run lint:api` (`scripts/lint-openapi.mjs`): Redocly's recommended rules, offline, on the
 * document the service serves. It fails on a warning as on an error, naming the rule; the
 * service's own document passing is `npm test` running it.
 */
import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"

const root = new URL("../../", import.meta.url).pathname
const script = join(root, "scripts/lint-openapi.mjs")
const run = promisify(execFile)

const dirs: Array<string> = []
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

const lint = async (spec: unknown) => {
  const dir = await mkdtemp(join(tmpdir(), "qwip-openapi-test-"))
  dirs.push(dir)
  const path = join(dir, "openapi.json")
  await writeFile(path, JSON.stringify(spec))
  return run(process.execPath, [script, path]).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stderr: string }) => ({ code: e.code, out: e.stderr })
  )
}

/** A document with nothing for the recommended rules to say. */
const clean = () => ({
  openapi: "3.1.0",
  info: {
    title: "t",
    version: "1",
    description: "d",
    license: { name: "Proprietary", identifier: "LicenseRef-Qwip-Proprietary" }
  },
  servers: [{ url: "/" }],
  tags: [{ name: "pods", description: "Pods" }],
  paths: {
    "/api/pods": {
      get: {
        tags: ["pods"],
        operationId: "listPods",
        summary: "List the pods",
        description: "Every pod",
        security: [],
        responses: {
          "200": { description: "Success", content: { "application/json": { schema: { type: "object" } } } },
          "429": { description: "Too many requests" }
        }
      }
    }
  }
})

describe("npm run lint:api", () => {
  it("passes a clean document, fails on a warning alone, and on an error, naming the rule", async () => {
    const passed = await lint(clean())
    expect(passed.out).toContain("no errors, no warnings")
    expect(passed.code).toBe(0)

    const untagged = clean()
    untagged.tags = [{ name: "pods" } as { name: string; description: string }]
    const warned = await lint(untagged)
    expect(warned.out).toContain("warn tag-description")
    expect(warned.out).toContain("0 error(s), 1 warning(s)")
    expect(warned.code).toBe(1)

    const unsummarised = clean()
    const { summary: _, ...operation } = unsummarised.paths["/api/pods"].get
    const failed = await lint({ ...unsummarised, paths: { "/api/pods": { get: operation } } })
    expect(failed.out).toContain("error operation-summary")
    expect(failed.code).toBe(1)
  }, 60_000)
})
