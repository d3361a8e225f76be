/**
 * The production tree check CI runs (`scripts/check-production-tree.mjs`): it passes on our
 * lockfile and fails, naming the package, on each thing it exists to keep out.
 */
import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"

const root = new URL("../../", import.meta.url).pathname
const script = join(root, "scripts/check-production-tree.mjs")
const run = promisify(execFile)

const dirs: Array<string> = []
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

const check = async (lock: unknown) => {
  const dir = await mkdtemp(join(tmpdir(), "qwip-lock-"))
  dirs.push(dir)
  const path = join(dir, "package-lock.json")
  await writeFile(path, JSON.stringify(lock))
  return run(process.execPath, [script, path]).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stderr: string }) => ({ code: e.code, out: e.stderr })
  )
}

const ours = async () => JSON.parse(await readFile(join(root, "package-lock.json"), "utf8"))

describe("the production dependency tree check", () => {
  it("passes on the committed lockfile", async () => {
    const result = await check(await ours())
    expect(result.out).toMatch(/production dependency tree: \d+ packages, no AI SDK/)
    expect(result.code).toBe(0)
  })

  it("fails on Seam's meta-package and the AI SDKs its CLI brings", async () => {
    const lock = await ours()
    lock.packages["node_modules/seam"] = { version: "1.245.0", bin: { seam: "bin/seam.js" } }
    lock.packages["node_modules/@anthropic-ai/sdk"] = { version: "1.12.0" }
    lock.packages["node_modules/@seamapi/cli"] = { version: "0.42.0" }
    const result = await check(lock)
    expect(result.code).toBe(1)
    expect(result.out).toContain("seam is Seam's meta-package")
    expect(result.out).toContain("@anthropic-ai/sdk is an AI SDK")
    expect(result.out).toContain("@seamapi/cli is another package's command-line tool")
  })

  it("ignores development-only packages", async () => {
    const lock = await ours()
    lock.packages["node_modules/openai"] = { version: "5.0.0", dev: true }
    expect((await check(lock)).code).toBe(0)
  })

  it("fails on an unreviewed command in production, and on a lockfile missing a platform's optional package", async () => {
    const lock = await ours()
    lock.packages["node_modules/left-pad-tool"] = { version: "1.0.0", bin: { lp: "lp.js" } }
    lock.packages["node_modules/native-thing"] = {
      version: "1.0.0",
      optionalDependencies: { "native-thing-darwin-arm64": "1.0.0" }
    }
    const result = await check(lock)
    expect(result.code).toBe(1)
    expect(result.out).toContain("left-pad-tool brings a command (lp)")
    expect(result.out).toContain("the lockfile lacks native-thing-darwin-arm64")
  })
})
